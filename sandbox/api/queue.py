"""The run queue: presses that found the server full (SANDBOX_MAX_TOTAL live runs) wait here for
a slot instead of being refused.

The queue is a table (`QueuedRun`), so every web worker and the supervisor see the same queue and
a queued press outlives the worker that took it. First come, first served: the order is the
row's id. One entry per student and exercise (a unique constraint): a second press returns it.

Admission and dispatch are one critical section, in the database: a transaction that first
takes the queue's lock (SQLite: every transaction begins IMMEDIATE, so it holds the write lock
from its start; PostgreSQL: a transaction-scoped advisory lock), counts the live runs, and then
either creates the run, or queues the press (`admit`), or takes the oldest entries while the
limit allows — deleting each row and creating its Run (`dispatch`). Two dispatchers, in one
process or two, cannot start one entry twice, nor pass the limit together.

Who dispatches: whoever frees a slot — the follower when a run ends (`runs._finish`), in the
supervisor — and, as a safety net, a tick every TICK_SECONDS while anything is queued (which
also expires entries older than SANDBOX_QUEUE_SECONDS), on the loop of whichever process has a
reason to care: the supervisor after a run's end, a web worker with a queued press or a waiting
socket. `serve_ticks` is the supervisor's always-on tick, for its command to start.

What the page sees: the queue socket (sandbox/consumers/queue.py) joins the entry's group
`queue_<key>` (started, with the run's id; ended, with a message) and the deployment's group
(something moved: it recomputes its position).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import weakref
from dataclasses import dataclass
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox.models import QueuedRun, Run
from sandbox.specs import RunSpec

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
# Until there is history, a run is guessed to hold its slot this long.
DEFAULT_RUN_SECONDS = 3.0
_LOCK_KEY = 0x62_61_65_75_6D  # "baeum": the advisory lock of the queue (PostgreSQL)


class Full(Exception):
    """No slot is free (raised inside `admit` when the caller does not queue)."""


def entry_group(key) -> str:
    return f"queue_{key}"


def changes_group() -> str:
    return f"queue.{settings.SANDBOX_NAMESPACE}"


def lock() -> None:
    """Inside a transaction: hold the queue's lock until it ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    # SQLite: the transaction began IMMEDIATE (website/settings.py), so it has the write lock.


# Admission (web side, called by runs.start_run through a worker thread).


@dataclass(frozen=True)
class Pressed:
    """What one press of 실행 got: a run (made now, or the live one of the same button) or a
    place in the queue (new, or the one this button already holds)."""

    item: Run | QueuedRun
    joined: bool = False  # the same button pressed again: what it got is what it already had


@dataclass(frozen=True)
class Claimed:
    """A queue entry the dispatch took, and the run it became (`joined`: the live run of the
    same exercise that had started outside the queue, which is not handed over again)."""

    entry: QueuedRun
    run: Run
    joined: bool = False


def admit(spec, new_run, *, queue: bool, per_user_refusal) -> Pressed:
    """One press, atomically: refuse it (the student's own limit), start it (a slot is free and
    nobody waits), or queue it. `new_run(spec)` creates the Run; `per_user_refusal(queued)` the
    exception for a student at their limit."""
    with transaction.atomic():
        lock()
        live = Run.objects.filter(state__in=Run.LIVE_STATES)
        queued = QueuedRun.objects.filter(owner_id=spec.owner_id).count()
        if live.filter(owner_id=spec.owner_id).count() + queued >= settings.SANDBOX_MAX_PER_USER:
            raise per_user_refusal(queued)
        full = live.count() >= settings.SANDBOX_MAX_TOTAL
        if queue and (full or QueuedRun.objects.exists()):
            # Behind whoever already waits, even when a slot has just freed: the next
            # dispatch takes them in order.
            try:
                with transaction.atomic():
                    entry = QueuedRun.objects.create(
                        owner_id=spec.owner_id, label=spec.label, spec=spec.data()
                    )
                return Pressed(entry)
            except IntegrityError:  # the same press on another worker, a moment earlier
                entry = QueuedRun.objects.get(owner_id=spec.owner_id, label=spec.label)
                return Pressed(entry, joined=True)
        if full:
            raise Full
        return Pressed(new_run(spec))


