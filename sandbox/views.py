from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sandbox import engine, lab_requests, runqueue, runs
from sandbox.hooks import may_watch
from sandbox.models import QueuedRun, Run

log = logging.getLogger(__name__)


@require_POST
async def run_stop(request: HttpRequest, run_id) -> HttpResponse:
    """Stop a live run: its owner, or whoever may watch it (an instructor of the class)."""
    user = await request.auser()
    run = await Run.objects.filter(pk=run_id).afirst()
    if run is None or not user.is_authenticated:
        raise Http404
    if not await database_sync_to_async(may_watch)(user, run):
        raise Http404  # another's run: not even its existence is confirmed
    if run.owner_id == user.pk:
        because = _("직접 실행을 멈췄어요.")
    else:
        because = _("강사가 실행을 멈췄어요.")
    await runs.stop_run(str(run.id), because)
    # The panel learns the new state over its socket; nothing to swap here.
    return HttpResponse(status=204)


@require_POST
async def queue_cancel(request: HttpRequest, key) -> HttpResponse:
    """Leave the run queue: the entry's owner, or whoever may watch them. The answer goes into
    the panel's live region; if the run has started meanwhile, the run panel replaces it."""
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    entry = await QueuedRun.objects.filter(key=key).afirst()
    if entry is not None:
        if not await database_sync_to_async(may_watch)(user, entry):
            raise Http404
        if await runqueue.cancel(entry):
            context = {"key": key, "message": runqueue.cancelled_message()}
            return render(request, "sandbox/queue_panel.html#cancelled", context)
    run = await Run.objects.filter(queued_as=key).afirst()
    if run is None or not await database_sync_to_async(may_watch)(user, run):
        raise Http404  # expired meanwhile, or another's
    response = render(request, "sandbox/run_panel.html#panel", {"run": run})
    response["HX-Retarget"] = f"#queue-{key}"
    response["HX-Reswap"] = "innerHTML"
    return response


@require_POST
async def lab_kill(request: HttpRequest, task_id: str) -> HttpResponse:
    """Kill one of the signed-in student's own replicas (never anyone else's)."""
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    try:
        killed = await lab_requests.kill(user.pk, task_id)
    except (engine.EngineError, engine.EngineUnavailable):
        killed = False
    return HttpResponse(status=204 if killed else 404)


@require_POST
async def lab_rollback(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    try:
        await lab_requests.rollback(user.pk)
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.warning("lab rollback of %s failed: %s", user.pk, error)
        return HttpResponse(_("되돌리지 못했어요. 잠시 후 다시 눌러 주세요."), status=409)
    return HttpResponse(status=204)
