"""The threads that run blocking Docker calls (`asyncio.to_thread`) in the process that supervises
containers: one executor, sized by SANDBOX_ENGINE_THREADS, installed as its loop's default.

asyncio's own default is min(32, cores + 4) threads: six on this 2-core machine, so nineteen
terminals opened at once waited for each other's create, attach and start before they reached
the engine (README, "Speed"). The calls mostly wait on the engine's socket, not on a core, so a
thread per call in flight is cheap (a thread's stack is reserved, not used): the default, 64,
covers a full server's starts (SANDBOX_MAX_TOTAL, 16 here), a class's terminals opening at once
(30) and the warm pool filling, with room. The engine itself still serializes container
creation; what this removes is our own queue in front of it. The Docker client keeps as many
connections (sandbox/engine/client.py), so no call waits for a connection either.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

_INSTALLED: weakref.WeakSet = weakref.WeakSet()


def install() -> None:
    """Give the running loop the engine executor (once per loop; cheap to call again)."""
    loop = asyncio.get_running_loop()
    if loop in _INSTALLED:
        return
    _INSTALLED.add(loop)
    loop.set_default_executor(
        ThreadPoolExecutor(settings.SANDBOX_ENGINE_THREADS, thread_name_prefix="engine")
    )
