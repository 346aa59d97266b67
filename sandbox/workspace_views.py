"""The student's own persistent /work: empty it (with a confirmation), read back the last
session's screen. No URL names a user: the owner is always the signed-in student."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sandbox.api import workspaces
from sandbox.errors import EngineError, EngineUnavailable
from sandbox.models import Workspace

log = logging.getLogger(__name__)

# Terminal control sequences (colours, cursor moves, titles) and the carriage returns of a TTY:
# the last session is shown as plain text.
_CONTROLS = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: a title, the shell-exited mark
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b[@-Z\\-_]"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)


def plain_text(scrollback: str) -> str:
    text = scrollback.replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        # A lone \r rewrites the line from its start: keep what was written last.
        lines.append(_CONTROLS.sub("", line.rsplit("\r", 1)[-1] if "\r" in line else line))
    return "\n".join(lines).strip("\n")


def _said(message: str, status: int = 200) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@require_POST
async def workspace_reset(request: HttpRequest) -> HttpResponse:
    """Empty the student's /work: the saved tar deleted, an open terminal ended without saving.
    Only with the confirmation box ticked; the answer is the sentence the panel shows."""
    user = await request.auser()
    if not user.is_authenticated:
        return _said(_("작업 공간을 비우려면 로그인해 주세요."), 403)
    if request.POST.get("confirm") != "yes":
        return _said(
            _("정말 비울지 확인란에 표시한 뒤 다시 눌러 주세요. 아직 아무것도 지우지 않았어요."),
            400,
        )
    try:
        await workspaces.request_reset(user.pk)
    except EngineUnavailable:
        return _said(_("실습 서버에 연결할 수 없어 비우지 못했어요. 잠시 후 다시 해 주세요."), 503)
    except EngineError as error:
        log.warning("workspace of %s: reset failed (%s)", user.pk, error)
        return _said(_("작업 공간을 비우지 못했어요. 잠시 후 다시 해 주세요."), 502)
    return _said(_("작업 공간(/work)을 비웠어요. 다음에 여는 터미널은 빈 /work로 시작해요."))


@login_required
def workspace_keep(request: HttpRequest) -> HttpResponse:
    """The terminal panel's section about the student's saved /work (loaded by htmx)."""
    workspace = Workspace.objects.filter(owner_id=request.user.pk).first()
    return render(
        request,
        "sandbox/workspace_keep.html",
        {
            "workspace": workspace,
            "full": workspaces.nearly_full_message()
            if workspace and workspaces.nearly_full(workspace.bytes)
            else "",
            "cap": workspaces.mib(workspaces.cap()),
            "days": settings.SANDBOX_WORKSPACE_DAYS,
        },
    )


@login_required
def last_session(request: HttpRequest) -> HttpResponse:
    """The scrollback of the student's last terminal session, as it was saved at its end."""
    workspace = Workspace.objects.filter(owner_id=request.user.pk).first()
    return render(
        request,
        "sandbox/last_session.html",
        {
            "workspace": workspace,
            "text": plain_text(workspace.scrollback) if workspace else "",
            "cap": workspaces.mib(workspaces.cap()),
        },
    )
