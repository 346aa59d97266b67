"""A student's persistent /work: kept as a tar on the supervisor's disk between terminals.

/work stays a tmpfs inside the student's hardened container (SANDBOX_WORKSPACE_BYTES, so the
tmpfs itself is the cap). The supervisor saves it by running `tar -c` in that container and
streaming its stdout into SANDBOX_WORKSPACE_DIR (a tmp file, then a rename: a save cut off
halfway never replaces the previous tar), and restores it into the next terminal by running
`tar -x` there with the tar on stdin. Extraction happens inside the student's own container, as
its user, so a hostile archive can only touch their own /work. No host path is ever mounted.

Everything here runs where the playgrounds live (the sandbox supervisor);
sandbox/supervisor/playgrounds.py decides when (start, end, every
SANDBOX_WORKSPACE_SAVE_SECONDS after typing, clean shutdown).
Web code only reads the `Workspace` row and asks for a reset (sandbox/api/workspaces.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox import engine
from sandbox.api.workspaces import cap, mib
from sandbox.models import Workspace

log = logging.getLogger(__name__)

TAR_CREATE = ["tar", "-c", "-C", engine.WORKDIR, "."]
TAR_EXTRACT = ["tar", "-x", "-o", "-C", engine.WORKDIR]
TAR_SECONDS = 60


def archive_limit() -> int:
    """The largest tar a full /work can make: its bytes, plus a 512-byte header and at most 511
    bytes of padding per file, plus the end blocks. Nothing larger is stored or restored."""
    return cap() + engine.WORKSPACE_INODES * 1024 + 10 * 1024


def directory() -> Path:
    return Path(settings.SANDBOX_WORKSPACE_DIR)


def tar_path(owner_id: int) -> Path:
    return directory() / f"u{int(owner_id)}.tar"


def too_full_message() -> str:
    return _(
        "/work가 {cap}를 넘어서 저장하지 못했어요. 지난번에 저장한 /work는 그대로 있어요. "
        "필요 없는 파일을 지우면 다음 저장 때 저장돼요."
    ).format(cap=mib(cap()))


def save_failed_message() -> str:
    return _("/work를 저장하지 못했어요 (실습 서버 문제). 지난번에 저장한 /work는 그대로 있어요.")


# One save, restore or reset at a time per student, in the supervisor's loop: a reset never
# races a save that would write the tar back after it was deleted.
_LOCKS: dict[int, asyncio.Lock] = {}


def _lock(owner_id: int) -> asyncio.Lock:
    return _LOCKS.setdefault(owner_id, asyncio.Lock())


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(partial, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def save_blocking(
    owner_id: int, container_id: str | None, playground_id=None, scrollback: str | None = None
) -> str:
    """Save the container's /work as the owner's tar, and the session's scrollback (None: keep
    the one saved before). Returns "" or, when the tar could not be made, the sentence to show
    the student; the previous tar is then kept untouched. Without a container (it is gone)
    only the scrollback is kept."""
    message, data = "", None
    if container_id:
        try:
            data = engine.exec_output(container_id, TAR_CREATE, archive_limit(), TAR_SECONDS)
        except engine.OutputTooLarge:
            message = too_full_message()
        except (engine.EngineError, engine.EngineUnavailable) as error:
            log.warning("workspace of %s: not saved (%s)", owner_id, error)
            message = save_failed_message()
    now = timezone.now()
    fields: dict = {"last_used_at": now, "message": message}
    if data is not None:
        try:
            _write_atomically(tar_path(owner_id), data)
        except OSError as error:
            log.error(
                "workspace of %s: could not write %s (%s)", owner_id, tar_path(owner_id), error
            )
            fields["message"] = message = save_failed_message()
        else:
            fields.update(bytes=len(data), saved_at=now)
    if playground_id is not None:
        fields["playground_id"] = playground_id
    if scrollback is not None:
        fields["scrollback"] = scrollback
    Workspace.objects.update_or_create(owner_id=owner_id, defaults=fields)
    return message


async def save(
    owner_id: int, container_id: str | None, playground_id=None, scrollback: str | None = None
) -> str:
    async with _lock(owner_id):
        return await asyncio.to_thread(
            save_blocking, owner_id, container_id, playground_id, scrollback
        )


@dataclass(frozen=True)
class Saved:
    """What a new terminal will get back: nothing (`saved_at` None), the saved /work, or a
    sentence saying why not (the tar is kept either way)."""

    saved_at: datetime | None = None
    message: str = ""


def saved(owner_id: int) -> Saved:
    """Blocking, cheap (a row and a stat): is there a /work to restore for the owner?"""
    row = Workspace.objects.filter(owner_id=owner_id).first()
    try:
        size = tar_path(owner_id).stat().st_size
    except FileNotFoundError:
        return Saved()
    if row is None or row.saved_at is None:
        return Saved()  # a tar nobody recorded (a reset cut off): not this student's /work
    if size > archive_limit():
        return Saved(
            message=_(
                "저장된 /work가 {cap}보다 커서 되살리지 않았어요. 선생님께 알려 주세요."
            ).format(cap=mib(cap()))
        )
    return Saved(row.saved_at)


def restore_blocking(owner_id: int, container_id: str) -> str:
    """Extract the owner's saved tar into the container's /work (after `saved` said there is
    one); "" or the sentence to show the student."""
    path = tar_path(owner_id)
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # emptied meanwhile (a reset from another tab)
        return ""
    if len(data) > archive_limit():
        return saved(owner_id).message
    result = engine.exec_input(container_id, TAR_EXTRACT, data, TAR_SECONDS)
    if result.exit_code != 0:
        log.warning(
            "workspace of %s: tar -x exited %s: %s", owner_id, result.exit_code, result.output
        )
        return _("/work의 일부 파일을 되살리지 못했어요. 저장된 /work는 그대로 있어요.")
    Workspace.objects.filter(owner_id=owner_id).update(last_used_at=timezone.now())
    return ""


async def restore(owner_id: int, container_id: str) -> str:
    async with _lock(owner_id):
        return await asyncio.to_thread(restore_blocking, owner_id, container_id)


def delete_blocking(owner_id: int) -> None:
    tar_path(owner_id).unlink(missing_ok=True)
    Workspace.objects.filter(owner_id=owner_id).delete()


async def delete(owner_id: int) -> None:
    async with _lock(owner_id):
        await asyncio.to_thread(delete_blocking, owner_id)


def expire(in_use: set[int]) -> int:
    """Blocking (the reaper's thread): delete the workspaces unused for SANDBOX_WORKSPACE_DAYS,
    except those of students with a terminal open now (`in_use`)."""
    cutoff = timezone.now() - timedelta(days=settings.SANDBOX_WORKSPACE_DAYS)
    expired = Workspace.objects.filter(last_used_at__lt=cutoff).exclude(owner_id__in=in_use)
    count = 0
    for owner_id in list(expired.values_list("owner_id", flat=True)):
        tar_path(owner_id).unlink(missing_ok=True)
        Workspace.objects.filter(owner_id=owner_id, last_used_at__lt=cutoff).delete()
        count += 1
    if count:
        log.info("workspaces: %d expired after %d days", count, settings.SANDBOX_WORKSPACE_DAYS)
    # A save cut off by a killed process leaves its tmp file; none lives an hour.
    stale = time.time() - 3600
    for partial in directory().glob(".u*.tar.*.tmp") if directory().exists() else []:
        with suppress(OSError):
            if partial.stat().st_mtime < stale:
                partial.unlink()
    return count
