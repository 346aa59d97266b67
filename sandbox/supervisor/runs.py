"""A run's life: create its hardened containers, stream their output, enforce the time limit,
keep the transcript, remove what it made.

A run has one or more containers ("panes", each with its own output): one alone; several
together on the run's private network, the run ending when the main one exits; or the same
command several times, one container after another, each timed.

Web code calls `start_run` and `stop_run` (sandbox/api/runs.py): they check and record in the
database, then ask the sandbox supervisor (sandbox/seam.py) to follow or stop the run: inside
this process by default, or in `manage.py sandbox_supervisor` when scaled out. The follower is an
asyncio task; the blocking Docker calls go to worker threads, and each attach stream is read by
a thread of its own (`_pump`). Every frame goes to the run log (sandbox/runlog.py), then to the
run's channel-layer group, so any web worker's socket can show it.

Over 400 lines for a reason: a run's whole follow (start, relay, time limit, stop, finish) is
one story around one table, the supervisor's `SUPERVISED.runs` (sandbox/supervisor/state.py).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import engine, events, hooks, runlog
from sandbox.api import queue as runqueue
from sandbox.api import runs as api_runs
from sandbox.api.runs import ENGINE_DOWN_MESSAGE
from sandbox.images import LAB_IMAGES
from sandbox.models import QueuedRun, Run
from sandbox.specs import Part, RunSpec
from sandbox.supervisor import hosts, pool
from sandbox.supervisor.pipe import OutputPipe
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger(__name__)

# Frames to the browser: at most one per FRAME_SECONDS per pane, at most FRAME_BYTES each.
FRAME_SECONDS = 0.05
FRAME_BYTES = 64 * 1024

ENGINE_ERROR_MESSAGE = gettext_lazy(
    "실습 컨테이너에 문제가 생겨서 실행을 끝내지 못했어요. 다시 실행해 주세요. "
    "계속되면 선생님께 알려 주세요."
)


@dataclass
class Pane:
    """One container's output as this process has seen it."""

    name: str
    text: list[str] = field(default_factory=list)
    kept_bytes: int = 0
    dropped_bytes: int = 0
    exit_code: int | None = None
    seconds: float | None = None

    def keep(self, text: str, dropped: int) -> tuple[str, int]:
        """Append up to the transcript cap; return what was kept and what was dropped."""
        room = settings.SANDBOX_TRANSCRIPT_BYTES - self.kept_bytes
        encoded = text.encode()
        if len(encoded) > room:
            text = encoded[: max(room, 0)].decode(errors="ignore")
            dropped += len(encoded) - len(text.encode())
        self.text.append(text)
        self.kept_bytes += len(text.encode())
        self.dropped_bytes += dropped
        return text, dropped

    def transcript(self) -> str:
        return "".join(self.text)

    def head(self) -> dict:
        """What a pane's heading shows (its output travels apart)."""
        return {
            "name": self.name,
            "dropped_bytes": self.dropped_bytes,
            "exit_code": self.exit_code,
            "seconds": self.seconds,
        }

    def saved(self) -> dict:
        return {**self.head(), "transcript": self.transcript()}


@dataclass
class _Made:
    """What a run made on the engine, so that it is removed whatever happens."""

    containers: list[str] = field(default_factory=list)
    network: str | None = None
    # Holds the run's volume mounted between parts run in turn (see _keep_volume).
    keeper: str | None = None
    streams: list[engine.OutputStream] = field(default_factory=list)


@dataclass
class LiveRun:
    """What this process knows of a run it follows: its output for listeners that join late,
    and what it made on the engine, so that it can be stopped and cleaned up."""

    run_id: str
    panes: list[Pane]
    engine: str = ""  # the engine it runs on ("" for the default; see sandbox/supervisor/hosts.py)
    seq: int = 0
    made: _Made = field(default_factory=lambda: _Made())
    stopped_because: str = ""

    def saved_panes(self) -> list[dict]:
        return [pane.saved() for pane in self.panes]


# Runs followed by this process, by id. Entries leave once the transcript is saved.
_TASKS: set[asyncio.Task] = set()


