"""Files in and out of a student's terminal, where the playground lives (the supervisor side of
sandbox/api/workspace_files.py).

`/work` is a tmpfs inside the student's running playground container, which the engine's archive
API (put_archive/get_archive) does not see, so everything goes through exec in that container,
as its user: an upload is a tar of one member made on the web side and extracted here
(`tar -x -C /work`), a download is `cat` (one file, its name checked first and resolved inside)
or `tar -cz` (all). An upload arrives as numbered pieces staged here, then extracted at once; a
download is made here, then fetched piece by piece.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import shlex
import tarfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass

from sandbox import engine
from sandbox.api import workspace_files as web
from sandbox.supervisor import workspaces
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger(__name__)

STAGED_SECONDS = 120  # a staged upload or a made download nobody finishes is dropped after this


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
    live = SUPERVISED.playgrounds.get(owner_id)
    if live is not None:
        live.last_seen = time.monotonic()
        return live.playground.container_id or None
    adopted = SUPERVISED.adopted.get(owner_id)
    return adopted.playground.container_id if adopted is not None else None


def _quoted(name: str) -> str:
    """A checked name as one shell word, under /work (never an option, never elsewhere)."""
    return shlex.quote(web.check_name(name))


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
        web.check_name(member)
    except web.Refused:
        return "failed"
    staged = _UPLOADS.setdefault(upload_id, _Staged(owner_id, member, bytearray()))
    if staged.owner_id != owner_id or staged.member != member or staged.next_index != index:
        _UPLOADS.pop(upload_id, None)
        return "failed"
    staged.data += data
    staged.next_index, staged.at = index + 1, time.monotonic()
    # The tar of one file of the cap, its headers and end blocks: a few KiB over the cap.
    if len(staged.data) > web.upload_limit() + 64 * 1024:
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
        # No terminal open: its last saved /work, if there is one
        # (sandbox/supervisor/workspaces.py).
        saved = await asyncio.to_thread(_from_saved, owner_id, what, file_name)
        if isinstance(saved, str):
            return saved
        return _handed_out(owner_id, saved)
    try:
        if what == "file":
            path = await _resolve(container_id, web.check_name(file_name))
            if path.startswith("!"):
                return path[1:]
            argv = ["cat", "--", path]
        else:
            argv = ["tar", "-c", "-z", "-f", "-", "-C", engine.WORKDIR, "."]
        data = await asyncio.to_thread(engine.exec_output, container_id, argv, web.download_limit())
    except web.Refused:
        return "failed"
    except engine.OutputTooLarge:
        return "download-too-big"
    except engine.EngineError as error:
        log.info("download from the terminal of %s failed: %s", owner_id, error)
        return "no-terminal" if not await _runs(container_id) else "failed"
    return _handed_out(owner_id, data)


def _handed_out(owner_id: int, data: bytes) -> dict:
    token = uuid.uuid4().hex
    if len(data) > web.CHUNK_BYTES:
        _DOWNLOADS[token] = (owner_id, data, time.monotonic())
    return {"token": token, "size": len(data), "data": data[: web.CHUNK_BYTES]}


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
        name = web.check_name(file_name)
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
    except web.Refused:
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
    return {"files": sorted(files)[: web.LISTED_FILES], "saved": True}


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
    piece = data[offset : offset + web.CHUNK_BYTES]
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
    return {"files": sorted(files)[: web.LISTED_FILES], "saved": False}
