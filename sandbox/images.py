"""The lab images: built locally from sandbox/images/<name>/Dockerfile, never pulled as-is.

With a registry, the base is pulled; offline (classrooms, CI, this project's machines) the image
is built FROM scratch around the host's static busybox (Debian's busybox-static).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sandbox import engine

IMAGES_DIR = Path(__file__).resolve().parent / "images"
# tag → (build context folder, build args). `baeum/lab` first: the others are built FROM it.
LAB_IMAGES = {
    "baeum/lab": (IMAGES_DIR / "lab", {}),
    "baeum/web:v1": (IMAGES_DIR / "web", {"VERSION": "v1"}),
    "baeum/web:v2": (IMAGES_DIR / "web", {"VERSION": "v2"}),
    "baeum/web:v2-broken": (IMAGES_DIR / "web", {"VERSION": "v2-broken"}),
}
BUSYBOX_BASED = "baeum/lab"  # the one built around the host's busybox when offline
ONLINE_BASE = "busybox:1.37-musl"
HOST_BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")


class BuildError(Exception):
    pass


def host_busybox() -> Path:
    for candidate in HOST_BUSYBOX_PATHS:
        path = Path(candidate)
        if path.is_file() and b"statically linked" in _file_kind(path):
            return path
    raise BuildError(
        "정적 busybox를 찾지 못했어요. Debian에서는 `apt-get install busybox-static`으로 설치해요."
    )


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


def build(tag: str, *, offline: bool | None = None) -> str:
    """Build one lab image; returns the base it was built on."""
    source, buildargs = LAB_IMAGES[tag]
    if tag != BUSYBOX_BASED:
        with tempfile.TemporaryDirectory(prefix="baeum-image-") as context:
            shutil.copytree(source, context, dirs_exist_ok=True)
            engine.build_image(tag, context, buildargs)
        return BUSYBOX_BASED
    if offline is None:
        offline = not engine.try_pull(ONLINE_BASE)
    with tempfile.TemporaryDirectory(prefix="baeum-image-") as context:
        shutil.copytree(source, context, dirs_exist_ok=True)
        if offline:
            target = Path(context) / "rootfs" / "bin" / "busybox"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(host_busybox(), target)
            target.chmod(0o755)
        base = "scratch" if offline else ONLINE_BASE
        engine.build_image(tag, context, {"BASE": base})
    return base
