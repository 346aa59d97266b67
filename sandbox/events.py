"""What a run tells the sockets that show it: events on the run's channel-layer group, which any
web worker's socket may join (output frames also go to the run log, sandbox/runlog.py).

Each event carries what a socket shows, so no socket reads the run's row for it:
- `run.output`: a frame of one pane's output (seq, pane, text, dropped);
- `run.pane`: a pane that ran in turn finished (its heading: exit code, seconds);
- `run.status`: the run's status line changed (a RunStatus: it runs now);
- `run.ended`: the run ended: its final RunStatus, its saved panes, and the HTML the apps add
  at the end (the exercise's verdict, rendered once by the follower instead of once per socket).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

if TYPE_CHECKING:
    from sandbox.models import Run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunStatus:
    """What a run panel's status line shows (templates/sandbox/run_panel.html#status)."""

    id: str
    state: str
    timeout_seconds: int
    exit_code: int | None = None
    duration_seconds: float | None = None
    message: str = ""
    transcript_dropped_bytes: int = 0

    @classmethod
    def of(cls, run: Run) -> RunStatus:
        return cls(
            id=str(run.id),
            state=str(run.state),
            timeout_seconds=run.timeout_seconds,
            exit_code=run.exit_code,
            duration_seconds=run.duration_seconds,
            message=str(run.message or ""),
            transcript_dropped_bytes=run.transcript_dropped_bytes,
        )

    @classmethod
    def of_event(cls, event: dict) -> RunStatus:
        return cls(**event["status"])


@dataclass(frozen=True)
class RunEnded:
    """A run's end as its sockets show it."""

    status: RunStatus
    panes: list[dict]
    extra: str = ""  # the apps' end fragments (sandbox.hooks.end_fragments)

    @classmethod
    def of(cls, run: Run, extra: str = "") -> RunEnded:
        return cls(RunStatus.of(run), list(run.panes or []), extra)

    @classmethod
    def of_event(cls, event: dict) -> RunEnded:
        return cls(RunStatus.of_event(event), event["panes"], event.get("extra", ""))


def run_group(run_id) -> str:
    return f"run_{run_id}"


async def publish_run(run_id: str, event: dict) -> None:
    try:
        await get_channel_layer().group_send(run_group(run_id), event)
    except Exception as error:
        # The channel layer (Redis) is away: the run goes on, and its output is in the log and
        # the follower's transcript; sockets reconnect and read the snapshot.
        log.warning("run %s: could not publish %s (%s)", run_id, event["type"], error)


async def run_status(run: Run) -> None:
    """Tell the run's sockets its status line changed."""
    await publish_run(str(run.id), {"type": "run.status", "status": asdict(RunStatus.of(run))})


async def run_ended(ended: RunEnded) -> None:
    """Tell the run's sockets it ended, with everything they show of the end."""
    event = {"type": "run.ended", "status": asdict(ended.status), "panes": ended.panes}
    await publish_run(ended.status.id, {**event, "extra": ended.extra})
