"""A student's Kubernetes Deployment manifest, read and checked: validated against the real
Kubernetes schemas (kubernetes-validate), then narrowed to what the orchestration lab can run,
every refusal in words naming the field. Pure: no engine, no process of its own; web code
uses it to read a lab's goal, the supervisor (sandbox/supervisor/labs.py) to apply it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import kubernetes_validate
import yaml
from django.utils.translation import gettext as _

KUBERNETES_VERSION = "1.30"


MAX_REPLICAS = 5


LAB_IMAGES_FOR_SERVICES = ("baeum/web:v1", "baeum/web:v2", "baeum/web:v2-broken", "baeum/lab")


NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")


# The part of a Deployment this lab understands; anything else is named and refused.
SUPPORTED = {
    ("apiVersion",),
    ("kind",),
    ("metadata",),
    ("metadata", "name"),
    ("metadata", "labels"),
    ("spec",),
    ("spec", "replicas"),
    ("spec", "selector"),
    ("spec", "selector", "matchLabels"),
    ("spec", "strategy"),
    ("spec", "strategy", "type"),
    ("spec", "strategy", "rollingUpdate"),
    ("spec", "strategy", "rollingUpdate", "maxSurge"),
    ("spec", "strategy", "rollingUpdate", "maxUnavailable"),
    ("spec", "template"),
    ("spec", "template", "metadata"),
    ("spec", "template", "metadata", "labels"),
    ("spec", "template", "spec"),
    ("spec", "template", "spec", "containers"),
}


SUPPORTED_CONTAINER = {
    "name",
    "image",
    "command",
    "args",
    "ports",
    "resources",
    "readinessProbe",
    "livenessProbe",
}


class ManifestError(ValueError):
    """The manifest cannot be applied; the message names the field."""


@dataclass(frozen=True)
class Deployment:
    name: str
    replicas: int
    image: str
    command: str
    memory: str
    cpus: float
    health_command: str | None
    parallelism: int
    order: str
    kubectl: list[str] = field(default_factory=list)


def parse(text: str) -> Deployment:
    """Validate a Deployment manifest and translate the supported subset."""
    if len(text.encode()) > 16 * 1024:
        raise ManifestError(_("매니페스트가 너무 커요(16KiB까지)."))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ManifestError(_("YAML 문법 오류: {e}").format(e=error)) from None
    if not isinstance(data, dict) or data.get("kind") != "Deployment":
        raise ManifestError(_("kind: Deployment인 매니페스트 하나를 적어 주세요."))
    try:
        kubernetes_validate.validate(data, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path) or "(맨 위)"
        raise ManifestError(
            _("쿠버네티스 스키마 검사 실패 — {where}: {message}").format(
                where=where, message=error.message
            )
        ) from None
    _refuse_unsupported(data, ())
    spec = data["spec"]
    containers = spec["template"]["spec"]["containers"]
    if len(containers) != 1:
        raise ManifestError(
            _("이 실습은 컨테이너가 하나인 파드만 다뤄요 (spec.template.spec.containers).")
        )
    container = containers[0]
    unknown = set(container) - SUPPORTED_CONTAINER
    if unknown:
        raise ManifestError(
            _("이 실습에서 지원하지 않는 필드예요: spec.template.spec.containers[0].{f}").format(
                f=sorted(unknown)[0]
            )
        )
    name = data["metadata"].get("name", "")
    if not NAME.match(name):
        raise ManifestError(_("metadata.name은 32자 이내의 소문자, 숫자, -로 써 주세요."))
    replicas = spec.get("replicas", 1)
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ManifestError(
            _("spec.replicas는 1에서 {n} 사이로 정해 주세요.").format(n=MAX_REPLICAS)
        )
    image = container["image"]
    if image not in LAB_IMAGES_FOR_SERVICES:
        raise ManifestError(
            _(
                "spec.template.spec.containers[0].image는 실습 이미지 중 하나여야 해요: {images}"
            ).format(images=", ".join(LAB_IMAGES_FOR_SERVICES))
        )
    command = " ".join([*container.get("command", []), *container.get("args", [])])
    limits = container.get("resources", {}).get("limits", {})
    memory = _memory(limits.get("memory", "64Mi"))
    cpus = _cpus(limits.get("cpu", "250m"))
    rolling = spec.get("strategy", {}).get("rollingUpdate", {})
    surge = _count(rolling.get("maxSurge", 1), replicas)
    unavailable = _count(rolling.get("maxUnavailable", 0), replicas)
    order = "start-first" if surge > 0 and unavailable == 0 else "stop-first"
    return Deployment(
        name=name,
        replicas=replicas,
        image=image,
        command=command or "sh /app/serve.sh",
        memory=memory,
        cpus=cpus,
        health_command=_probe(container.get("readinessProbe") or container.get("livenessProbe")),
        parallelism=max(1, surge if order == "start-first" else unavailable),
        order=order,
    )


def _refuse_unsupported(value, path: tuple) -> None:
    if (
        not isinstance(value, dict)
        or path[-2:] == ("metadata", "labels")
        or path[-1:] in {("matchLabels",), ("labels",), ("containers",)}
    ):
        return
    for key, child in value.items():
        here = (*path, key)
        if here not in SUPPORTED:
            raise ManifestError(
                _("이 실습에서 지원하지 않는 필드예요: {f}").format(f=".".join(here))
            )
        _refuse_unsupported(child, here)


def _memory(text: str) -> str:
    match = re.fullmatch(r"(\d+)(Mi|M|Gi|G)", str(text))
    if not match:
        raise ManifestError(_("resources.limits.memory는 64Mi처럼 써 주세요."))
    number, unit = int(match.group(1)), match.group(2)
    return f"{number * 1024 if unit.startswith('G') else number}m"


def _cpus(text) -> float:
    text = str(text)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _count(value, replicas: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return -(-replicas * int(value[:-1]) // 100)  # rounded up, as Kubernetes does for surge
    return int(value)


def _probe(probe: dict | None) -> str | None:
    if not probe:
        return None
    if "httpGet" in probe:
        path = probe["httpGet"].get("path", "/")
        port = probe["httpGet"].get("port", 8080)
        return f"wget -q -O /dev/null http://127.0.0.1:{port}{path}"
    if "exec" in probe:
        return " ".join(probe["exec"].get("command", [])) or None
    raise ManifestError(_("프로브는 httpGet이나 exec만 지원해요."))