async def on_start(run_id: str, spec: dict) -> None:
    """Start following a run the web side recorded (sandbox/api/runs.py, hand_over)."""
    wanted = RunSpec.from_data(spec)
    run = await Run.objects.filter(pk=run_id, state__in=Run.LIVE_STATES).afirst()
    if run is None or run_id in SUPERVISED.runs:
        return  # given up on meanwhile, or a repeated request
    live = SUPERVISED.runs[run_id] = LiveRun(
        run_id, [Pane(part.name) for part in wanted.containers()]
    )
    live.engine = await hosts.choose(Counter(other.engine for other in SUPERVISED.runs.values()))
    task = asyncio.get_running_loop().create_task(_follow(run, wanted))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def on_stop(run_id: str, because: str) -> bool:
    live = SUPERVISED.runs.get(str(run_id))
    if live is None:
        return False
    live.stopped_because = because
    # Streams first, then the containers: the follower sees the end and finishes as usual.
    for stream in live.made.streams:
        stream.close()
    for container_id in list(live.made.containers):
        await asyncio.to_thread(engine.kill, container_id)
    return True


async def _follow(run: Run, spec: RunSpec) -> None:
    run_id = str(run.id)
    live = SUPERVISED.runs[run_id]
    engine.bind(live.engine)  # every engine call of this task (and its threads) goes there
    made = live.made
    deadline = time.monotonic() + run.timeout_seconds
    try:
        if spec.one_after_another:
            finished = await _in_turn(run, spec, live, made, deadline)
        else:
            finished = await _together(run, spec, live, made, deadline)
        parts = spec.containers()
        main = next(i for i, part in enumerate(parts) if part.main) if spec.parts else 0
        states = [await asyncio.to_thread(engine.exit_state, cid) for cid in made.containers]
        for pane, state in zip(live.panes, states, strict=False):
            pane.exit_code = state.exit_code
        run.state = Run.State.EXITED if finished else Run.State.TIMED_OUT
        if live.stopped_because:
            run.state, run.message = Run.State.STOPPED, live.stopped_because
        if spec.one_after_another:
            codes = [state.exit_code for state in states]
            run.exit_code = next((code for code in codes if code), codes[-1] if codes else None)
        else:
            run.exit_code = states[main].exit_code
        run.oom_killed = any(state.oom_killed for state in states)
        if not finished and not live.stopped_because:
            run.message = _("시간 제한({n}초)을 넘겨서 컨테이너를 멈췄어요.").format(
                n=run.timeout_seconds
            )
        elif run.oom_killed and not live.stopped_because:
            run.message = _("메모리 제한을 넘겨서 커널이 프로세스를 강제로 끝냈어요(OOM).")
    except engine.EngineUnavailable:
        log.warning("run %s: engine %r unavailable", run_id, live.engine)
        hosts.failed(live.engine)
        run.state, run.message = Run.State.FAILED, str(ENGINE_DOWN_MESSAGE)
    except engine.EngineError as error:
        log.warning("run %s: engine error: %s", run_id, error)
        run.state, run.message = Run.State.FAILED, str(ENGINE_ERROR_MESSAGE)
        run.detail = str(error)[:500]
    except Exception:
        log.exception("run %s failed", run_id)
        run.state, run.message = Run.State.FAILED, _("실행 중에 예기치 못한 문제가 생겼어요.")
        raise
    finally:
        for stream in made.streams:
            stream.close()
        await _finish(run, live, made)


async def _prepare(run_id, spec: RunSpec, part: Part, network: str | None, made: _Made):
    volume = None
    if spec.volume:
        volume = _volume_name(spec)
        await asyncio.to_thread(engine.ensure_volume, volume)
    container_id = await asyncio.to_thread(
        engine.create_container,
        engine.ContainerSpec(
            spec.image,
            part.command,
            run_id,
            memory=spec.memory,
            network=network,
            hostname=part.name if network else None,
            volume=volume,
        ),
    )
    made.containers.append(container_id)
    stream = await asyncio.to_thread(engine.attach, container_id)
    made.streams.append(stream)
    return container_id, stream


async def _mark_running(run: Run, container_id: str) -> None:
    run.state, run.started_at = Run.State.RUNNING, timezone.now()
    run.container_id = container_id
    await run.asave(update_fields=["container_id", "state", "started_at"])
    await events.run_status(run)
    # Beside the output, not before it: the hooks (dashboards told) wait for the database's
    # thread, which a class pressing at once keeps busy, and the first line need not wait.
    _spawn(_run_start_hooks(run))


async def _run_start_hooks(run: Run) -> None:
    try:
        await database_sync_to_async(hooks.run_started)(run)
    except Exception:
        log.exception("run %s: a start hook failed", run.id)


