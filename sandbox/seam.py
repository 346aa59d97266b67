"""The seam between web code and the sandbox supervisor, the one kind of process that talks to
the Docker Engine (sandbox/supervisor/).

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

The names and their handlers are one table, sandbox/supervisor/handlers.py. This module never
imports it: a process that supervises installs it here (`install_inside`, at start-up in
sandbox/apps.py), so a web worker of a scaled-out deployment never loads the supervisor's code,
the engine or the Docker SDK (an import contract in pyproject.toml says so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.translation import gettext_lazy

from sandbox import redisconn
from sandbox.errors import EngineError, EngineUnavailable

log = logging.getLogger(__name__)

# Runs a named request in this process (the supervisor's table, when it supervises here).
Inside = Callable[[str, dict], Awaitable[object]]
_inside: Inside | None = None

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


def install_inside(call: Inside) -> None:
    """This process supervises: requests run here, through `call` (sandbox/apps.py)."""
    global _inside
    _inside = call


def _call_inside(name: str, payload: dict) -> Awaitable[object]:
    if _inside is None:
        # Only a misconfigured process gets here (inside, yet the supervisor not installed).
        raise SupervisorUnavailable(str(GONE_MESSAGE))
    return _inside(name, payload)


def separate() -> bool:
    return settings.SANDBOX_SUPERVISOR == "separate"


def channel() -> str:
    return f"sandbox-supervisor.{settings.SANDBOX_NAMESPACE}"


def heartbeat_key() -> str:
    return f"baeum:{settings.SANDBOX_NAMESPACE}:supervisor"


async def tell(name: str, **payload) -> None:
    """Have the supervisor do `name`; returns once it is handed over (inside: once started)."""
    if not separate():
        await _call_inside(name, payload)
        return
    await _require_supervisor()
    await get_channel_layer().send(channel(), {"type": "sandbox.request", "name": name, **payload})


async def ask(name: str, **payload):
    """Have the supervisor do `name` and return its answer. Its EngineError or
    EngineUnavailable is raised here, as if the engine had been called in this process."""
    if not separate():
        return await _call_inside(name, payload)
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
        alive = await redisconn.client().exists(heartbeat_key())
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
        if await redis_client.exists(heartbeat_key()):
            _seen_alive_at = time.monotonic()
            return True
        # Gone, or Redis restarted a moment ago (its keys lost until the next beat).
        uptime = (await redis_client.info("server")).get("uptime_in_seconds", 0)
    except (redis.RedisError, OSError) as error:
        log.info("heartbeat check: Redis unavailable (%s)", error)
        return None
    return False if int(uptime) > HEARTBEAT_TTL_SECONDS else None
