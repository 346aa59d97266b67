"""One Redis connection pool per event loop (redis.asyncio connections belong to the loop that
made them), for the run log and the supervisor's heartbeat. Only used when REDIS_URL is set."""

from __future__ import annotations

import asyncio
import weakref

from django.conf import settings

_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def client():
    import redis.asyncio

    loop = asyncio.get_running_loop()
    known = _CLIENTS.get(loop)
    if known is None or known[0] != settings.REDIS_URL:
        made = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2
        )
        _CLIENTS[loop] = known = (settings.REDIS_URL, made)
    return known[1]
