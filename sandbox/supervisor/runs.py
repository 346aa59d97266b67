"""A run's life: create its hardened containers, stream their output, enforce the time limit,
keep the transcript, remove what it made.

A run has one or more containers ("panes", each with its own output): one alone; several
together on the run's private network, the run ending when the main one exits; or the same
command several times, one container after another, each timed.

Web code calls `start_run` and `stop_run`: they check and record in the database, then ask the
sandbox supervisor (sandbox/seam.py) to follow or stop the run: inside this process by
default, or in `manage.py sandbox_supervisor` when scaled out. The follower is an asyncio task;
the blocking Docker calls go to worker threads, and each attach stream is read by a thread of
its own (`_pump`). Every frame goes to the run log (sandbox/runlog.py), then to the run's
channel-layer group, so any web worker's socket can show it.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
import time
import weakref
from collections import Counter
from contextlib import suppress
from dataclasses import asdict, dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import engine, hooks, runlog, seam
from sandbox.api import queue as runqueue
from sandbox.images import LAB_IMAGES
from sandbox.models import QueuedRun, Run
from sandbox.supervisor import hosts, pool
from sandbox.supervisor.pipe import OutputPipe

log = logging.getLogger(__name__)

# Frames to the browser: at most one per FRAME_SECONDS per pane, at most FRAME_BYTES each.
FRAME_SECONDS = 0.05
# A live run with no run log yet may be one another web worker created a moment ago and is
# handing over now (the log begins just after the row): younger than this, a press joins it.
HAND_OVER_SECONDS = 10
FRAME_BYTES = 64 * 1024

ENGINE_DOWN_MESSAGE = gettext_lazy(
    "도커 엔진에 연결할 수 없어요. 잠시 후 다시 실행해 주세요. 계속되면 선생님께 알려 주세요."
)
ENGINE_ERROR_MESSAGE = gettext_lazy(
    "실습 컨테이너에 문제가 생겨서 실행을 끝내지 못했어요. 다시 실행해 주세요. "
    "계속되면 선생님께 알려 주세요."
)


class QuotaExceeded(Exception):
    """The student (or the whole server) already has as many live runs as allowed."""


@dataclass(frozen=True)
class Part:
    """One container of a run."""

    name: str
    command: str
    main: bool = False


@dataclass(frozen=True)
class RunSpec:
    image: str
    command: str  # what the run shows as its command; the only part's, for a single container
    owner_id: int
    label: str
    timeout: int
    memory: str | None = None
    parts: tuple[Part, ...] = ()  # empty: one container running `command`
    one_after_another: bool = False  # run the parts in turn, not together
    volume: str = ""  # the owner's named volume mounted at /data in every part ("" for none)

    def containers(self) -> tuple[Part, ...]:
        return self.parts or (Part("main", self.command, main=True),)

    def data(self) -> dict:
        """As plain data, to travel to the supervisor."""
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict) -> RunSpec:
        return cls(**{**data, "parts": tuple(Part(**part) for part in data["parts"])})


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
    engine: str = ""  # the engine it runs on ("" for the default; see sandbox/hosts.py)
    seq: int = 0
    made: _Made = field(default_factory=lambda: _Made())
    stopped_because: str = ""

    def saved_panes(self) -> list[dict]:
        return [pane.saved() for pane in self.panes]


# Runs followed by this process, by id. Entries leave once the transcript is saved.
LIVE: dict[str, LiveRun] = {}
_TASKS: set[asyncio.Task] = set()
# Quota checks and run creation happen one at a time, so two quick presses cannot both pass.
# (One lock per event loop: a lock belongs to the loop that first waits on it.)
_START_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _start_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _START_LOCKS:
        _START_LOCKS[loop] = asyncio.Lock()
    return _START_LOCKS[loop]


def group_name(run_id) -> str:
    return f"run_{run_id}"


async def start_run(spec: RunSpec, *, queue: bool = False) -> Run | QueuedRun:
    """Record a run and have the supervisor follow it; returns before any container exists.

    If the owner already has a live run with the same label (a second press of the same
    button), that run is returned instead, with `joined_existing` set.

    With `queue`, a press that finds the server full (SANDBOX_MAX_TOTAL live runs), or others
    already waiting, joins the run queue (sandbox/runqueue.py) and its `QueuedRun` is returned
    (the same entry, `joined_existing` set, for a second press while it waits); without, it is
    refused with QuotaExceeded as the student's own limit always is.
    """
    async with _start_lock():
        existing = await _live_run_of(spec)
        if existing is not None:
            if await _followed(str(existing.id)) or _being_handed_over(existing):
                existing.joined_existing = True
                return existing
            # Marked live, no run log, and too old to be on its way: its follower is gone.
            await _fail_unstarted(existing, _("이 실행은 이어서 볼 수 없어요. 다시 실행해 주세요."))
        if queue and (entry := await runqueue.queued_of(spec.owner_id, spec.label)):
            entry.joined_existing = True
            runqueue.ensure_ticker()
            return entry
        try:
            run = await _create_run_within_quota(spec, queue=queue)
        except IntegrityError:
            # The same press, at the same instant, on another web worker: that one won.
            existing = await _live_run_of(spec)
            if existing is None:
                raise
            existing.joined_existing = True
            return existing
    if isinstance(run, QueuedRun):
        # Queued behind others while a slot is free (one just ended): start the oldest now,
        # not at the next tick. (A new entry at the end moves nobody ahead of it.)
        _spawn(_dispatch_now())
        runqueue.ensure_ticker()
        return run
    run.joined_existing = False
    await hand_over(run, spec)
    return run


async def hand_over(run: Run, spec: RunSpec) -> None:
    """Begin the run's log and have the supervisor follow it (a press, or the queue's
    dispatch); a run that cannot be handed over fails in words."""
    try:
        # The log first: a socket that opens before the first container sees an empty run.
        await runlog.current().begin(str(run.id), [part.name for part in spec.containers()])
        await seam.tell("run.start", run_id=str(run.id), spec=spec.data())
    except engine.EngineUnavailable as error:  # also: the supervisor is not running
        await _fail_unstarted(run, str(error) if seam.separate() else ENGINE_DOWN_MESSAGE)
    except Exception as error:  # the run log's store (Redis) is unreachable
        log.warning("run %s could not be handed over: %s", run.id, error)
        await _fail_unstarted(run, _("실습을 시작하지 못했어요. 잠시 후 다시 실행해 주세요."))


async def _live_run_of(spec: RunSpec) -> Run | None:
    return await (
        Run.objects.filter(owner_id=spec.owner_id, label=spec.label, state__in=Run.LIVE_STATES)
        .order_by("-created_at")
        .afirst()
    )


def _being_handed_over(run: Run) -> bool:
    """Created a moment ago: its log may not have begun yet (another worker is between the two
    steps of a press); failing it as lost, as an older one is, started a second run."""
    return (timezone.now() - run.created_at).total_seconds() < HAND_OVER_SECONDS


async def _followed(run_id: str) -> bool:
    try:
        return await runlog.current().exists(run_id)
    except Exception:
        return False


async def _fail_unstarted(run: Run, message) -> None:
    run.state, run.message, run.ended_at = Run.State.FAILED, str(message), timezone.now()
    await run.asave(update_fields=["state", "message", "ended_at"])
    with suppress(Exception):
        await runlog.current().end(str(run.id))
    await publish_ended(str(run.id))


async def publish_ended(run_id: str) -> None:
    """Tell the run's sockets it ended (they read the result from the database)."""
    await _publish(run_id, {"type": "run.ended"})


