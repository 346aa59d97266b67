"""연장: a terminal's life extended by its lifetime again (SANDBOX_PLAYGROUND_SECONDS), by the
student up to SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY times a day, or by an instructor for the whole
class (not counted against anyone's cap).

The playgrounds live with the supervisor, so the supervisor decides: web code asks
`terminal.extend` / `terminal.extend_many` by name. The new end is set on the live playground (its
expiry task reads it) and its row, and every tab of the owner is told (`terminal.extended`).
An extension is refused while more than one lifetime is still left, so pressing twice in a row
does not bank hours.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox.api import playgrounds as api_playgrounds
from sandbox.api.terminal_time import clock, left_today, lifetime
from sandbox.models import Playground, TerminalExtension
from sandbox.supervisor import playgrounds
from sandbox.supervisor.state import SUPERVISED


def _followed(owner_id: int) -> Playground | None:
    if (live := SUPERVISED.playgrounds.get(owner_id)) is not None:
        return live.playground
    if (adopted := SUPERVISED.adopted.get(owner_id)) is not None:
        return adopted.playground
    return None


async def _extend(owner_id: int, by_id: int | None, counted: bool) -> dict:
    """Under the owner's open lock (no open, reset or second press in between)."""
    lock = playgrounds._OPENING.setdefault(owner_id, asyncio.Lock())
    async with lock:
        playground = _followed(owner_id)
        now = timezone.now()
        if playground is None or playground.expires_at <= now:
            return {"ok": False, "message": _("열린 터미널이 없어요. 터미널을 먼저 열어 주세요.")}
        left = playground.expires_at - now
        if left > lifetime():
            minutes = int(left.total_seconds() // 60), int(lifetime().total_seconds() // 60)
            return {
                "ok": False,
                "message": _(
                    "아직 {left}분 남았어요. 남은 시간이 {n}분 이하가 되면 연장할 수 있어요."
                ).format(left=minutes[0], n=minutes[1]),
            }
        remaining = 0
        if counted:
            remaining = await left_today(owner_id)
            if remaining <= 0:
                return {
                    "ok": False,
                    "message": _(
                        "오늘은 터미널을 {n}번 모두 연장했어요. 더 쓰려면 선생님께 말씀해 주세요."
                    ).format(n=settings.SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY),
                }
            remaining -= 1
        else:
            remaining = await left_today(owner_id)
        playground.expires_at += lifetime()
        await playground.asave(update_fields=["expires_at"])
        await TerminalExtension.objects.acreate(
            owner_id=owner_id,
            playground=playground,
            by_id=by_id,
            counted=counted,
            expires_at=playground.expires_at,
        )
    event = {
        "type": "terminal.extended",
        "id": str(playground.pk),
        "expires_at": playground.expires_at.timestamp(),
        "until": clock(playground.expires_at),
        "by_class": not counted,
        "left_today": remaining,
    }
    with suppress(Exception):  # the channel layer away: tabs read the new end when they reopen
        await get_channel_layer().group_send(api_playgrounds.group_name(owner_id), event)
    await sync_to_async(playgrounds._tell_dashboards)(owner_id)
    return {"ok": True, **event}


async def on_extend(owner_id: int) -> dict:
    return await _extend(owner_id, owner_id, counted=True)


async def on_extend_many(owner_ids: list[int], by_id: int) -> dict:
    extended = skipped = 0
    for owner_id in owner_ids:
        if _followed(owner_id) is None:
            continue
        answer = await _extend(owner_id, by_id, counted=False)
        extended += answer["ok"]
        skipped += not answer["ok"]
    return {"extended": extended, "skipped": skipped}
