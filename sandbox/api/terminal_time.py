"""연장, from web code: what a student has left today, and the requests that extend a terminal's
life (the supervisor decides: sandbox/supervisor/terminal_time.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from sandbox import seam
from sandbox.models import TerminalExtension


def lifetime() -> timedelta:
    return timedelta(seconds=settings.SANDBOX_PLAYGROUND_SECONDS)


def _start_of_today() -> datetime:
    """Midnight of today in the site's time zone (TIME_ZONE): "a day" as the class lives it."""
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


async def used_today(owner_id: int) -> int:
    return await TerminalExtension.objects.filter(
        owner_id=owner_id, counted=True, created_at__gte=_start_of_today()
    ).acount()


async def left_today(owner_id: int) -> int:
    return max(0, settings.SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY - await used_today(owner_id))


def clock(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


async def request_extend(owner_id: int) -> dict:
    """The student's own 연장: {ok, message} or {ok, expires_at, until, left_today}."""
    return await seam.ask("terminal.extend", owner_id=owner_id)


async def request_extend_many(owner_ids: list[int], by_id: int) -> dict:
    """An instructor's extension for a class: {extended, skipped} (counted against no cap)."""
    return await seam.ask("terminal.extend_many", owner_ids=list(owner_ids), by_id=by_id)
