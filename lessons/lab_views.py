"""Orchestration labs in the Kubernetes lessons: apply a manifest, see the replicas, check."""

from __future__ import annotations

import logging
from collections import Counter

from channels.db import database_sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lessons.catalogue import Lesson, OrchestraLab
from lessons.lookups import block_or_404
from lessons.models import Attempt
from lessons.progress import record
from sandbox import errors, manifests
from sandbox.api import labs as lab_requests

log = logging.getLogger(__name__)


def _lab(slug: str, lab_id: str) -> tuple[Lesson, OrchestraLab]:
    return block_or_404(slug, "labs", lab_id, _("실습을 찾을 수 없어요."))


def _problem(request, message: str) -> HttpResponse:
    return render(request, "lessons/run_message.html", {"message": message})


async def _owner_id(request: HttpRequest) -> int:
    """The signed-in student's id (the views are behind login_required)."""
    user = await request.auser()
    if user.pk is None:
        raise Http404
    return user.pk


@login_required
@require_POST
async def lab_apply(request: HttpRequest, slug: str, lab_id: str) -> HttpResponse:
    _lab(slug, lab_id)
    owner_id = await _owner_id(request)
    text = request.POST.get("manifest", "").replace("\r\n", "\n")
    try:
        await lab_requests.apply(owner_id, text)
        found = await lab_requests.state(owner_id)
    except manifests.ManifestError as error:  # the supervisor's refusals arrive as these
        return _problem(request, str(error))
    except errors.EngineUnavailable:
        return _problem(request, _("도커 엔진에 연결할 수 없어요. 잠시 후 다시 적용해 주세요."))
    except errors.EngineError as error:
        log.warning("lab of %s: the orchestrator refused: %s", owner_id, error)
        return _problem(
            request,
            _(
                "오케스트레이터가 이 매니페스트를 적용하지 못했어요. 잠시 후 다시 적용해 주세요. "
                "계속되면 선생님께 알려 주세요."
            ),
        )
    return render(request, "sandbox/lab_panel.html#panel", {"lab": found})


@login_required
@require_POST
async def lab_balance(request: HttpRequest, slug: str, lab_id: str) -> HttpResponse:
    _lab(slug, lab_id)
    owner_id = await _owner_id(request)
    try:
        answers = await lab_requests.balance(owner_id, 12)
    except (errors.EngineError, errors.EngineUnavailable):
        return _problem(request, _("도커 엔진에 연결할 수 없어요."))
    if answers is None:
        return _problem(request, _("먼저 매니페스트를 적용해 주세요."))
    return render(
        request,
        "lessons/lab_balance.html",
        {"answers": answers, "counts": Counter(a for a in answers if a.startswith("web "))},
    )


def goal_met(lab: OrchestraLab, state: dict | None) -> tuple[bool, str]:
    """Has the student's lab (`state`, from lab_requests.state) reached the lab's goal?"""
    if state is None:
        return False, _("먼저 매니페스트를 적용해 주세요.")
    settled = state["running"] == state["replicas"]
    initial = manifests.parse(lab.manifest).replicas
    checks = {
        "apply": (settled, _("원하는 개수의 레플리카가 모두 실행 중이어야 해요.")),
        "heal": (
            state["recovery_seconds"] is not None,
            _("레플리카 하나를 죽이고, 오케스트레이터가 되살릴 때까지 기다려 보세요."),
        ),
        "scale": (
            settled and state["replicas"] != initial,
            _("replicas 값을 바꿔 적용하고, 개수가 맞춰질 때까지 기다려 보세요."),
        ),
        "update": (
            settled
            and all(c["image"].endswith(":v2") for c in state["cards"] if c["state"] == "running"),
            _("이미지를 baeum/web:v2로 바꿔 적용하고, 모든 레플리카가 v2가 되길 기다려요."),
        ),
        "rollback": (
            state["rolled_back"] and settled,
            _("롤백 버튼으로 이전 버전으로 되돌리고, 레플리카가 다 뜰 때까지 기다려 보세요."),
        ),
        "balance": (
            state["balanced_replicas"] > 1,
            _("레플리카를 2개 이상 띄우고 '부하 분산 확인'을 눌러 보세요."),
        ),
    }
    passed, hint = checks[lab.goal]
    return passed, "" if passed else hint


@login_required
@require_POST
async def lab_verify(request: HttpRequest, slug: str, lab_id: str) -> HttpResponse:
    lesson, lab = _lab(slug, lab_id)
    owner_id = await _owner_id(request)
    user = await request.auser()
    try:
        passed, reason = goal_met(lab, await lab_requests.state(owner_id))
    except (errors.EngineError, errors.EngineUnavailable):
        return _problem(request, _("도커 엔진에 연결할 수 없어요."))
    await database_sync_to_async(record)(
        user, lesson.slug, lab.id, Attempt.Kind.CHECK, passed, reason=reason
    )
    return render(request, "lessons/lab_verify.html", {"passed": passed, "reason": reason})
