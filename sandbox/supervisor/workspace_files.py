"""Files in and out of a student's terminal: upload into `/work`, download one file of it or the
whole of it as a .tar.gz.

`/work` is a tmpfs inside the student's running playground container, which the engine's archive
API (put_archive/get_archive) does not see, so everything goes through exec in that container,
as its user: an upload is a tar of one member made here and extracted there (`tar -x -C /work`),
a download is `cat` (one file, its name checked first and resolved inside) or `tar -cz` (all).

The work happens where the playground lives, the sandbox supervisor; web code asks through the
`request_*` functions. Payloads travel over the channel layer when the supervisor is separate,
so they go in pieces of CHUNK_BYTES (an upload: numbered pieces staged by the supervisor, then
extracted at once; a download: made on the supervisor, then fetched piece by piece), never as
one message of megabytes. Only the owner's own playground is ever touched: the owner id comes
from the signed-in user, never from a URL.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import shlex
import tarfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import engine, seam
from sandbox.supervisor import playgrounds, workspaces

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024  # well under what the Redis channel layer should carry in one message
NAME_BYTES = 255  # a file name's limit on Linux (NAME_MAX)
LISTED_FILES = 50
STAGED_SECONDS = 120  # a staged upload or a made download nobody finishes is dropped after this


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


# --- The web side: what views ask, from any web worker --------------------------------------


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


# --- The supervisor side: where the playground lives ----------------------------------------


@dataclass
class _Staged:
    owner_id: int
    member: str  # the file's name in /work
    data: bytearray
    next_index: int = 0
    at: float = 0.0


_UPLOADS: dict[str, _Staged] = {}
_DOWNLOADS: dict[str, tuple[int, bytes, float]] = {}


def _container_of(owner_id: int) -> str | None:
    """The owner's playground container while their terminal is open (or adopted after a
    restart, its shell still running)."""
    live = playgrounds.LIVE.get(owner_id)
    if live is not None:
        live.last_seen = time.monotonic()
        return live.playground.container_id or None
    adopted = playgrounds.ADOPTED.get(owner_id)
    return adopted.playground.container_id if adopted is not None else None


def _quoted(name: str) -> str:
    """A checked name as one shell word, under /work (never an option, never elsewhere)."""
    return shlex.quote(check_name(name))


def _forget_stale() -> None:
    now = time.monotonic()
    for key, staged in list(_UPLOADS.items()):
        if now - staged.at > STAGED_SECONDS:
            _UPLOADS.pop(key, None)
    for key, (_owner, _data, at) in list(_DOWNLOADS.items()):
        if now - at > STAGED_SECONDS:
            _DOWNLOADS.pop(key, None)


async def on_put(
    owner_id: int, upload_id: str, member: str, index: int, data: bytes, last: bool
) -> str | None:
    """One piece of an upload's tar; the last one extracts the whole tar into /work. None when
    done (or waiting for more), else what went wrong."""
    _forget_stale()
    container_id = _container_of(owner_id)
    if container_id is None:
        _UPLOADS.pop(upload_id, None)
        return "no-terminal"
    try:
        check_name(member)
    except Refused:
        return "failed"
    staged = _UPLOADS.setdefault(upload_id, _Staged(owner_id, member, bytearray()))
    if staged.owner_id != owner_id or staged.member != member or staged.next_index != index:
        _UPLOADS.pop(upload_id, None)
        return "failed"
    staged.data += data
    staged.next_index, staged.at = index + 1, time.monotonic()
    # The tar of one file of the cap, its headers and end blocks: a few KiB over the cap.
    if len(staged.data) > upload_limit() + 64 * 1024:
        _UPLOADS.pop(upload_id, None)
        return "too-big"
    if not last:
        return None
    archive = bytes(_UPLOADS.pop(upload_id).data)
    try:
        # Asked first: tar stops reading at the first write that finds no room, and the rest
        # of the archive then meets a closed pipe (the engine call fails) instead of tar's words.
        if not await _room_for(container_id, len(archive)):
            return "full"
        result = await asyncio.to_thread(
            engine.exec_input, container_id, ["tar", "-x", "-f", "-", "-C", engine.WORKDIR], archive
        )
        said = result.output if result.exit_code else None
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.info("upload into the terminal of %s failed: %s", owner_id, error)
        if not await _runs(container_id):
            return "no-terminal"
        said = str(error)
    if said is None:
        return None
    # What tar had written of it goes: a half file helps nobody, and it fills /work.
    with suppress(engine.EngineError, engine.EngineUnavailable):
        await asyncio.to_thread(engine.exec_in, container_id, f"rm -f -- {_quoted(member)}", 5)
    if "No space left" in said or not await _room_for(container_id, 0):
        return "full"
    if "Is a directory" in said:
        return "folder-there"
    log.warning("upload into the terminal of %s: tar said %r", owner_id, said[:300])
    return "failed"


async def _room_for(container_id: str, size: int) -> bool:
    """/work has room for `size` bytes more (and an inode); with 0: it is not full."""
    found = await asyncio.to_thread(engine.exec_in, container_id, "stat -f -c '%a %S %d' /work", 5)
    try:
        blocks, block_size, inodes = (int(word) for word in found.output.split())
    except ValueError:
        return True  # cannot tell: let tar try and say
    return inodes > 0 and blocks * block_size > size


async def _runs(container_id: str) -> bool:
    try:
        return await asyncio.to_thread(engine.is_running, container_id)
    except engine.EngineUnavailable:
        return True


# Inside the container, with the checked name as $1: resolved there (a symlink may point
# anywhere), and only a regular file inside /work is read. Exit 3: nothing there, 4: a folder
# or something else, 5: it resolves outside /work.
_CHECK_ONE = (
    'p=$(realpath "/work/$1" 2>/dev/null) || exit 3; '
    'case "$p" in /work/?*) ;; *) exit 5 ;; esac; '
    '[ -e "$p" ] || exit 3; [ -f "$p" ] || exit 4; printf %s "$p"'
)
# Top-level regular files of /work (not symlinks): size, tab, name, NUL.
_LIST = (
    "cd /work && for f in * .[!.]* ..?*; do "
    '[ -f "$f" ] && [ ! -L "$f" ] && printf "%s\\t%s\\0" "$(stat -c %s -- "$f")" "$f"; '
    "done; true"
)


async def on_get(owner_id: int, what: str, file_name: str) -> str | dict:
    """Make a download (one file, or /work as a .tar.gz) and hand out its first piece; the rest
    is fetched with workspace.piece. A string says what went wrong."""
    _forget_stale()
    container_id = _container_of(owner_id)
    if container_id is None:
        # No terminal open: its last saved /work, if there is one (sandbox/workspaces.py).
        saved = await asyncio.to_thread(_from_saved, owner_id, what, file_name)
        if isinstance(saved, str):
            return saved
        return _handed_out(owner_id, saved)
    try:
        if what == "file":
            path = await _resolve(container_id, check_name(file_name))
            if path.startswith("!"):
                return path[1:]
            argv = ["cat", "--", path]
        else:
            argv = ["tar", "-c", "-z", "-f", "-", "-C", engine.WORKDIR, "."]
        data = await asyncio.to_thread(engine.exec_output, container_id, argv, download_limit())
    except Refused:
        return "failed"
    except engine.OutputTooLarge:
        return "download-too-big"
    except engine.EngineError as error:
        log.info("download from the terminal of %s failed: %s", owner_id, error)
        return "no-terminal" if not await _runs(container_id) else "failed"
    return _handed_out(owner_id, data)


def _handed_out(owner_id: int, data: bytes) -> dict:
    token = uuid.uuid4().hex
    if len(data) > CHUNK_BYTES:
        _DOWNLOADS[token] = (owner_id, data, time.monotonic())
    return {"token": token, "size": len(data), "data": data[:CHUNK_BYTES]}


def _saved_files(owner_id: int) -> tarfile.TarFile | None:
    try:
        return tarfile.open(workspaces.tar_path(owner_id))
    except FileNotFoundError:
        return None


def _from_saved(owner_id: int, what: str, file_name: str) -> bytes | str:
    """Blocking: a download from the owner's saved /work (its tar on the supervisor's disk),
    read here, never extracted: one regular file's bytes, or the whole tar gzipped."""
    try:
        if what != "file":
            return gzip.compress(workspaces.tar_path(owner_id).read_bytes(), compresslevel=6)
        name = check_name(file_name)
        saved = _saved_files(owner_id)
        if saved is None:
            return "no-terminal"
        with saved:
            for member in saved:
                if member.name.removeprefix("./") == name:
                    if member.issym() or member.islnk():
                        return "missing"
                    if not member.isreg():
                        return "not-a-file"
                    found = saved.extractfile(member)
                    return found.read() if found is not None else "failed"
        return "missing"
    except FileNotFoundError:
        return "no-terminal"
    except Refused:
        return "failed"
    except (tarfile.TarError, OSError) as error:
        log.warning("saved /work of %s unreadable: %s", owner_id, error)
        return "failed"


