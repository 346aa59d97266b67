"""The live dashboard: a socket per open dashboard, joined to its class's group."""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from lessons import dashboard
from lessons.classes import group_name, teaches
from lessons.models import Classroom
from sandbox.models import Run

REFUSED = 4403
# Changes are coalesced: a burst (200 students pressing 실행 at once) becomes one refresh, at
# most every COALESCE_SECONDS, well within the two seconds a run may take to appear.
COALESCE_SECONDS = 0.5
# While something runs, the running times tick without any change to report.
TICK_SECONDS = 5
SECTIONS = ("stuck", "running", "matrix", "charts", "recent")


@database_sync_to_async
def _taught(user, pk) -> Classroom | None:
    classroom = Classroom.objects.filter(pk=pk).first()
    return classroom if classroom is not None and teaches(user, classroom) else None


@database_sync_to_async
def _render_sections(classroom: Classroom, sort: str) -> tuple[str, bool]:
    board = dashboard.build(classroom, sort)
    context = {"board": board, "sort": sort}
    html = "".join(
        render_to_string(f"lessons/class_dashboard.html#{name}", context) for name in SECTIONS
    )
    return html, bool(board.running)


@database_sync_to_async
def _has_running(classroom: Classroom) -> bool:
    return Run.objects.filter(owner__classrooms=classroom, state__in=Run.LIVE_STATES).exists()


class DashboardConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.classroom = await _taught(self.scope["user"], self.scope["url_route"]["kwargs"]["pk"])
        await self.accept()
        if self.classroom is None:
            await self.close(code=REFUSED)
            return
        self.group = group_name(self.classroom.pk)
        # Live refreshes keep the order the instructor chose when opening the page.
        query = self.scope.get("query_string", b"").decode()
        self.sort = "progress" if "sort=progress" in query else "name"
        self.pending: asyncio.Task | None = None
        self.ticker = asyncio.get_running_loop().create_task(self._tick())
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "classroom", None) is None:
            return
        self.ticker.cancel()
        if self.pending:
            self.pending.cancel()
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def class_changed(self, event: dict) -> None:
        if self.pending is None or self.pending.done():
            self.pending = asyncio.get_running_loop().create_task(self._refresh_soon())

    async def _refresh_soon(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        await self._refresh()

    async def _refresh(self) -> bool:
        html, running = await _render_sections(self.classroom, self.sort)
        await self.send(text_data=html)
        return running

    async def _tick(self) -> None:
        running = await _has_running(self.classroom)
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if running:
                running = await self._refresh()
            else:
                running = await _has_running(self.classroom)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        pass
