"""Starting and stopping runs, from web code: quotas and the record in the database, then a
request to the supervisor (sandbox/seam.py) to follow the run (sandbox/supervisor/runs.py).

Returns before any container exists. A second press of the same button joins the run already
live; a press that finds the server full waits in the run queue (sandbox/api/queue.py).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from contextlib import suppress

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import events, runlog, seam
from sandbox.api import queue as runqueue
from sandbox.errors import EngineUnavailable
from sandbox.models import QueuedRun, Run
from sandbox.specs import Part, RunSpec

# What callers build a run from, beside what they call.
__all__ = [
    "ENGINE_DOWN_MESSAGE",
    "Part",
    "QuotaExceeded",
    "RunSpec",
    "hand_over",
    "new_run",
    "start_run",
    "stop_run",
]

log = logging.getLogger(__name__)

ENGINE_DOWN_MESSAGE = gettext_lazy(
    "도커 엔진에 연결할 수 없어요. 잠시 후 다시 실행해 주세요. 계속되면 선생님께 알려 주세요."
)

# The queue dispatches presses started here (awaited by supervisor.runs.wait_for_all).
TASKS: set[asyncio.Task] = set()


# A live run with no run log yet may be one another web worker created a moment ago and is
# handing over now (the log begins just after the row): younger than this, a press joins it.
HAND_OVER_SECONDS = 10


class QuotaExceeded(Exception):
    """The student (or the whole server) already has as many live runs as allowed."""


# Quota checks and run creation happen one at a time, so two quick presses cannot both pass.
# (One lock per event loop: a lock belongs to the loop that first waits on it.)
_START_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _start_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _START_LOCKS:
        _START_LOCKS[loop] = asyncio.Lock()
    return _START_LOCKS[loop]


Pressed = runqueue.Pressed


async def start_run(spec: RunSpec, *, queue: bool = False) -> Run | QueuedRun:
    """press(), for a caller that needs only what the press got."""
    return (await press(spec, queue=queue)).item


async def press(spec: RunSpec, *, queue: bool = False) -> Pressed:
    """Record a run and have the supervisor follow it; returns before any container exists.

    If the owner already has a live run with the same label (a second press of the same
    button), that run is what the press got, `joined`.

    With `queue`, a press that finds the server full (SANDBOX_MAX_TOTAL live runs), or others
    already waiting, joins the run queue (sandbox/api/queue.py) and gets its `QueuedRun` (the
    same entry, `joined`, for a second press while it waits); without, it is refused with
    QuotaExceeded as the student's own limit always is.
    """
    async with _start_lock():
        existing = await _live_run_of(spec)
        if existing is not None:
            if await _followed(str(existing.id)) or _being_handed_over(existing):
                return Pressed(existing, joined=True)
            # Marked live, no run log, and too old to be on its way: its follower is gone.
            await _fail_unstarted(existing, _("이 실행은 이어서 볼 수 없어요. 다시 실행해 주세요."))
        if queue and (entry := await runqueue.queued_of(spec.owner_id, spec.label)):
            runqueue.ensure_ticker()
            return Pressed(entry, joined=True)
        try:
            pressed = await _create_run_within_quota(spec, queue=queue)
        except IntegrityError:
            # The same press, at the same instant, on another web worker: that one won.
            existing = await _live_run_of(spec)
            if existing is None:
                raise
            return Pressed(existing, joined=True)
    if isinstance(pressed.item, QueuedRun):
        # Queued behind others while a slot is free (one just ended): start the oldest now,
        # not at the next tick. (A new entry at the end moves nobody ahead of it.)
        _spawn(_dispatch_now())
        runqueue.ensure_ticker()
        return pressed
    await hand_over(pressed.item, spec)
    return pressed


async def hand_over(run: Run, spec: RunSpec) -> None:
    """Begin the run's log and have the supervisor follow it (a press, or the queue's
    dispatch); a run that cannot be handed over fails in words."""
    try:
        # The log first: a socket that opens before the first container sees an empty run.
        await runlog.current().begin(str(run.id), [part.name for part in spec.containers()])
        await seam.tell("run.start", run_id=str(run.id), spec=spec.data())
    except EngineUnavailable as error:  # also: the supervisor is not running
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
    await events.run_ended(events.RunEnded.of(run))


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


async def _create_run_within_quota(spec: RunSpec, *, queue: bool = False) -> Pressed:
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
        page=spec.purpose.page,
        block=spec.purpose.block,
        image=spec.image,
        command=spec.command,
        timeout_seconds=min(spec.timeout, settings.SANDBOX_TTL_SECONDS),
        panes=[{"name": part.name} for part in spec.containers()],
        queued_as=queued_as,
    )


async def stop_run(run_id: str, because: str) -> bool:
    """Stop a live run; False if no supervisor follows it."""
    return bool(await seam.ask("run.stop", run_id=str(run_id), because=str(because)))


async def _dispatch_now() -> None:
    try:
        await runqueue.dispatch()
    except Exception:
        log.exception("the queue's dispatch failed")


def _spawn(coroutine) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    TASKS.add(task)
    task.add_done_callback(TASKS.discard)
