"""모든 학생 터미널 연장: an instructor of the class adds the terminals' lifetime again to every
open terminal of its students (sandbox/supervisor/terminal_time.py; not counted against the
students' own
daily cap, which is theirs)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lessons.htmx import HtmxHttpRequest
from lessons.warm_views import _taught_with_students
from sandbox.api import terminal_time
from sandbox.errors import EngineError, EngineUnavailable


@require_POST
async def class_terminals_extend(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    classroom, student_ids = await _taught_with_students(user, pk)
    context: dict = {
        "classroom": classroom,
        "lifetime_minutes": settings.SANDBOX_PLAYGROUND_SECONDS // 60,
    }
    try:
        context["result"] = await terminal_time.request_extend_many(student_ids, user.pk)
    except (EngineUnavailable, EngineError):
        context["unavailable"] = True
    if not request.htmx:  # the form without htmx: back to the page
        return redirect("class_dashboard", pk=pk)
    return await sync_to_async(render)(request, "lessons/class_extend.html", context)