async def _together(run: Run, spec: RunSpec, live: LiveRun, made: _Made, deadline: float) -> bool:
    """Start every part at once; return False if the deadline passed before the main one ended."""
    run_id = str(run.id)
    parts = spec.containers()
    main = next(i for i, part in enumerate(parts) if part.main)
    warm = await _warm_container(spec)
    if warm is not None:
        # Already created, attached and started: it only needs its command.
        made.containers.append(warm.container_id)
        made.streams.append(warm.stream)
        prepared = [(warm.container_id, warm.stream)]
        if live.stopped_because:
            return True
        try:
            await asyncio.to_thread(warm.run, parts[0].command)
        except OSError as error:  # it died after the check: this press goes the cold way
            log.info("run %s: warm container lost (%s); starting cold", run_id, error)
            warm.stream.close()
            made.streams.remove(warm.stream)
            warm = None
    if warm is None:
        if len(parts) > 1:
            made.network = await asyncio.to_thread(engine.create_run_network, run_id)
        prepared = [await _prepare(run_id, spec, part, made.network, made) for part in parts]
        if live.stopped_because:
            return True
        for container_id, _stream in prepared:
            await asyncio.to_thread(engine.start, container_id)
    began = time.monotonic()
    # The relays first: the first line goes out while the run's new state is being saved (the
    # database's one thread is busy when a class presses at once).
    relays = [
        asyncio.create_task(_relay(live, index, stream, deadline))
        for index, (_, stream) in enumerate(prepared)
    ]
    await _mark_running(run, prepared[main][0])
    finished = await relays[main]
    live.panes[main].seconds = time.monotonic() - began
    # The main part is done: stop the others (stream first, then the container).
    for index, (container_id, stream) in enumerate(prepared):
        if index != main or not finished:
            stream.close()
            await asyncio.to_thread(engine.kill, container_id)
    for relay in relays:
        with suppress(Exception):
            await asyncio.wait_for(relay, timeout=settings.DOCKER_TIMEOUT_SECONDS)
    for container_id, _stream in prepared:
        await asyncio.to_thread(engine.wait, container_id, settings.DOCKER_TIMEOUT_SECONDS)
    return finished


async def _warm_container(spec: RunSpec) -> pool.Warm | None:
    """A pool container fits a run of one container with the default limits."""
    if len(spec.containers()) != 1 or spec.memory or spec.volume:
        return None
    if spec.image not in LAB_IMAGES:
        return None  # students' own images are run cold
    lab = pool.pool_for(spec.image)
    if lab.wanted() <= 0 and not lab.ready:
        return None  # the pool is off (SANDBOX_POOL_SIZE=0, no class warming)
    return await lab.take()


def _volume_name(spec: RunSpec) -> str:
    return f"baeum-vol-{settings.SANDBOX_NAMESPACE}-u{spec.owner_id}-{spec.volume}"


async def _keep_volume(run_id: str, spec: RunSpec, made: _Made) -> None:
    """The lab's volumes are tmpfs-backed (size-capped, never on the host's disk), and a tmpfs
    keeps its files only while mounted: a small hardened container holds it mounted while the
    parts run in turn, so what one container wrote is there for the next."""
    made.keeper = await asyncio.to_thread(
        engine.create_container,
        engine.ContainerSpec(
            spec.image, f"sleep {spec.timeout + 5}", run_id, volume=_volume_name(spec)
        ),
    )
    await asyncio.to_thread(engine.start, made.keeper)


async def _in_turn(run: Run, spec: RunSpec, live: LiveRun, made: _Made, deadline: float) -> bool:
    """Run the parts one after another, each timed from create to exit."""
    run_id = str(run.id)
    if spec.volume:
        await asyncio.to_thread(engine.ensure_volume, _volume_name(spec))
        await _keep_volume(run_id, spec, made)
    for index, part in enumerate(spec.containers()):
        if live.stopped_because:
            return True
        began = time.monotonic()
        container_id, stream = await _prepare(run_id, spec, part, None, made)
        await asyncio.to_thread(engine.start, container_id)
        if index == 0:
            await _mark_running(run, container_id)
        finished = await _relay(live, index, stream, deadline)
        if not finished:
            stream.close()
            await asyncio.to_thread(engine.kill, container_id)
            return False
        await asyncio.to_thread(engine.wait, container_id, settings.DOCKER_TIMEOUT_SECONDS)
        pane = live.panes[index]
        pane.seconds = time.monotonic() - began
        pane.exit_code = (await asyncio.to_thread(engine.exit_state, container_id)).exit_code
        await _log(runlog.current().head(run_id, index, pane))
        await events.publish_run(run_id, {"type": "run.pane", "pane": index, "head": pane.head()})
    return True