async def queued_of(owner_id: int, label: str) -> QueuedRun | None:
    return await QueuedRun.objects.filter(owner_id=owner_id, label=label).afirst()


# Where an entry stands.


@dataclass(frozen=True)
class Standing:
    ahead: int  # entries before this one
    seconds: int  # the estimated wait

    @property
    def position(self) -> int:
        return self.ahead + 1


_held: tuple[float, float] = (-10.0, DEFAULT_RUN_SECONDS)


def _slot_seconds() -> float:
    """How long a run holds its slot, from press to end, over the last runs (read at most once
    every 2 s per process: every waiting socket asks)."""
    global _held
    at, seconds = _held
    if time.monotonic() - at < 2.0:
        return seconds
    recent = list(
        Run.objects.filter(ended_at__isnull=False, started_at__isnull=False)
        .order_by("-created_at")
        .values_list("created_at", "ended_at")[:20]
    )
    if recent:
        held = [(ended - created).total_seconds() for created, ended in recent if ended]
        seconds = max(0.2, sum(held) / len(held))
    else:
        seconds = DEFAULT_RUN_SECONDS
    _held = (time.monotonic(), seconds)
    return seconds


def estimate(ahead: int) -> int:
    """Seconds until this entry starts: everyone ahead of it and itself, SANDBOX_MAX_TOTAL at a
    time, each holding a slot as long as recent runs did."""
    limit = max(1, settings.SANDBOX_MAX_TOTAL)
    return max(1, math.ceil((ahead + 1) * _slot_seconds() / limit))


def standing_sync(entry: QueuedRun) -> Standing:
    ahead = QueuedRun.objects.filter(id__lt=entry.id).count()
    return Standing(ahead, estimate(ahead))


standing = database_sync_to_async(standing_sync)


# Dispatch (whoever frees a slot; the supervisor's tick).


def claim() -> list[Claimed]:
    """Take the oldest entries while the limit allows: each row deleted and its Run created in
    one transaction, under the queue's lock."""
    from sandbox.api import runs  # the Run's shape is the press's (runs.new_run

    taken: list[Claimed] = []
    with transaction.atomic():
        lock()
        free = settings.SANDBOX_MAX_TOTAL - Run.objects.filter(state__in=Run.LIVE_STATES).count()
        if free <= 0:
            return []
        for entry in QueuedRun.objects.order_by("id")[: free + 5]:
            if len(taken) >= free:
                break
            deleted, _ = QueuedRun.objects.filter(pk=entry.pk).delete()
            if not deleted:
                continue  # another dispatcher took it (cannot under the lock; never twice)
            spec = RunSpec.from_data(entry.spec)
            try:
                with transaction.atomic():
                    taken.append(Claimed(entry, runs.new_run(spec, queued_as=entry.key)))
            except IntegrityError:
                # A live run of the same exercise already (started outside the queue): the
                # entry is that run now.
                live = Run.objects.filter(
                    owner_id=entry.owner_id, label=entry.label, state__in=Run.LIVE_STATES
                ).first()
                if live is None:
                    raise
                taken.append(Claimed(entry, live, joined=True))
    return taken


def _worth_claiming() -> bool:
    """A read without the lock: is there anything waiting and a slot free? (The claim itself
    decides under the lock; this only spares the write lock to ticks that find nothing.)"""
    live = Run.objects.filter(state__in=Run.LIVE_STATES).count()
    return live < settings.SANDBOX_MAX_TOTAL and QueuedRun.objects.exists()


def _claim_retrying() -> list[Claimed]:
    from django.db import OperationalError

    for attempt in range(10):
        try:
            return claim() if _worth_claiming() else []
        except OperationalError as error:  # SQLite busy beyond its timeout, or a shared cache
            log.info("queue dispatch: %s (attempt %d)", error, attempt + 1)
            time.sleep(random.uniform(0.02, 0.2))  # apart, not in step with the other
    log.warning("queue dispatch gave up for now (the database stays busy)")
    return []


_dispatching: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def dispatch() -> int:
    """Start what the free slots allow; return how many started. Safe to call from anywhere and
    at any moment: the database decides who takes which entry."""
    return await start(await take())


