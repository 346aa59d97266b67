"""A run's life: create the hardened container, stream its output, enforce its time limit, keep
its transcript, remove the container.

Runs are followed by asyncio tasks on the server's event loop, so their events reach consumers
through the channel layer from the loop that serves them. The blocking Docker calls go to worker
threads; the attach stream is read by one thread per run (`_pump`).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
import time
from dataclasses import dataclass, field

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from sandbox import engine
from sandbox.models import Run
from sandbox.pipe import OutputPipe

log = logging.getLogger(__name__)

# Frames to the browser: at most one per FRAME_SECONDS, at most FRAME_BYTES each.
FRAME_SECONDS = 0.05
FRAME_BYTES = 64 * 1024

ENGINE_DOWN_MESSAGE = "도커 엔진에 연결할 수 없어요. 잠시 후 다시 실행해 주세요."
ENGINE_ERROR_MESSAGE = "컨테이너를 시작하지 못했어요: {detail}"


class QuotaExceeded(Exception):
    """The student (or the whole server) already has as many live runs as allowed."""


@dataclass(frozen=True)
class RunSpec:
    image: str
    command: str
    owner_id: int
    label: str
    timeout: int
    memory: str | None = None


@dataclass
class LiveRun:
    """What this process knows of a run it follows: the output so far, for late listeners."""

    run_id: str
    text: list[str] = field(default_factory=list)
    kept_bytes: int = 0
    dropped_bytes: int = 0
    seq: int = 0

    def keep(self, text: str, dropped: int) -> tuple[str, int]:
        """Append to the transcript up to its cap; return what was kept and what was dropped."""
        room = settings.SANDBOX_TRANSCRIPT_BYTES - self.kept_bytes
        encoded = text.encode()
        if len(encoded) > room:
            kept = encoded[: max(room, 0)].decode(errors="ignore")
            dropped += len(encoded) - len(kept.encode())
            text = kept
        self.text.append(text)
        self.kept_bytes += len(text.encode())
        self.dropped_bytes += dropped
        self.seq += 1
        return text, dropped

    def transcript(self) -> str:
        return "".join(self.text)


# Runs followed by this process, by id. Entries leave once the transcript is saved.
LIVE: dict[str, LiveRun] = {}
_TASKS: set[asyncio.Task] = set()


def group_name(run_id) -> str:
    return f"run_{run_id}"


async def start_run(spec: RunSpec) -> Run:
    """Record a run and start following it; returns at once, before the container exists."""
    run = await _create_run_within_quota(spec)
    LIVE[str(run.id)] = LiveRun(str(run.id))
    task = asyncio.get_running_loop().create_task(_follow(run, spec))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return run


async def _create_run_within_quota(spec: RunSpec) -> Run:
    live = Run.objects.filter(state__in=Run.LIVE_STATES)
    if await live.filter(owner_id=spec.owner_id).acount() >= settings.SANDBOX_MAX_PER_USER:
        raise QuotaExceeded(
            f"이미 실행 중인 실습이 {settings.SANDBOX_MAX_PER_USER}개 있어요. "
            "하나가 끝나면 다시 실행해 주세요."
        )
    if await live.acount() >= settings.SANDBOX_MAX_TOTAL:
        raise QuotaExceeded("지금은 실행 중인 실습이 너무 많아요. 잠시 후 다시 실행해 주세요.")
    return await Run.objects.acreate(
        owner_id=spec.owner_id,
        label=spec.label,
        image=spec.image,
        command=spec.command,
        timeout_seconds=min(spec.timeout, settings.SANDBOX_TTL_SECONDS),
    )


async def _publish(run_id: str, event: dict) -> None:
    await get_channel_layer().group_send(group_name(run_id), event)


async def _follow(run: Run, spec: RunSpec) -> None:
    run_id = str(run.id)
    live = LIVE[run_id]
    container_id = ""
    stream: engine.OutputStream | None = None
    try:
        container_id = await asyncio.to_thread(
            engine.create_container,
            engine.ContainerSpec(spec.image, spec.command, run_id, memory=spec.memory),
        )
        run.container_id = container_id
        stream = await asyncio.to_thread(engine.attach, container_id)
        await asyncio.to_thread(engine.start, container_id)
        run.state, run.started_at = Run.State.RUNNING, timezone.now()
        await run.asave(update_fields=["container_id", "state", "started_at"])
        await _publish(run_id, {"type": "run.status", "state": run.state})

        timed_out = not await _relay(live, stream, deadline=time.monotonic() + run.timeout_seconds)
        if timed_out:
            # Close the attach stream before killing: an abandoned attach stream can wedge a
            # container on some log drivers.
            stream.close()
            await asyncio.to_thread(engine.kill, container_id)
        await asyncio.to_thread(engine.wait, container_id, settings.DOCKER_TIMEOUT_SECONDS)
        state = await asyncio.to_thread(engine.exit_state, container_id)
        run.state = Run.State.TIMED_OUT if timed_out else Run.State.EXITED
        run.exit_code, run.oom_killed = state.exit_code, state.oom_killed
        if timed_out:
            run.message = f"시간 제한({run.timeout_seconds}초)을 넘겨서 컨테이너를 멈췄어요."
        elif state.oom_killed:
            run.message = "메모리 제한을 넘겨서 커널이 프로세스를 강제로 끝냈어요(OOM)."
    except engine.EngineUnavailable:
        log.warning("run %s: engine unavailable", run_id)
        run.state, run.message = Run.State.FAILED, ENGINE_DOWN_MESSAGE
    except engine.EngineError as error:
        log.warning("run %s: engine error: %s", run_id, error)
        run.state, run.message = Run.State.FAILED, ENGINE_ERROR_MESSAGE.format(detail=error)[:300]
    except Exception:
        log.exception("run %s failed", run_id)
        run.state, run.message = Run.State.FAILED, "실행 중에 예기치 못한 문제가 생겼어요."
        raise
    finally:
        if stream is not None:
            stream.close()
        await _finish(run, live, container_id)


async def _relay(live: LiveRun, stream: engine.OutputStream, deadline: float) -> bool:
    """Relay output until the stream ends (True) or the deadline passes (False)."""
    loop = asyncio.get_running_loop()
    pipe = OutputPipe(loop, limit=4 * FRAME_BYTES)
    threading.Thread(
        target=_pump, args=(stream, pipe), daemon=True, name=f"run-{live.run_id}"
    ).start()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
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
            text, dropped = live.keep(text, dropped)
            await _publish(
                live.run_id,
                {"type": "run.output", "seq": live.seq, "text": text, "dropped": dropped},
            )
            last_frame = time.monotonic()
        if eof:
            return True


def _pump(stream: engine.OutputStream, pipe: OutputPipe) -> None:
    try:
        for chunk in stream.chunks():
            pipe.put(chunk)
    except Exception:
        log.exception("reading a container's output failed")
    finally:
        pipe.close()


async def _finish(run: Run, live: LiveRun, container_id: str) -> None:
    """Save the transcript, tell listeners, then remove the container."""
    run.ended_at = timezone.now()
    run.transcript = live.transcript()
    run.transcript_dropped_bytes = live.dropped_bytes
    await run.asave()
    await _publish(str(run.id), {"type": "run.ended", "seq": live.seq + 1})
    LIVE.pop(str(run.id), None)
    if container_id:
        try:
            await asyncio.to_thread(engine.remove, container_id)
        except (engine.EngineUnavailable, engine.EngineError):
            log.warning("run %s: container %s left for the reaper", run.id, container_id)


async def wait_for_all() -> None:
    """Wait until every run this process follows has finished (tests, shutdown)."""
    while _TASKS:
        await asyncio.gather(*list(_TASKS), return_exceptions=True)
