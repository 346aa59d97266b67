"""The queue socket, `/ws/queue/<key>/`: where a waiting press stands («앞에 12명 · 약 8초»), live,
and, the moment its run starts, the normal run panel in its place (whose own socket then streams
the output as for any run).

The entry is in the database, so this may be any web worker, and a page that reconnects (a
restarted worker) finds its entry again, or the run it became (`Run.queued_as`)."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from sandbox.api import queue as runqueue
from sandbox.hooks import may_watch
from sandbox.models import QueuedRun, Run

FRAMES = "sandbox/queue_panel.html"
REFUSED = 4403
ENDED = 1000  # a normal close: the browser does not reconnect
# A socket reads its place again at most this often when the queue moves, and at least this
# often when it hears nothing (an event the channel layer dropped).
COALESCE_SECONDS = 0.3
LOOK_SECONDS = 2.0

log = logging.getLogger(__name__)


@database_sync_to_async
def _find(user, key) -> tuple[QueuedRun | None, Run | None, bool]:
    """The entry, or the run it became, and whether this user may see it."""
    entry = QueuedRun.objects.filter(key=key).first()
    if entry is not None:
        return entry, None, may_watch(user, entry)
    run = Run.objects.filter(queued_as=key).first()
    if run is not None:
        return None, run, may_watch(user, run)
    return None, None, user.is_authenticated


class QueueConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.key = str(self.scope["url_route"]["kwargs"]["key"])
        self.done = False
        self.shown = None
        self.moved = asyncio.Event()
        entry, run, allowed = await _find(self.scope["user"], self.key)
        await self.accept()  # then refuse in words (see RunOutputConsumer)
        if not allowed:
            await self._send("refused", key=self.key)
            await self.close(code=REFUSED)
            return
        self.entry = entry
        await self.channel_layer.group_add(runqueue.entry_group(self.key), self.channel_name)
        await self.channel_layer.group_add(runqueue.changes_group(), self.channel_name)
        if entry is None:
            await self._settle(run)
            return
        runqueue.ensure_ticker()
        await self._show_standing()
        self.watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while not self.done:
            try:
                await asyncio.wait_for(self.moved.wait(), timeout=LOOK_SECONDS)
                await asyncio.sleep(COALESCE_SECONDS)  # many moves at once: one read
            except TimeoutError:
                pass
            self.moved.clear()
            try:
                await self._show_standing()
            except Exception as error:  # the database busy: look again next time
                log.info("queue %s: could not read its place (%s)", self.key, error)

    async def _show_standing(self) -> None:
        entry = await QueuedRun.objects.filter(key=self.key).afirst()
        if entry is None:
            # Left the queue while no event reached us: started, cancelled or expired.
            await self._settle(await Run.objects.filter(queued_as=self.key).afirst())
            return
        standing = await runqueue.standing(entry)
        if standing != self.shown and not self.done:
            self.shown = standing
            await self._send("standing", key=self.key, standing=standing)

    async def _settle(self, run: Run | None, message: str = "") -> None:
        if self.done:
            return
        self.done = True
        if run is not None:
            await self._send("started", key=self.key, run=run)
        else:
            await self._send("ended", key=self.key, message=message or _gone_message())
        await self.close(code=ENDED)

    async def disconnect(self, code: int) -> None:
        self.done = True
        if watcher := getattr(self, "watcher", None):
            watcher.cancel()
        await self.channel_layer.group_discard(runqueue.entry_group(self.key), self.channel_name)
        await self.channel_layer.group_discard(runqueue.changes_group(), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        pass  # cancelling is a POST (sandbox/views.py), so it works while the socket is away

    async def queue_changed(self, event: dict) -> None:
        self.moved.set()

    async def queue_started(self, event: dict) -> None:
        await self._settle(await Run.objects.aget(pk=event["run_id"]))

    async def queue_ended(self, event: dict) -> None:
        await self._settle(None, event["message"])

    async def _send(self, partial: str, **context) -> None:
        await self.send(text_data=render_to_string(f"{FRAMES}#{partial}", context))


def _gone_message() -> str:
    return _("이 대기는 끝났어요(취소했거나 시간이 지났어요). 다시 실행해 주세요.")
