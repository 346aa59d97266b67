"""A build context as the Docker gate reads it (pure): each path once, by its one clean
spelling, as the engine will read it; nothing else than plain files and folders."""

from __future__ import annotations

import io
import tarfile

import pytest

from sandbox.supervisor import docker_images
from sandbox.supervisor.docker_policy import Refused


def context(*members: tuple[str, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_context_is_read_by_clean_paths():
    entries = docker_images._context(
        context((".", None), ("app", None), ("./Dockerfile", b"FROM busybox\n"), ("app/x", b"x"))
    )
    assert set(entries) == {"app", "Dockerfile", "app/x"}
    assert entries["Dockerfile"].data == b"FROM busybox\n"


@pytest.mark.parametrize(
    "members",
    [
        # Two spellings of one path: the gate would judge one, the engine build the other.
        [("Dockerfile", b"FROM busybox\n"), ("./Dockerfile", b"FROM busybox\nUSER 0\n")],
        [("Dockerfile", b"FROM busybox\n"), ("././Dockerfile", b"USER 0\n")],
        [("a//b", b"x")],
        [("a/./b", b"x")],
        [("../outside", b"x")],
        [("/etc/passwd", b"x")],
    ],
)
def test_a_path_spelled_otherwise_or_twice_is_refused(members):
    with pytest.raises(Refused):
        docker_images._context(context(*members))


def test_links_and_compressed_contexts_are_refused():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("Dockerfile")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(Refused, match="링크"):
        docker_images._context(buffer.getvalue())
    squeezed = io.BytesIO()
    with tarfile.open(fileobj=squeezed, mode="w:gz") as archive:
        info = tarfile.TarInfo("Dockerfile")
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(Refused, match="--compress"):
        docker_images._context(squeezed.getvalue())
