"""The image-build lab in a lesson: edit, build, tag versions, run one, roll back."""

from __future__ import annotations

import uuid

from channels.db import database_sync_to_async
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from lessons.catalogue import BuildExercise, Lesson, catalogue
from lessons.checks import exercise_of, purpose, run_label
from lessons.lookups import block_or_404
from sandbox import errors
from sandbox.api import builds, runs
from sandbox.models import Build


def _block(slug: str, block_id: str) -> tuple[Lesson, BuildExercise]:
    return block_or_404(slug, "builds", block_id, _("빌드 실습을 찾을 수 없어요."))


def versions_of(user, lesson: Lesson, block: BuildExercise) -> list[Build]:
    if not user.is_authenticated:
        return []
    return list(
        Build.objects.filter(
            owner=user, label=run_label(lesson.slug, block.id), removed=False
        ).exclude(version="")
    )


def _message(request, text: str) -> HttpResponse:
    return render(request, "lessons/run_message.html", {"message": text})


@require_POST
async def build_start(request: HttpRequest, slug: str, block_id: str) -> HttpResponse:
    lesson, block = _block(slug, block_id)
    user = await request.auser()
    if not user.is_authenticated:
        return _message(request, _("빌드하려면 로그인해 주세요."))
    files = {name: request.POST.get(f"file:{name}", content) for name, content in block.files}
    spec = builds.BuildSpec(
        owner_id=user.pk,
        label=run_label(lesson.slug, block.id),
        purpose=purpose(lesson.slug, block.id),
        dockerfile=request.POST.get("dockerfile", block.dockerfile).replace("\r\n", "\n"),
        files={name: content.replace("\r\n", "\n") for name, content in files.items()},
    )
    try:
        build = await builds.start_build(spec)
    except builds.BuildRefused as error:
        return _message(request, str(error))
    return render(request, "sandbox/build_panel.html#panel", {"build": build})


def build_after(build: Build) -> str:
    """End fragment for builds (registered in apps.py): tag this build, see the versions."""
    found = exercise_of(build)
    if found is None or build.state != Build.State.BUILT:
        return ""
    slug, block = found
    if not isinstance(block, BuildExercise):
        return ""
    lesson = catalogue()[slug]
    owner = build.owner
    return render_to_string(
        "lessons/build_after.html",
        {
            "build": build,
            "lesson": lesson,
            "block": block,
            "versions": versions_of(owner, lesson, block),
        },
    )


@require_POST
async def build_tag(request: HttpRequest, slug: str, block_id: str) -> HttpResponse:
    lesson, block = _block(slug, block_id)
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    try:
        build_id = uuid.UUID(request.POST.get("build", ""))
    except ValueError:
        raise Http404 from None  # a malformed id names no build (not a 500)
    build = await Build.objects.filter(
        pk=build_id, owner=user, state=Build.State.BUILT, removed=False
    ).afirst()
    if build is None:
        raise Http404  # never another student's build
    version = request.POST.get("version", "").strip().lower()
    context = {"lesson": lesson, "block": block}
    try:
        await builds.request_tag(build, version)
    except builds.BuildRefused as error:
        context["error"] = str(error)
    except (errors.EngineError, errors.EngineUnavailable):
        context["error"] = _("도커 엔진에 연결할 수 없어요. 잠시 후 다시 해 주세요.")
    context["versions"] = await database_sync_to_async(versions_of)(user, lesson, block)
    return render(request, "lessons/build_versions.html", context)


@require_POST
async def build_run(request: HttpRequest, slug: str, block_id: str) -> HttpResponse:
    lesson, block = _block(slug, block_id)
    user = await request.auser()
    if not user.is_authenticated:
        return _message(request, _("실행하려면 로그인해 주세요."))
    version = request.POST.get("version", "")
    build = await Build.objects.filter(
        owner=user, label=run_label(lesson.slug, block.id), version=version, removed=False
    ).afirst()
    if build is None:
        missing = _("{v} 버전을 찾을 수 없어요. 먼저 빌드하고 태그를 붙여 주세요.")
        return _message(request, missing.format(v=version))
    spec = runs.RunSpec(
        image=f"{build.repository}:{version}",
        command=block.run,
        owner_id=user.pk,
        label=run_label(lesson.slug, block.id),
        timeout=20,
        purpose=purpose(lesson.slug, block.id),
    )
    try:
        run = await runs.start_run(spec)
    except runs.QuotaExceeded as error:
        return _message(request, str(error))
    # The class dashboards learn of the run from its start hook, as an exercise's.
    return render(request, "sandbox/run_panel.html#panel", {"run": run})


@require_GET
def build_variant(request: HttpRequest, slug: str, block_id: str, name: str) -> HttpResponse:
    lesson, block = _block(slug, block_id)
    variant = block.variant(name)
    if variant is None:
        raise Http404
    dockerfile, files = variant
    return render(
        request,
        "lessons/build_editor.html",
        {
            "lesson": lesson,
            "build_block": block,
            "dockerfile": dockerfile,
            "files": list(files.items()),
        },
    )
