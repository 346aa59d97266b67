"""The lab images: built locally from sandbox/images/<name>/Dockerfile, never pulled.

`baeum/lab` is one build everywhere, online or not: FROM scratch around the host's static
busybox (Debian's busybox-static, 1.36.1-5 or later), so an exercise that passes in CI passes in
every classroom, and `ps` prints the same columns (PID USER COMMAND) for every student. The
other lab images are built FROM it.

Debian 12's busybox-static (1.35) is built without wget's timeout (FEATURE_WGET_TIMEOUT): `-T`
stays in wget's option string with nowhere to store its value, and `wget -T 3 …` dies of a
segmentation fault (exit 139). Debian 13's has it; `scripts/prepare-machine.sh` installs that one,
and the build refuses a busybox whose wget lacks `-T`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sandbox import engine
from sandbox.lab_images import LAB_IMAGES, SERVICE_IMAGES

BUSYBOX_BASED = "baeum/lab"  # the one built around the host's busybox
HOST_BUSYBOX_PATHS = ("/usr/bin/busybox", "/bin/busybox")
# The docker CLI a terminal talks to its gate with (sandbox/supervisor/docker_gate.py): Debian's
# docker.io client, with the C library it links (copied as `ldd` lists them).
HOST_DOCKER_CLI = Path("/usr/bin/docker")
# Compose v2, the CLI's plugin (`docker compose`): the one file of trixie's docker-compose
# package that scripts/prepare-machine.sh keeps (never installed: see there); in the image at the
# place the CLI looks for plugins.
HOST_COMPOSE = Path("/var/cache/baeum/docker-compose/2.26.1-4/docker-compose")
# Debian 12's docker-registry, its one binary kept the same way, for baeum/registry.
HOST_REGISTRY = Path("/var/cache/baeum/docker-registry/2.8.2+ds1-1/docker-registry")
REGISTRY_IMAGE = "baeum/registry"
COMPOSE_IN_IMAGE = Path("/usr/libexec/docker/cli-plugins/docker-compose")
INSTALL_HINT = "`bash scripts/prepare-machine.sh`가 Debian 13의 busybox-static을 설치해요."


class BuildError(Exception):
    pass


def no_engine_hint(what: str) -> str:
    """Two lines for the console when no Docker Engine answers: what is missing (and what that
    means: `what`), and how to start it."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return (
        f"배움: Docker Engine이 응답하지 않아요 ({where}). {what}\n"
        "  엔진 시작: Debian이면 `sudo bash scripts/prepare-machine.sh`, 그 밖에는 "
        "`sudo systemctl start docker`. 그다음 `make run`을 다시 하세요."
    )


def host_busybox() -> Path:
    """The host's static busybox, if its tools do what the lessons rely on."""
    for candidate in HOST_BUSYBOX_PATHS:
        path = Path(candidate)
        if path.is_file() and b"statically linked" in _file_kind(path):
            if not _wget_has_timeout(path):
                raise BuildError(
                    f"{path}의 wget이 -T(시간 제한)를 모르는 빌드라서 `wget -T`가 "
                    f"세그멘테이션 오류로 죽어요. {INSTALL_HINT}"
                )
            return path
    raise BuildError(f"정적 busybox를 찾지 못했어요. {INSTALL_HINT}")


def _wget_has_timeout(busybox: Path) -> bool:
    # Built with FEATURE_WGET_TIMEOUT, wget's usage names `-T SEC`; without it, using -T crashes.
    usage = subprocess.run(
        [str(busybox), "wget", "--help"], capture_output=True, text=True, timeout=10
    )
    return "-T SEC" in usage.stdout + usage.stderr


def _file_kind(path: Path) -> bytes:
    # An ELF file without a PT_INTERP program header is statically linked; read the headers
    # ourselves rather than depend on `file`.
    data = path.read_bytes()[:4096]
    if data[:4] != b"\x7fELF":
        return b""
    return (
        b"dynamically linked"
        if b"ld-linux" in data or b"/lib64/ld" in data
        else b"statically linked"
    )


# Each lab image carries a fingerprint of what it was built from (its folder, its build args, the
# host busybox, its base's fingerprint): `build_lab_images --if-missing` rebuilds one whose
# inputs changed, so a classroom never runs exercises on a stale image.
INPUTS_LABEL = "baeum.inputs"


def fingerprint(tag: str) -> str:
    source, buildargs = {**LAB_IMAGES, **SERVICE_IMAGES}[tag]
    digest = hashlib.sha256(repr(sorted(buildargs.items())).encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    if tag == BUSYBOX_BASED:
        digest.update(host_busybox().read_bytes())
        for path in _docker_cli_files():
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    else:
        digest.update(fingerprint(BUSYBOX_BASED).encode())
    if tag == REGISTRY_IMAGE:
        digest.update(HOST_REGISTRY.read_bytes())
    return digest.hexdigest()[:16]


def up_to_date(tag: str) -> bool:
    return engine.image_label(tag, INPUTS_LABEL) == fingerprint(tag)


def build(tag: str) -> str:
    """Build one lab image; returns what it was built on."""
    source, buildargs = {**LAB_IMAGES, **SERVICE_IMAGES}[tag]
    labels = {INPUTS_LABEL: fingerprint(tag)}
    with tempfile.TemporaryDirectory(prefix="baeum-image-") as context:
        shutil.copytree(source, context, dirs_exist_ok=True)
        if tag == REGISTRY_IMAGE:
            shutil.copy2(HOST_REGISTRY, Path(context) / "docker-registry")
        if tag != BUSYBOX_BASED:
            engine.build_image(tag, context, buildargs, labels)
            return BUSYBOX_BASED
        busybox = host_busybox()
        target = Path(context) / "rootfs" / "bin" / "busybox"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(busybox, target)
        target.chmod(0o755)
        for path in _docker_cli_files():
            inside = COMPOSE_IN_IMAGE if path == HOST_COMPOSE else path
            copied = Path(context) / "rootfs" / inside.relative_to("/")
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copied)
        engine.build_image(tag, context, buildargs, labels)
    return f"scratch, {busybox_version(busybox)}"


def _docker_cli_files() -> list[Path]:
    """The host's docker CLI, its Compose plugin when the host has it (`docker compose`), and
    the shared libraries they load (none for a static build); none at all on a host without
    the CLI (the terminals then have no docker command)."""
    if not HOST_DOCKER_CLI.is_file():
        return []
    programs = [HOST_DOCKER_CLI, *([HOST_COMPOSE] if HOST_COMPOSE.is_file() else [])]
    libraries: set[Path] = set()
    for program in programs:
        listed = subprocess.run(
            ["ldd", str(program)], capture_output=True, text=True, timeout=10
        ).stdout
        libraries |= {Path(word) for word in listed.split() if word.startswith("/")}
    return [*programs, *sorted(path for path in libraries if path.is_file())]


def busybox_version(busybox: Path) -> str:
    banner = subprocess.run([str(busybox)], capture_output=True, text=True, timeout=10).stdout
    return banner.split(" multi-call", 1)[0].strip() or str(busybox)


def service_images() -> list[str]:
    """The project's service images this host can build (baeum/registry needs its binary)."""
    return [tag for tag in SERVICE_IMAGES if tag != REGISTRY_IMAGE or HOST_REGISTRY.is_file()]