def _list_saved(owner_id: int) -> str | dict:
    """Blocking: the top-level regular files of the owner's saved /work."""
    try:
        saved = _saved_files(owner_id)
        if saved is None:
            return "no-terminal"
        with saved:
            files = [
                (member.name.removeprefix("./"), member.size)
                for member in saved
                if member.isreg() and "/" not in member.name.removeprefix("./")
            ]
    except (tarfile.TarError, OSError) as error:
        log.warning("saved /work of %s unreadable: %s", owner_id, error)
        return "failed"
    return {"files": sorted(files)[:LISTED_FILES], "saved": True}


async def _resolve(container_id: str, name: str) -> str:
    command = f"set -- {_quoted(name)}; {_CHECK_ONE}"
    result = await asyncio.to_thread(engine.exec_in, container_id, command, 5)
    if result.exit_code == 0 and result.output.startswith("/work/"):
        return result.output
    return {3: "!missing", 4: "!not-a-file", 5: "!missing"}.get(result.exit_code or 0, "!failed")


async def on_piece(owner_id: int, token: str, offset: int) -> bytes:
    made = _DOWNLOADS.get(token)
    if made is None or made[0] != owner_id:
        return b""
    data = made[1]
    piece = data[offset : offset + CHUNK_BYTES]
    if offset + len(piece) >= len(data):
        _DOWNLOADS.pop(token, None)
    return piece


async def on_list(owner_id: int) -> str | dict:
    container_id = _container_of(owner_id)
    if container_id is None:
        return await asyncio.to_thread(_list_saved, owner_id)
    try:
        result = await asyncio.to_thread(engine.exec_in, container_id, _LIST, 5)
    except engine.EngineError:
        return "no-terminal" if not await _runs(container_id) else "failed"
    files = []
    for entry in result.output.split("\0"):
        size, tab, name = entry.partition("\t")
        if tab and size.isdigit():
            files.append((name, int(size)))
    return {"files": sorted(files)[:LISTED_FILES], "saved": False}


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
