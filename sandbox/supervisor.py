"""The sandbox supervisor: the one place that decides which process talks to the Docker Engine.

Web code never follows a container itself; it asks the supervisor, by name:
- `tell(name, **payload)`: do this, no answer awaited (start following a run, stop it, a
  terminal's keystrokes);
- `ask(name, **payload)`: do this and answer (a lab's state, a replica killed).

With SANDBOX_SUPERVISOR=inside (the default: one process serves a class) the handler runs right
here, in the server's event loop. With SANDBOX_SUPERVISOR=separate, the request travels over
the channel layer (Redis) to `manage.py sandbox_supervisor`, the only process with a Docker
socket; answers come back on the asking process's own channel. Either way, what a handler
streams (a run's output) reaches sockets through channel-layer groups and the run log, so a
socket may be served by any web worker.

Handlers register themselves (`@handler("run.start")`), so this module depends on nothing in the
sandbox but the engine's exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.translation import gettext_lazy

from sandbox import engine_threads, redisconn
from sandbox.errors import EngineError, EngineUnavailable

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[object]]
_HANDLERS: dict[str, Handler] = {}

HEARTBEAT_SECONDS = 2.0
# Missing this many heartbeats in a row means the supervisor is gone.
HEARTBEAT_TTL_SECONDS = 6
ANSWER_SECONDS = 30.0

GONE_MESSAGE = gettext_lazy("실습 서버(supervisor)가 응답하지 않아요. 잠시 후 다시 실행해 주세요.")
# What an open socket says when the supervisor stops beating while it shows something live.
STOPPED_MESSAGE = gettext_lazy(
    "실습 서버(supervisor)가 멈췄어요. 관리자에게 알려 주세요. "
    "다시 시작되면 실행을 다시 눌러 주세요."
)
BUILD_STOPPED_MESSAGE = gettext_lazy(
    "실습 서버(supervisor)가 멈췄어요. 관리자에게 알려 주세요. "
    "다시 시작되면 빌드를 다시 눌러 주세요."
)
# How often an open socket looks at the heartbeat (one Redis read a second per web worker,
# however many sockets ask: see beating()).
CHECK_SECONDS = 1.0


class SupervisorUnavailable(EngineUnavailable):
    """The separate supervisor is not running: for the student, as good as no engine."""


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        _HANDLERS[name] = function
        return function

    return register


def separate() -> bool:
    return settings.SANDBOX_SUPERVISOR == "separate"


def channel() -> str:
    return f"sandbox-supervisor.{settings.SANDBOX_NAMESPACE}"


def _heartbeat_key() -> str:
    return f"baeum:{settings.SANDBOX_NAMESPACE}:supervisor"


async def tell(name: str, **payload) -> None:
    """Have the supervisor do `name`; returns once it is handed over (inside: once started)."""
    if not separate():
        engine_threads.install()  # inside: this loop runs the handlers' engine calls
        await _HANDLERS[name](**payload)
        return
    await _require_supervisor()
    await get_channel_layer().send(channel(), {"type": "sandbox.request", "name": name, **payload})


async def ask(name: str, **payload):
    """Have the supervisor do `name` and return its answer. Its EngineError or
    EngineUnavailable is raised here, as if the engine had been called in this process."""
    if not separate():
        engine_threads.install()
        return await _HANDLERS[name](**payload)
    await _require_supervisor()
    layer = get_channel_layer()
    reply = await layer.new_channel()
    await layer.send(
        channel(), {"type": "sandbox.request", "name": name, "reply": reply, **payload}
    )
    try:
        answer = await asyncio.wait_for(layer.receive(reply), timeout=ANSWER_SECONDS)
    except TimeoutError:
        raise SupervisorUnavailable(str(GONE_MESSAGE)) from None
    if answer.get("unavailable"):
        raise EngineUnavailable(answer["unavailable"])
    if answer.get("error"):
        raise EngineError(answer["error"])
    return answer.get("value")


_seen_alive_at = 0.0


async def _require_supervisor() -> None:
    """Refuse at once, in words, when no supervisor beats (rather than a request left waiting).
    A heartbeat seen within the last second is enough: keystrokes come many a second."""
    global _seen_alive_at
    import redis

    if time.monotonic() - _seen_alive_at < 1.0:
        return
    try:
        alive = await redisconn.client().exists(_heartbeat_key())
    except (redis.RedisError, OSError) as error:
        log.warning("supervisor heartbeat unreadable: %s", error)
        raise SupervisorUnavailable(str(GONE_MESSAGE)) from error
    if not alive:
        raise SupervisorUnavailable(str(GONE_MESSAGE))
    _seen_alive_at = time.monotonic()


_beat_seen: tuple[float, bool | None] = (-1.0, True)
_beat_checking: asyncio.Future | None = None


async def beating() -> bool | None:
    """Does this deployment's separate supervisor beat? True; False: its heartbeat is gone, so
    it has missed three beats (killed, hung, its machine down); None: cannot tell (Redis does
    not answer, or restarted less than a heartbeat's lifetime ago, so the key has not been
    written back yet). Read at most once per CHECK_SECONDS per process, the sockets asking at
    the same moment sharing one read."""
    global _beat_seen, _beat_checking
    at, seen = _beat_seen
    if time.monotonic() - at < CHECK_SECONDS:
        return seen
    checking = _beat_checking
    if checking and not checking.done() and checking.get_loop() is asyncio.get_running_loop():
        return await asyncio.shield(checking)
    _beat_checking = asyncio.ensure_future(_read_beat())
    seen = await asyncio.shield(_beat_checking)
    _beat_seen = (time.monotonic(), seen)
    return seen


async def _read_beat() -> bool | None:
    global _seen_alive_at
    import redis

    try:
        redis_client = redisconn.client()
        if await redis_client.exists(_heartbeat_key()):
            _seen_alive_at = time.monotonic()
            return True
        # Gone, or Redis restarted a moment ago (its keys lost until the next beat).
        uptime = (await redis_client.info("server")).get("uptime_in_seconds", 0)
    except (redis.RedisError, OSError) as error:
        log.info("heartbeat check: Redis unavailable (%s)", error)
        return None
    return False if int(uptime) > HEARTBEAT_TTL_SECONDS else None


# The supervisor process (manage.py sandbox_supervisor).


async def another_is_beating() -> bool:
    """Another supervisor of this deployment (on any machine) is alive: its heartbeat stands
    past its time to live (a supervisor killed a moment ago leaves a key that expires)."""
    deadline = time.monotonic() + HEARTBEAT_TTL_SECONDS + 1
    while await redisconn.client().exists(_heartbeat_key()):
        if time.monotonic() > deadline:
            return True
        await asyncio.sleep(0.5)
    return False


async def serve(stop: asyncio.Event) -> None:
    """Answer requests until `stop` is set; survives the channel layer going away for a while."""
    engine_threads.install()
    layer = get_channel_layer()
    beating = asyncio.create_task(_beat(stop))
    pending: set[asyncio.Task] = set()
    log.info("sandbox supervisor listening on %s (pid %d)", channel(), os.getpid())
    try:
        while not stop.is_set():
            try:
                message = await _receive(layer, stop)
            except Exception as error:  # Redis restarting: wait and listen again
                log.warning("supervisor: channel layer unavailable (%s); retrying", error)
                await asyncio.sleep(1)
                continue
            if message is None:
                continue
            task = asyncio.create_task(_handle(layer, message))
            pending.add(task)
            task.add_done_callback(pending.discard)
    finally:
        beating.cancel()
        await asyncio.gather(beating, *pending, return_exceptions=True)


async def _receive(layer, stop: asyncio.Event) -> dict | None:
    receiving = asyncio.ensure_future(layer.receive(channel()))
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if receiving in done:
        stopping.cancel()
        return receiving.result()
    receiving.cancel()
    return None


async def _handle(layer, message: dict) -> None:
    name = message.pop("name", "")
    reply = message.pop("reply", None)
    message.pop("type", None)
    answer: dict = {}
    try:
        function = _HANDLERS[name]
    except KeyError:
        log.error("supervisor: no handler for %r", name)
        answer["error"] = f"unknown request {name!r}"
    else:
        try:
            answer["value"] = await function(**message)
        except EngineUnavailable as error:
            answer["unavailable"] = str(error) or str(GONE_MESSAGE)
        except EngineError as error:
            answer["error"] = str(error)
        except Exception:
            log.exception("supervisor: %s failed", name)
            answer["error"] = "internal error"
    if reply:
        try:
            await layer.send(reply, {"type": "sandbox.answer", **answer})
        except Exception as error:
            log.warning("supervisor: could not answer %s (%s)", name, error)


async def _beat(stop: asyncio.Event) -> None:
    import redis

    me = f"{socket.gethostname()}:{os.getpid()}:{time.time():.0f}"
    while not stop.is_set():
        try:
            await redisconn.client().set(_heartbeat_key(), me, ex=HEARTBEAT_TTL_SECONDS)
        except (redis.RedisError, OSError) as error:
            log.warning("supervisor: heartbeat failed (%s)", error)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_SECONDS)
    with suppress(Exception):
        await redisconn.client().delete(_heartbeat_key())
