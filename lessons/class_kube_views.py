"""A student's pods and workloads on the cluster, for an instructor of their class: a panel on
the student's terminal view, refreshed every few seconds (htmx), with what they last applied."""

from __future__ import annotations

import json

import yaml
from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from lessons.classes import taught_student
from sandbox.api import kube_objects
from sandbox.errors import EngineError, EngineUnavailable

REFRESH_SECONDS = 5


async def class_student_kubernetes(request: HttpRequest, pk: int, student_id: int) -> HttpResponse:
    user = await request.auser()
    refusal = _("이 수업의 강사만 볼 수 있어요.")
    if not user.is_authenticated:
        raise PermissionDenied(refusal)
    student = await sync_to_async(taught_student)(user, pk, student_id, refusal)
    try:
        objects = await kube_objects.request_objects(student.pk)
    except (EngineUnavailable, EngineError):
        objects = {"configured": True, "unavailable": True}
    for workload in objects.get("workloads", []):
        workload["applied"] = _as_yaml(workload["applied"])
    context = {
        "classroom_pk": pk,
        "student": student,
        "objects": objects,
        "refresh": REFRESH_SECONDS,
    }
    return await sync_to_async(render)(request, "lessons/class_kubernetes.html", context)


def _as_yaml(applied: str) -> str:
    """kubectl keeps the last applied manifest as JSON; an instructor reads it as YAML, the way
    the student wrote it. Anything unreadable is shown as it is."""
    try:
        return yaml.safe_dump(json.loads(applied), allow_unicode=True, sort_keys=False)
    except ValueError:
        return applied
