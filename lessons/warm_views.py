"""Warming a class (수업 시작): an instructor grows the warm pool toward one waiting container
per student of the class who is online, before everyone presses 실행 at once
(sandbox/supervisor/warmup.py).
The dashboard's panel shows the pool's size and memory, polled every two seconds."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from lessons.classes import teaches
from lessons.htmx import HtmxHttpRequest
from lessons.models import Classroom
from sandbox.api import warmup
from sandbox.errors import EngineError, EngineUnavailable


def warm_key(classroom: Classroom) -> str:
    return f"class-{classroom.pk}"


@sync_to_async
def _taught_with_students(user, pk: int) -> tuple[Classroom, list[int]]:
    classroom = get_object_or_404(Classroom, pk=pk)
    if not teaches(user, classroom):
        raise PermissionDenied(_("이 수업의 강사만 할 수 있어요."))
    return classroom, list(classroom.students.values_list("pk", flat=True))


async def _panel(request: HttpRequest, pk: int, *, action: str = "") -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    classroom, student_ids = await _taught_with_students(user, pk)
    context: dict = {"classroom": classroom}
    key = warm_key(classroom)
    try:
        if action == "start":
            found = await warmup.warm(key, student_ids)
        elif action == "stop":
            found = await warmup.cool(key)
        else:
            found = await warmup.state(key)
    except (EngineUnavailable, EngineError):
        context["unavailable"] = True
    else:
        found["idle_ends_at"] = parse_datetime(found["idle_ends_at"] or "")
        context["warm"] = found
    return render(request, "lessons/class_warm.html", context)


async def _pressed(request: HtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    response = await _panel(request, pk, action=action)
    if not request.htmx and response.status_code == 200:  # the form without htmx: back to the page
        return redirect("class_dashboard", pk=pk)
    return response


@require_POST
async def class_warm_start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return await _pressed(request, pk, "start")


@require_POST
async def class_warm_stop(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return await _pressed(request, pk, "stop")


@require_GET
async def class_warm_panel(request: HttpRequest, pk: int) -> HttpResponse:
    return await _panel(request, pk)