async def on_start(run_id: str, spec: dict) -> None:
    """Supervisor side: start following a run the web side recorded."""
    spec = RunSpec.from_data(spec)
    run = await Run.objects.filter(pk=run_id, state__in=Run.LIVE_STATES).afirst()
    if run is None or run_id in LIVE:
        return  # given up on meanwhile, or a repeated request
    live = LIVE[run_id] = LiveRun(run_id, [Pane(part.name) for part in spec.containers()])
    live.engine = await hosts.choose(Counter(other.engine for other in LIVE.values()))
    task = asyncio.get_running_loop().create_task(_follow(run, spec))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


def _over_own_limit(queued: int) -> QuotaExceeded:
    n = settings.SANDBOX_MAX_PER_USER
    if queued:
        return QuotaExceeded(
            _(
                "이미 실행 중이거나 차례를 기다리는 실습이 {n}개 있어요. "
                "하나가 끝나면 다시 실행해 주세요."
            ).format(n=n)
        )
    return QuotaExceeded(
        _("이미 실행 중인 실습이 {n}개 있어요. 하나가 끝나면 다시 실행해 주세요.").format(n=n)
    )


async def _create_run_within_quota(spec: RunSpec, *, queue: bool = False) -> Run | QueuedRun:
    """The quotas and the record, in one transaction under the queue's lock (so two workers
    cannot both take the last slot): the student's own limit refuses at once; a full server
    queues the press (or, without `queue`, refuses it)."""
    try:
        return await database_sync_to_async(runqueue.admit)(
            spec, new_run, queue=queue, per_user_refusal=_over_own_limit
        )
    except runqueue.Full:
        raise QuotaExceeded(
            _("지금은 실행 중인 실습이 너무 많아요. 잠시 후 다시 실행해 주세요.")
        ) from None