async def take() -> list[Claimed]:
    """The claim alone (a run's end takes its successor before its own finish hooks run)."""
    loop = asyncio.get_running_loop()
    if loop not in _dispatching:
        _dispatching[loop] = asyncio.Lock()
    async with _dispatching[loop]:  # one claim at a time per process (others: the database)
        return await database_sync_to_async(_claim_retrying)()


async def start(taken: list[Claimed]) -> int:
    """Hand the runs just taken to the supervisor and tell their sockets."""
    from sandbox.api import runs

    for claimed in taken:
        entry, run = claimed.entry, claimed.run
        if not claimed.joined:
            await runs.hand_over(run, RunSpec.from_data(entry.spec))
        log.info("queue: entry %s became run %s", entry.key, run.id)
        await _send(entry_group(entry.key), {"type": "queue.started", "run_id": str(run.id)})
    if taken:
        await changed()
    return len(taken)


def _expire_sync() -> list[str]:
    cutoff = timezone.now() - timedelta(seconds=settings.SANDBOX_QUEUE_SECONDS)
    if not QueuedRun.objects.filter(created_at__lt=cutoff).exists():
        return []
    with transaction.atomic():
        old = list(QueuedRun.objects.filter(created_at__lt=cutoff).values_list("key", flat=True))
        QueuedRun.objects.filter(key__in=old).delete()
    return [str(key) for key in old]


def expired_message() -> str:
    minutes = max(1, round(settings.SANDBOX_QUEUE_SECONDS / 60))
    return _("{n}분 넘게 기다려서 대기열에서 빠졌어요. 다시 실행해 주세요.").format(n=minutes)


async def expire() -> int:
    old = await database_sync_to_async(_expire_sync)()
    for key in old:
        await _send(entry_group(key), {"type": "queue.ended", "message": expired_message()})
    if old:
        await changed()
    return len(old)


def cancelled_message() -> str:
    return _("대기를 취소했어요. 다시 실행하면 맨 뒤에 서요.")


async def cancel(entry: QueuedRun) -> bool:
    """Leave the queue; False if the entry had already left it (started, expired)."""
    deleted, _ = await QueuedRun.objects.filter(pk=entry.pk).adelete()
    if deleted:
        await _send(entry_group(entry.key), {"type": "queue.ended", "message": cancelled_message()})
        await changed()
    return bool(deleted)


async def changed() -> None:
    """Tell every waiting socket that the queue moved (each reads its own place)."""
    await _send(changes_group(), {"type": "queue.changed"})


async def _send(group: str, event: dict) -> None:
    try:
        await get_channel_layer().group_send(group, event)
    except Exception as error:  # the layer away: sockets look again on their own tick
        log.warning("queue: could not send %s to %s (%s)", event["type"], group, error)


# The tick.

_TICKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def tick() -> None:
    await expire()
    await dispatch()


async def _tick(stop: asyncio.Event | None) -> None:
    while True:
        if stop is None:
            await asyncio.sleep(TICK_SECONDS)
        else:
            try:
                await asyncio.wait_for(stop.wait(), timeout=TICK_SECONDS)
                return
            except TimeoutError:
                pass
        try:
            await tick()
            if stop is None and not await QueuedRun.objects.aexists():
                return  # inside the server: tick again when something is queued
        except Exception:
            log.exception("queue tick failed")


def ensure_ticker() -> None:
    """Tick on this process's loop while anything is queued: started by a queued press, a
    waiting socket (on whichever web worker) and a run's end (in the supervisor). Every process
    may tick: the database decides who takes which entry."""
    loop = asyncio.get_running_loop()
    task = _TICKERS.get(loop)
    if task is None or task.done():
        _TICKERS[loop] = loop.create_task(_tick(None))


def serve_ticks(stop: asyncio.Event) -> asyncio.Task:
    """The separate supervisor: tick until `stop` is set."""
    return asyncio.get_running_loop().create_task(_tick(stop))


async def settle() -> None:
    """Tests: wait for this loop's ticker to end (it ends once the queue is empty)."""
    task = _TICKERS.get(asyncio.get_running_loop())
    if task is not None:
        await task
