"""What a student did with the docker CLI, for an instructor of their class: a panel on the
student's terminal view, refreshed every few seconds (htmx): their containers as the Docker
gate last saw them, and their latest calls in the CLI's words, refusals marked."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from lessons.classes import taught_student
from sandbox.models import DockerCall, Playground

REFRESH_SECONDS = 5
SHOWN_CALLS = 30


async def class_student_docker(request: HttpRequest, pk: int, student_id: int) -> HttpResponse:
    user = await request.auser()
    refusal = _("이 수업의 강사만 볼 수 있어요.")
    if not user.is_authenticated:
        raise PermissionDenied(refusal)
    student = await sync_to_async(taught_student)(user, pk, student_id, refusal)
    playground = (
        await Playground.objects.filter(owner=student, ended_at__isnull=True)
        .order_by("-created_at")
        .afirst()
    )
    calls = []
    if playground is not None:
        calls = [
            call
            async for call in DockerCall.objects.filter(playground=playground).order_by(
                "-created_at"
            )[:SHOWN_CALLS]
        ]
    context = {
        "classroom_pk": pk,
        "student": student,
        "playground": playground,
        "containers": playground.docker_containers if playground else [],
        "calls": calls,
        "refresh": REFRESH_SECONDS,
        "loaded": True,
    }
    return await sync_to_async(render)(request, "lessons/class_docker.html", context)