def new_run(spec: RunSpec, queued_as=None) -> Run:
    """The run's record (synchronous: inside the admission or dispatch transaction)."""
    return Run.objects.create(
        owner_id=spec.owner_id,
        label=spec.label,
        image=spec.image,
        command=spec.command,
        timeout_seconds=min(spec.timeout, settings.SANDBOX_TTL_SECONDS),
        panes=[{"name": part.name} for part in spec.containers()],
        queued_as=queued_as,
    )


async def _publish(run_id: str, event: dict) -> None:
    try:
        await get_channel_layer().group_send(group_name(run_id), event)
    except Exception as error:
        # The channel layer (Redis) is away: the run goes on, and its output is in the log and
        # the follower's transcript; sockets reconnect and read the snapshot.
        log.warning("run %s: could not publish %s (%s)", run_id, event["type"], error)


async def stop_run(run_id: str, because: str) -> bool:
    """Stop a live run; False if no supervisor follows it."""
    return bool(await seam.ask("run.stop", run_id=str(run_id), because=str(because)))


async def on_stop(run_id: str, because: str) -> bool:
    live = LIVE.get(str(run_id))
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
    live = LIVE[run_id]
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
    await _publish(str(run.id), {"type": "run.status"})
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
        await _publish(run_id, {"type": "run.pane", "pane": index, "head": pane.head()})
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
        wait = last_frame + FRAME_SECONDS - time.monotonic()
        if not eof and wait > 0 and len(data) < FRAME_BYTES:
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
            await _publish(
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
    # finish hooks, and starts beside them (sandbox/runqueue.py).
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
    # The transcript is in the database now; sockets that open from here on read it there.
    await _log(runlog.current().end(str(run.id)))
    await _publish(str(run.id), {"type": "run.ended"})
    LIVE.pop(str(run.id), None)
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


async def _dispatch_now() -> None:
    try:
        await runqueue.dispatch()
    except Exception:
        log.exception("the queue's dispatch failed")


async def _dispatch_after(run_id: str, taken: list) -> None:
    try:
        await runqueue.start(taken)
        if await QueuedRun.objects.aexists():
            runqueue.ensure_ticker()
    except Exception:
        log.exception("run %s: the queue's dispatch failed", run_id)


async def wait_for_all() -> None:
    """Wait until every run this process follows has finished (tests, shutdown)."""
    while _TASKS:
        await asyncio.gather(*list(_TASKS), return_exceptions=True)
