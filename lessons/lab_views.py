"""Orchestration labs in the Kubernetes lessons: apply a manifest, see the replicas, check."""

from __future__ import annotations

from collections import Counter

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lessons.catalogue import Lesson, OrchestraLab, catalogue
from lessons.models import Attempt
from lessons.progress import record
from sandbox import engine, orchestra


def _lab(slug: str, lab_id: str) -> tuple[Lesson, OrchestraLab]:
    lesson = catalogue().get(slug)
    lab = lesson.labs.get(lab_id) if lesson else None
    if lab is None:
        raise Http404(_("실습을 찾을 수 없어요."))
    return lesson, lab


def _problem(request, message: str) -> HttpResponse:
    return render(request, "lessons/run_message.html", {"message": message})


@login_required
@require_POST
def lab_apply(request: HttpRequest, slug: str, lab_id: str) -> HttpResponse:
    _lab(slug, lab_id)
    text = request.POST.get("manifest", "").replace("\r\n", "\n")
    try:
        orchestra.apply(request.user.pk, text)
    except (orchestra.ManifestError, orchestra.OrchestrationOff) as error:
        return _problem(request, str(error))
    except engine.EngineUnavailable:
        return _problem(request, _("도커 엔진에 연결할 수 없어요. 잠시 후 다시 적용해 주세요."))
    except engine.EngineError as error:
        return _problem(request, _("오케스트레이터가 거절했어요: {e}").format(e=error))
    return render(
        request, "sandbox/lab_panel.html#panel", {"lab": orchestra.state(request.user.pk)}
    )


@login_required
@require_POST
def lab_balance(request: HttpRequest, slug: str, lab_id: str) -> HttpResponse:
    _lab(slug, lab_id)
    if request.user.pk not in orchestra.LIVE:
        return _problem(request, _("먼저 매니페스트를 적용해 주세요."))
    try:
        answers = orchestra.load_balance(request.user.pk, 12)
    except (engine.EngineError, engine.EngineUnavailable):
        return _problem(request, _("도커 엔진에 연결할 수 없어요."))
    return render(
        request,
        "lessons/lab_balance.html",
        {"answers": answers, "counts": Counter(a for a in answers if a.startswith("web "))},
    )


def goal_met(lab: OrchestraLab, owner_id: int) -> tuple[bool, str]:
    state = orchestra.state(owner_id)
    live = orchestra.LIVE.get(owner_id)
    if state is None or live is None:
        return False, _("먼저 매니페스트를 적용해 주세요.")
    settled = state["running"] == state["replicas"]
    initial = orchestra.parse(lab.manifest).replicas
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
            live.rolled_back and settled,
            _("롤백 버튼으로 이전 버전으로 되돌리고, 레플리카가 다 뜰 때까지 기다려 보세요."),
        ),
        "balance": (
            live.balanced_replicas > 1,
            _("레플리카를 2개 이상 띄우고 '부하 분산 확인'을 눌러 보세요."),
        ),
    }
    passed, hint = checks[lab.goal]
    return passed, "" if passed else hint


@login_required
@require_POST
def lab_verify(request: HttpRequest, slug: str, lab_id: str) -> HttpResponse:
    lesson, lab = _lab(slug, lab_id)
    try:
        passed, reason = goal_met(lab, request.user.pk)
    except (engine.EngineError, engine.EngineUnavailable):
        return _problem(request, _("도커 엔진에 연결할 수 없어요."))
    record(request.user, lesson.slug, lab.id, Attempt.Kind.CHECK, passed, reason=reason)
    return render(request, "lessons/lab_verify.html", {"passed": passed, "reason": reason})