async def _relay(live: LiveRun, index: int, stream: engine.OutputStream, deadline: float) -> bool:
    """Relay one pane's output until its stream ends (True) or the deadline passes (False)."""
    loop = asyncio.get_running_loop()
    pipe = OutputPipe(loop, limit=4 * FRAME_BYTES)
    reader = threading.Thread(
        target=_pump, args=(stream, pipe), daemon=True, name=f"run-{live.run_id}-{index}"
    )
    reader.start()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pane = live.panes[index]
    last_frame = 0.0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        data, dropped, eof = await pipe.take(timeout=remaining)
        # Coalesce: at most one frame per FRAME_SECONDS, so a flood arrives as few large frames.
        # A full frame waits its turn too: past the transcript's cap a flood's frames carry only
        # the count of what was dropped, and a fast machine sent those as fast as `yes` wrote.
        wait = last_frame + FRAME_SECONDS - time.monotonic()
        if not eof and wait > 0:
            await asyncio.sleep(wait)
            more, more_dropped, eof = await pipe.take(timeout=0)
            data, dropped = data + more, dropped + more_dropped
        if len(data) > FRAME_BYTES:
            dropped += len(data) - FRAME_BYTES
            data = data[:FRAME_BYTES]
        text = decoder.decode(data, final=eof)
        if text or dropped:
            text, dropped = pane.keep(text, dropped)
            live.seq += 1
            await _log(runlog.current().append(live.run_id, live.seq, index, text, live.panes))
            await events.publish_run(
                live.run_id,
                {
                    "type": "run.output",
                    "seq": live.seq,
                    "pane": index,
                    "text": text,
                    "dropped": dropped,
                },
            )
            last_frame = time.monotonic()
        if eof:
            return True


async def _log(write) -> None:
    """Write to the run log; if its store is away the run goes on (the log heals itself)."""
    try:
        await write
    except Exception as error:
        log.warning("run log unavailable: %s", error)


def _pump(stream: engine.OutputStream, pipe: OutputPipe) -> None:
    try:
        for chunk in stream.chunks():
            pipe.put(chunk)
    except Exception:
        log.exception("reading a container's output failed")
    finally:
        pipe.close()


async def _finish(run: Run, live: LiveRun, made: _Made) -> None:
    """Save the transcript, tell listeners, then remove what the run made."""
    run.ended_at = timezone.now()
    run.panes = live.saved_panes()
    run.transcript = "".join(pane.transcript() for pane in live.panes)
    run.transcript_dropped_bytes = sum(pane.dropped_bytes for pane in live.panes)
    await run.asave()
    # Its slot is free from here: the oldest queued press takes it now, before this run's
    # finish hooks, and starts beside them (sandbox/api/queue.py).
    try:
        taken = await runqueue.take() if await QueuedRun.objects.aexists() else []
    except Exception:
        log.exception("run %s: the queue's dispatch failed", run.id)
        taken = []
    _spawn(_dispatch_after(str(run.id), taken))
    try:
        await database_sync_to_async(hooks.run_finished)(run)
    except Exception:
        log.exception("run %s: a finish hook failed", run.id)
    # Rendered once here (the verdict the finish hook recorded), not once per watching socket.
    try:
        extra = await database_sync_to_async(hooks.end_fragments)(run)
    except Exception:
        log.exception("run %s: an end fragment failed", run.id)
        extra = ""
    # The transcript is in the database now; sockets that open from here on read it there.
    await _log(runlog.current().end(str(run.id)))
    await events.run_ended(events.RunEnded.of(run, extra))
    SUPERVISED.runs.pop(str(run.id), None)
    try:
        for container_id in [*made.containers, *([made.keeper] if made.keeper else [])]:
            await asyncio.to_thread(engine.remove, container_id)
        if made.network:
            await asyncio.to_thread(engine.remove_network, made.network)
    except (engine.EngineUnavailable, engine.EngineError):
        log.warning("run %s: what it made is left for the reaper", run.id)


def _spawn(coroutine) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def _dispatch_after(run_id: str, taken: list[runqueue.Claimed]) -> None:
    try:
        await runqueue.start(taken)
        if await QueuedRun.objects.aexists():
            runqueue.ensure_ticker()
    except Exception:
        log.exception("run %s: the queue's dispatch failed", run_id)


async def wait_for_all() -> None:
    """Wait until every run this process follows has finished, and the queue's dispatches that
    presses started here (tests, shutdown)."""
    while _TASKS or api_runs.TASKS:
        await asyncio.gather(*list(_TASKS), *list(api_runs.TASKS), return_exceptions=True)
