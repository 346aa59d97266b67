"""A student's persistent /work, from web code: its cap and how full it is, in words, and the
reset (the saving and restoring live with the terminals: sandbox/supervisor/workspaces.py)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import seam


def cap() -> int:
    return settings.SANDBOX_WORKSPACE_BYTES


def mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{max(1, size // 1024)} KiB"


def nearly_full(size: int) -> bool:
    """A saved /work this big is at its cap, or nearly: worth saying before it refuses files."""
    return size >= cap() * 0.95


def nearly_full_message() -> str:
    return _(
        "/work가 거의 가득 찼어요. {cap}까지만 담을 수 있어요. 필요 없는 파일을 지워 주세요."
    ).format(cap=mib(cap()))


async def request_reset(owner_id: int) -> None:
    """Empty the owner's /work for good: the saved tar deleted and a live terminal ended without
    saving (its next open starts with an empty /work). Asked from any web worker; `owner_id`
    comes from the signed-in student, or from a class an instructor teaches, never from a URL
    alone."""
    await seam.ask("workspace.reset", owner_id=owner_id)
