"""The supervisor's loop (`manage.py sandbox_supervisor`, SANDBOX_SUPERVISOR=separate): requests
from the web workers arrive on the deployment's channel (sandbox/seam.py), each is answered by
its handler (sandbox/supervisor/handlers.py), and a heartbeat in Redis says it is alive."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from contextlib import suppress

from channels.layers import get_channel_layer

from sandbox import redisconn, seam
from sandbox.errors import EngineError, EngineUnavailable
from sandbox.supervisor import engine_threads, handlers

log = logging.getLogger(__name__)


async def another_is_beating() -> bool:
    """Another supervisor of this deployment (on any machine) is alive: its heartbeat stands
    past its time to live (a supervisor killed a moment ago leaves a key that expires)."""
    deadline = time.monotonic() + seam.HEARTBEAT_TTL_SECONDS + 1
    while await redisconn.client().exists(seam.heartbeat_key()):
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
    log.info("sandbox supervisor listening on %s (pid %d)", seam.channel(), os.getpid())
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
    receiving = asyncio.ensure_future(layer.receive(seam.channel()))
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
        function = handlers.TABLE[name]
    except KeyError:
        log.error("supervisor: no handler for %r", name)
        answer["error"] = f"unknown request {name!r}"
    else:
        try:
            answer["value"] = await function(**message)
        except EngineUnavailable as error:
            answer["unavailable"] = str(error) or str(seam.GONE_MESSAGE)
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
            await redisconn.client().set(seam.heartbeat_key(), me, ex=seam.HEARTBEAT_TTL_SECONDS)
        except (redis.RedisError, OSError) as error:
            log.warning("supervisor: heartbeat failed (%s)", error)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seam.HEARTBEAT_SECONDS)
    with suppress(Exception):
        await redisconn.client().delete(seam.heartbeat_key())
