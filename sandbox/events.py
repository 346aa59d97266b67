"""What a run tells the sockets that show it: events on the run's channel-layer group, which any
web worker's socket may join (output frames also go to the run log, sandbox/runlog.py).

- `run.output`: a frame of one pane's output (seq, pane, text, dropped);
- `run.pane`: a pane that ran in turn finished (its heading: exit code, seconds);
- `run.status`: the run is running (the socket reads the row for what to show);
- `run.ended`: the run ended (the transcript and verdict are in the database).
"""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def run_group(run_id) -> str:
    return f"run_{run_id}"


async def publish_run(run_id: str, event: dict) -> None:
    try:
        await get_channel_layer().group_send(run_group(run_id), event)
    except Exception as error:
        # The channel layer (Redis) is away: the run goes on, and its output is in the log and
        # the follower's transcript; sockets reconnect and read the snapshot.
        log.warning("run %s: could not publish %s (%s)", run_id, event["type"], error)


async def run_ended(run_id: str) -> None:
    """Tell the run's sockets it ended (they read the result from the database)."""
    await publish_run(run_id, {"type": "run.ended"})
