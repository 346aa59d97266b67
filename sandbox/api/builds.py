"""Image builds, from web code: a student's Dockerfile checked (size caps, then the Dockerfile
evaluated as the builder will and judged by sandbox/dockerfile_rules.py), the record made, and
the build handed to the supervisor (sandbox/supervisor/builds.py), which runs and streams it."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import dockerfile_rules, seam
from sandbox.errors import EngineUnavailable
from sandbox.lab_images import LAB_IMAGES
from sandbox.models import Build
from sandbox.specs import Purpose

log = logging.getLogger(__name__)


MAX_DOCKERFILE_BYTES = 8 * 1024


MAX_FILE_BYTES = 64 * 1024


MAX_FILES = 10


FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


ENGINE_DOWN = gettext_lazy("도커 엔진에 연결할 수 없어요. 잠시 후 다시 빌드해 주세요.")


class BuildRefused(ValueError):
    """The build was refused before anything reached the engine; the message says why."""


@dataclass(frozen=True)
class BuildSpec:
    owner_id: int
    label: str  # an opaque key, as a run's (lessons: "lesson/<slug>/<block>")
    dockerfile: str
    files: dict[str, str]
    purpose: Purpose = Purpose()

    def data(self) -> dict:
        """As plain data, to travel to the supervisor."""
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict) -> BuildSpec:
        return cls(**{**data, "purpose": Purpose(**data.get("purpose", {}))})


def repository_for(owner_id: int, label: str) -> str:
    """The student's images, inside this deployment's namespace (another deployment's student
    with the same id gets other tags)."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:80]
    namespace = re.sub(r"[^a-z0-9]+", "-", settings.SANDBOX_NAMESPACE.lower()).strip("-")[:40]
    return f"baeum-build/{namespace}-u{owner_id}-{slug}"


def validate(spec: BuildSpec) -> None:
    if len(spec.dockerfile.encode()) > MAX_DOCKERFILE_BYTES:
        raise BuildRefused(
            _("Dockerfile이 너무 커요({n}바이트까지).").format(n=MAX_DOCKERFILE_BYTES)
        )
    if len(spec.files) > MAX_FILES:
        raise BuildRefused(_("빌드에 넣을 수 있는 파일은 {n}개까지예요.").format(n=MAX_FILES))
    for name, content in spec.files.items():
        if not FILE_NAME.match(name) or name == "Dockerfile":
            raise BuildRefused(_("파일 이름 {name}은(는) 쓸 수 없어요.").format(name=name))
        if len(content.encode()) > MAX_FILE_BYTES:
            raise BuildRefused(_("{name} 파일이 너무 커요.").format(name=name))
    try:
        dockerfile_rules.check(spec.dockerfile, set(LAB_IMAGES))
    except dockerfile_rules.Refused as error:
        raise BuildRefused(str(error)) from error


def group_name(build_id) -> str:
    return f"build_{build_id}"


async def start_build(spec: BuildSpec) -> Build:
    validate(spec)
    if await Build.objects.filter(owner_id=spec.owner_id, state=Build.State.BUILDING).aexists():
        raise BuildRefused(_("이미 빌드 중이에요. 끝나면 다시 빌드해 주세요."))
    build = await Build.objects.acreate(
        owner_id=spec.owner_id,
        label=spec.label,
        page=spec.purpose.page,
        block=spec.purpose.block,
        repository=repository_for(spec.owner_id, spec.label),
        dockerfile=spec.dockerfile,
    )
    try:
        await seam.tell("build.start", build_id=str(build.id), spec=spec.data())
    except EngineUnavailable as error:  # also: the supervisor is not running
        log.warning("build %s could not be handed over: %s", build.id, error)
        build.state = Build.State.FAILED
        build.message = (
            str(error) if isinstance(error, seam.SupervisorUnavailable) else str(ENGINE_DOWN)
        )
        build.ended_at = timezone.now()
        await build.asave()
    return build


async def request_tag(build: Build, version: str) -> None:
    """Web side: have the supervisor tag the build (raises BuildRefused in words)."""
    refused = await seam.ask("build.tag", build_id=str(build.id), version=version)
    if refused:
        raise BuildRefused(refused)


async def request_layers(build: Build) -> list[dict]:
    """Web side: the built image's layers (see `layers`), from the supervisor."""
    return await seam.ask("build.layers", build_id=str(build.id))
