"""Files in and out of a student's terminal, as web code asks for them: upload into `/work`,
download one file of it or the whole of it as a .tar.gz, list it.

The work happens where the playground lives (sandbox/supervisor/workspace_files.py); this side
checks what it can before asking (the name, the size) and moves payloads over the seam in
pieces of CHUNK_BYTES, never as one message of megabytes. Only the owner's own playground is
ever touched: the owner id comes from the signed-in user, never from a URL.
"""

from __future__ import annotations

import io
import logging
import tarfile
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import seam

log = logging.getLogger(__name__)


CHUNK_BYTES = 512 * 1024  # well under what the Redis channel layer should carry in one message


NAME_BYTES = 255  # a file name's limit on Linux (NAME_MAX)


LISTED_FILES = 50


class Refused(Exception):
    """Said to the student as it is (Korean, what was wrong and what to do), with an HTTP
    status for the view."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def no_terminal() -> Refused:
    return Refused(_("터미널을 먼저 열어 주세요. 파일은 열린 터미널의 /work에 오가요."), 409)


def check_name(name: str) -> str:
    """The name a file gets in /work, or Refused saying what is wrong with it."""
    if not name:
        raise Refused(_("파일 이름이 비어 있어요."))
    if "\0" in name:
        raise Refused(_("파일 이름에 NUL 문자가 들어 있어요. 이름을 바꿔서 올려 주세요."))
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Refused(_("파일 이름에 제어 문자(줄바꿈, 탭 등)가 들어 있어요. 이름을 바꿔 주세요."))
    if "/" in name or "\\" in name:
        raise Refused(
            _("파일 이름에 / 나 \\ 는 쓸 수 없어요. 폴더 경로 말고 파일 이름만 올릴 수 있어요.")
        )
    if name in {".", ".."}:
        raise Refused(_("‘.’이나 ‘..’은 파일 이름으로 쓸 수 없어요."))
    if len(name.encode()) > NAME_BYTES:
        raise Refused(
            _("파일 이름이 너무 길어요 ({n}바이트). {limit}바이트까지 쓸 수 있어요.").format(
                n=len(name.encode()), limit=NAME_BYTES
            )
        )
    return name


def upload_limit() -> int:
    return settings.SANDBOX_UPLOAD_BYTES


def download_limit() -> int:
    """More than /work can hold as a tar.gz: its bytes, and a header and padding per file."""
    work = getattr(settings, "SANDBOX_WORKSPACE_BYTES", 16 * 2**20)
    return work + 8192 * 1024 + 2**20


def too_big(size: int) -> Refused:
    return Refused(
        _("파일이 너무 커요 ({size}). 한 번에 {limit}까지 올릴 수 있어요.").format(
            size=human_size(size), limit=human_size(upload_limit())
        ),
        413,
    )


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size}B"
    if size < 2**20:
        return f"{size / 1024:.1f}KiB"
    return f"{size / 2**20:.1f}MiB"


def one_file_tar(name: str, data: bytes) -> bytes:
    """A tar of one regular file: the checked name, the student's uid/gid, mode 0644."""
    member = tarfile.TarInfo(check_name(name))
    member.size, member.mode, member.mtime = len(data), 0o644, int(time.time())
    member.uid = member.gid = 1000
    member.uname = member.gname = "student"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class WorkFile:
    name: str
    size: int

    @property
    def shown_size(self) -> str:
        return human_size(self.size)


async def upload(owner_id: int, name: str, data: bytes) -> None:
    """Put `data` into the owner's /work as `name` (Refused says why not)."""
    check_name(name)
    if len(data) > upload_limit():
        raise too_big(len(data))
    archive = one_file_tar(name, data)
    upload_id = uuid.uuid4().hex
    pieces = [archive[i : i + CHUNK_BYTES] for i in range(0, len(archive), CHUNK_BYTES)]
    for index, piece in enumerate(pieces):
        problem = await seam.ask(
            "workspace.put",
            owner_id=owner_id,
            upload_id=upload_id,
            member=name,
            index=index,
            data=piece,
            last=index == len(pieces) - 1,
        )
        if problem:
            raise _refusal(problem)


async def download_file(owner_id: int, name: str) -> bytes:
    check_name(name)
    return await _fetch(owner_id, "file", name)


async def download_archive(owner_id: int) -> bytes:
    return await _fetch(owner_id, "archive", "")


async def list_files(owner_id: int) -> tuple[list[WorkFile], bool]:
    """The files at the top of the owner's /work, and whether they come from its saved copy
    (no terminal open)."""
    found = await seam.ask("workspace.list", owner_id=owner_id)
    if isinstance(found, str):
        raise _refusal(found)
    return [WorkFile(name, size) for name, size in found["files"]], found["saved"]


async def _fetch(owner_id: int, what: str, name: str) -> bytes:
    made = await seam.ask("workspace.get", owner_id=owner_id, what=what, file_name=name)
    if isinstance(made, str):
        raise _refusal(made)
    data = bytearray(made["data"])
    while len(data) < made["size"]:
        piece = await seam.ask(
            "workspace.piece", owner_id=owner_id, token=made["token"], offset=len(data)
        )
        if not piece:
            raise _refusal("failed")
        data += piece
    return bytes(data)


def _refusal(problem: str) -> Refused:
    if problem == "no-terminal":
        return no_terminal()
    if problem == "full":
        return Refused(
            _("작업 폴더가 가득 찼어요. 터미널에서 필요 없는 파일을 지우고(rm) 다시 올려 주세요."),
            507,
        )
    if problem == "too-big":
        return too_big(upload_limit() + 1)
    if problem == "missing":
        return Refused(_("/work에 그런 파일이 없어요."), 404)
    if problem == "not-a-file":
        return Refused(_("폴더는 하나씩 받을 수 없어요. /work 전체 받기를 눌러 주세요."), 400)
    if problem == "folder-there":
        return Refused(
            _("/work에 같은 이름의 폴더가 있어서 올리지 못했어요. 이름을 바꿔서 올려 주세요."), 409
        )
    if problem == "download-too-big":
        return Refused(_("받을 내용이 너무 커요."), 413)
    return Refused(
        _("파일을 옮기지 못했어요. 잠시 후 다시 해 주세요. 계속되면 선생님께 알려 주세요."), 502
    )


def uploaded_message(name: str) -> str:
    return _("{name}{particle} /work에 올렸어요.").format(
        name=name, particle=_object_particle(name)
    )


def _object_particle(word: str) -> str:
    """을 after a final consonant, 를 after a vowel, as the name is read aloud: a Hangul
    syllable by its final; a digit or a Latin letter as it is said in Korean (일, 엠, 엘 …)."""
    last = word.rstrip()[-1:].lower()
    if "가" <= last <= "힣":
        return "을" if (ord(last) - 0xAC00) % 28 else "를"
    return "을" if last in "0136789lmnr" else "를"
