"""An instructor empties a student's persistent /work (sandbox/supervisor/workspaces.py), from the
student's terminal view: only for a student of a class they teach."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lessons.classes import taught_student
from sandbox.api import workspaces
from sandbox.errors import EngineError, EngineUnavailable


@require_POST
async def class_workspace_reset(request: HttpRequest, pk: int, student_id: int) -> HttpResponse:
    """Async, like the student's own reset: it runs on the loop that follows the terminals."""
    user = await request.auser()
    if not user.is_authenticated:
        raise PermissionDenied(_("이 수업의 강사만 비울 수 있어요."))
    refusal = _("이 수업의 강사만 비울 수 있어요.")
    student = await sync_to_async(taught_student)(user, pk, student_id, refusal)
    name = student.get_username()
    if request.POST.get("confirm") != "yes":
        message = _("확인란에 표시해야 비울 수 있어요. 아무것도 지우지 않았어요.")
        await sync_to_async(messages.error)(request, message)
        return redirect("class_dashboard", pk=pk)
    try:
        await workspaces.request_reset(student.pk)
    except (EngineUnavailable, EngineError):
        message = _("실습 서버에 연결할 수 없어 비우지 못했어요. 잠시 후 다시 해 주세요.")
        await sync_to_async(messages.error)(request, message)
    else:
        message = _("{name}의 작업 공간(/work)을 비웠어요.").format(name=name)
        await sync_to_async(messages.success)(request, message)
    return redirect("class_dashboard", pk=pk)
