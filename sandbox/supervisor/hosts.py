"""Several container hosts: which Docker Engine takes the next run.

SANDBOX_ENGINES lists the engines' URLs; empty means the one engine DOCKER_HOST names. Each run
goes to the reachable engine with the fewest live runs followed here. An engine that fails is
set aside for a while (its runs fail plainly, as with one engine); new runs go to the others,
and it is tried again later.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from django.conf import settings

from sandbox import engine
from sandbox.supervisor.state import SUPERVISED

# An engine that failed is skipped for this long before it is tried again.
SET_ASIDE_SECONDS = 15.0
# An engine not heard from for this long is pinged before it gets a run.
FRESH_SECONDS = 5.0


def all_engines() -> list[str]:
    return list(settings.SANDBOX_ENGINES) or [""]


def reaped_engines() -> list[str]:
    """Every engine this deployment's containers may be on: the run hosts, and the supervisor's
    own engine (terminals, builds and labs)."""
    return list(dict.fromkeys(["", *settings.SANDBOX_ENGINES]))


def failed(endpoint: str) -> None:
    """An engine did not answer: give it no new runs for a while."""
    if len(all_engines()) > 1:
        SUPERVISED.engines_set_aside[endpoint] = time.monotonic() + SET_ASIDE_SECONDS
        SUPERVISED.engines_last_ok.pop(endpoint, None)


async def choose(load: Counter) -> str:
    """The engine for the next run: reachable, with the fewest live runs (`load` by engine)."""
    engines = all_engines()
    if len(engines) == 1:
        return engines[0]
    now = time.monotonic()
    ranked = sorted(engines, key=lambda e: (SUPERVISED.engines_set_aside.get(e, 0) > now, load[e]))
    for candidate in ranked:
        if now - SUPERVISED.engines_last_ok.get(candidate, 0) < FRESH_SECONDS:
            return candidate
        with engine.use(candidate):
            alive = await asyncio.to_thread(engine.ping)
        if alive:
            SUPERVISED.engines_last_ok[candidate] = time.monotonic()
            SUPERVISED.engines_set_aside.pop(candidate, None)
            return candidate
        failed(candidate)
    return ranked[0]  # none answers: the run fails with the engine's own message
