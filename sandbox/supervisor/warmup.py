"""A class's warm-up: before a whole class presses 실행 at once, the warm pool
(sandbox/supervisor/pool.py)
grows toward one waiting container per student who is online, and shrinks back once the class
has pressed nothing for a while.

Web side (sandbox/api/warmup.py): `warm(key, owner_ids)` (an instructor started the class;
`lessons` knows who is in it and passes the ids, so the sandbox knows no classes), `cool(key)`
(수업 끝) and `state(key)` (what the dashboard shows).
They `ask` the supervisor, which holds the warm-ups beside the pools: in this process by default,
in `manage.py sandbox_supervisor` when scaled out.

Supervisor side, every TICK_SECONDS while any class is warm: who of each class is online (signed
in, pressed 실행 or had a terminal open within SANDBOX_WARM_ONLINE_SECONDS), the target (those
students, over every warm class, at most SANDBOX_WARM_MEMORY's worth of containers at their
memory limit; the pool itself never passes SANDBOX_MAX_TOTAL together with the live runs), and a
class none of whose students pressed 실행 for SANDBOX_WARM_IDLE_SECONDS is dropped. When none is
left the pool goes back to SANDBOX_POOL_SIZE.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max, Q
from django.utils import timezone

from sandbox import engine
from sandbox.api.warmup import WARM_IMAGE
from sandbox.models import Playground, Run
from sandbox.supervisor import pool

log = logging.getLogger(__name__)

TICK_SECONDS = 2.0


def container_bytes() -> int:
    """What one warm container counts against the budget: its memory limit."""
    return engine.parse_bytes(settings.SANDBOX_MEMORY)


def budget_bytes() -> int:
    return engine.parse_bytes(settings.SANDBOX_WARM_MEMORY)


def budget_containers() -> int:
    return budget_bytes() // max(1, container_bytes())


# Web side.


# Supervisor side.


@dataclass
class WarmUp:
    key: str
    owner_ids: frozenset[int]
    started_at: datetime
    last_press: datetime | None = None
    online: int = 0

    def idle_ends_at(self) -> datetime:
        since = max(self.started_at, self.last_press or self.started_at)
        return since + timedelta(seconds=settings.SANDBOX_WARM_IDLE_SECONDS)


class Warmer:
    """This supervisor's warm classes and the target they give the pool (one per event loop,
    like the pools it steers)."""

    def __init__(self) -> None:
        self.classes: dict[str, WarmUp] = {}
        self.target = 0
        self.ticker: asyncio.Task | None = None

    async def warm(self, key: str, owner_ids: list[int]) -> None:
        self.classes[key] = WarmUp(key, frozenset(owner_ids), timezone.now())
        await self.adjust()
        if self.ticker is None or self.ticker.done():
            self.ticker = asyncio.get_running_loop().create_task(self._tick())

    async def cool(self, key: str) -> None:
        if self.classes.pop(key, None) is not None:
            await self.adjust()

    async def adjust(self) -> None:
        """Recount who is online, drop idle classes, and move the pool toward the target."""
        now = timezone.now()
        online: set[int] = set()
        for key, warm_up in list(self.classes.items()):
            ids, warm_up.last_press = await _activity(warm_up.owner_ids)
            warm_up.online = len(ids)
            if now >= warm_up.idle_ends_at():
                log.info("warm-up %s: idle, ended", key)
                del self.classes[key]
            else:
                online |= ids
        self.target = min(len(online), budget_containers())
        lab = pool.pool_for(WARM_IMAGE)
        lab.warm_target = self.target
        await lab.trim()
        lab.refill()

    async def _tick(self) -> None:
        while self.classes:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self.adjust()
            except Exception:
                log.exception("warm-up tick failed")

    async def state(self, key: str) -> dict:
        lab = pool.pool_for(WARM_IMAGE)
        warm_up = self.classes.get(key)
        live = await Run.objects.filter(state__in=Run.LIVE_STATES).acount()
        return {
            "warm": warm_up is not None,
            "online": warm_up.online if warm_up else 0,
            "target": self.target,
            "ready": len(lab.ready),
            "filling": bool(lab.filling and not lab.filling.done()),
            "memory_bytes": len(lab.ready) * container_bytes(),
            "budget_bytes": budget_bytes(),
            "budget_containers": budget_containers(),
            "max_total": settings.SANDBOX_MAX_TOTAL,
            "live": live,
            "idle_ends_at": warm_up.idle_ends_at().isoformat() if warm_up else None,
        }


@database_sync_to_async
def _activity(owner_ids: frozenset[int]) -> tuple[set[int], datetime | None]:
    """Who of these students is online, and when any of them last pressed 실행."""
    since = timezone.now() - timedelta(seconds=settings.SANDBOX_WARM_ONLINE_SECONDS)
    online = set(
        get_user_model()
        .objects.filter(pk__in=owner_ids)
        .filter(
            Q(last_login__gte=since)
            | Q(pk__in=Run.objects.filter(created_at__gte=since).values("owner_id"))
            | Q(pk__in=Playground.objects.filter(ended_at__isnull=True).values("owner_id"))
        )
        .values_list("pk", flat=True)
    )
    last = Run.objects.filter(owner_id__in=owner_ids).aggregate(at=Max("created_at"))["at"]
    return online, last


_WARMERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def warmer() -> Warmer:
    loop = asyncio.get_running_loop()
    if loop not in _WARMERS:
        _WARMERS[loop] = Warmer()
    return _WARMERS[loop]


async def on_warm(key: str, owner_ids: list[int]) -> dict:
    await warmer().warm(key, owner_ids)
    return await warmer().state(key)


async def on_cool(key: str) -> dict:
    await warmer().cool(key)
    return await warmer().state(key)


async def on_state(key: str) -> dict:
    return await warmer().state(key)


async def end_all() -> None:
    """Tests, shutdown: forget every warm-up and shrink the pool back."""
    found = warmer()
    found.classes.clear()
    if found.ticker:
        found.ticker.cancel()
    await found.adjust()
