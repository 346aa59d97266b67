from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sandbox.api import labs as lab_requests
from sandbox.api import queue as runqueue
from sandbox.api import runs, workspace_files
from sandbox.errors import EngineError, EngineUnavailable
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
    except (EngineError, EngineUnavailable):
        killed = False
    return HttpResponse(status=204 if killed else 404)


@require_POST
async def lab_rollback(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    try:
        await lab_requests.rollback(user.pk)
    except (EngineError, EngineUnavailable) as error:
        log.warning("lab rollback of %s failed: %s", user.pk, error)
        return HttpResponse(_("되돌리지 못했어요. 잠시 후 다시 눌러 주세요."), status=409)
    return HttpResponse(status=204)


# Files in and out of the student's own terminal /work (sandbox/api/workspace_files.py). No URL
# names a user or a playground: the owner is always the signed-in user.


def _said(refusal: workspace_files.Refused) -> HttpResponse:
    return HttpResponse(
        refusal.message, status=refusal.status, content_type="text/plain; charset=utf-8"
    )


def _engine_trouble(error: Exception, owner_id: int) -> workspace_files.Refused:
    log.warning("files of the terminal of %s: %s", owner_id, error)
    if isinstance(error, EngineUnavailable):
        return workspace_files.Refused(
            _("도커 엔진에 연결할 수 없어요. 잠시 후 다시 해 주세요."), 503
        )
    return workspace_files.Refused(
        _("파일을 옮기지 못했어요. 잠시 후 다시 해 주세요. 계속되면 선생님께 알려 주세요."), 502
    )


def _signed_out() -> workspace_files.Refused:
    return workspace_files.Refused(_("파일을 올리고 받으려면 로그인해 주세요."), 403)


@require_POST
async def workspace_upload(request: HttpRequest) -> HttpResponse:
    """One file (the form field `file`) into the student's /work; the answer is the sentence
    the page shows."""
    user = await request.auser()
    if not user.is_authenticated:
        return _said(_signed_out())
    limit = workspace_files.upload_limit()
    # A body far over the cap is refused before it is parsed (multipart adds a little).
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        return _said(workspace_files.too_big(int(request.META["CONTENT_LENGTH"])))
    sent = request.FILES.get("file")
    if sent is None:
        return _said(workspace_files.Refused(_("올릴 파일을 골라 주세요.")))
    name = request.POST.get("name") or sent.name or ""
    try:
        workspace_files.check_name(name)
        if (sent.size or 0) > limit:
            raise workspace_files.too_big(sent.size or 0)
        await workspace_files.upload(user.pk, name, sent.read())
    except workspace_files.Refused as refusal:
        return _said(refusal)
    except (EngineError, EngineUnavailable) as error:
        return _said(_engine_trouble(error, user.pk))
    return HttpResponse(
        workspace_files.uploaded_message(name), content_type="text/plain; charset=utf-8"
    )


@require_GET
async def workspace_list(request: HttpRequest) -> HttpResponse:
    """The files at the top of the student's /work, each with its download link."""
    user = await request.auser()
    context: dict = {"files": [], "message": ""}
    if not user.is_authenticated:
        context["message"] = _signed_out().message
    else:
        try:
            context["files"], context["saved"] = await workspace_files.list_files(user.pk)
        except workspace_files.Refused as refusal:
            context["message"] = refusal.message
        except (EngineError, EngineUnavailable) as error:
            context["message"] = _engine_trouble(error, user.pk).message
    return render(request, "sandbox/workspace_files.html#list", context)


@require_GET
async def workspace_download(request: HttpRequest, archive: bool = False) -> HttpResponse:
    """One file of the student's /work (`?name=`), or the whole of it as a .tar.gz."""
    user = await request.auser()
    name = request.GET.get("name", "")
    try:
        if not user.is_authenticated:
            raise _signed_out()
        if archive:
            data = await workspace_files.download_archive(user.pk)
            filename, content_type = "work.tar.gz", "application/gzip"
        else:
            data = await workspace_files.download_file(user.pk, name)
            filename, content_type = name, "application/octet-stream"
    except workspace_files.Refused as refusal:
        return await _refused_page(request, refusal)
    except (EngineError, EngineUnavailable) as error:
        return await _refused_page(request, _engine_trouble(error, user.pk or 0))
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


async def _refused_page(request: HttpRequest, refusal: workspace_files.Refused) -> HttpResponse:
    context = {"message": refusal.message}
    # A whole page: base.html reads the session's user, which is database work.
    page = sync_to_async(render)
    return await page(request, "sandbox/workspace_refused.html", context, status=refusal.status)
