"""Websocket consumers for terminals: the student's own (read and write), and a read-only
view for whoever may watch the student (an instructor of their class)."""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from sandbox import engine, playgrounds
from sandbox.hooks import may_watch
from sandbox.models import Playground

REFUSED = 4403
ENDED = 1000


class TerminalConsumer(AsyncWebsocketConsumer):
    """`/ws/terminal/`: the signed-in student's playground, started or reattached."""

    read_only = False

    async def connect(self) -> None:
        self.live = None
        await self.accept()
        user = self.scope["user"]
        if not user.is_authenticated:
            await self._refuse(_("터미널을 쓰려면 로그인해 주세요."))
            return
        try:
            self.live = await playgrounds.open_for(user.pk)
        except engine.EngineUnavailable:
            await self._refuse(_("도커 엔진에 연결할 수 없어요. 잠시 후 다시 열어 주세요."), 1011)
            return
        except engine.EngineError as error:
            await self._refuse(_("터미널을 시작하지 못했어요: {e}").format(e=error), 1011)
            return
        await self._join()

    async def _join(self) -> None:
        self.live.sockets += 1
        await self.channel_layer.group_add(playgrounds.group_name(self.live.id), self.channel_name)
        expires = self.live.playground.expires_at.timestamp()
        await self._send_json(
            {
                "type": "hello",
                "expires_at": expires,
                "read_only": self.read_only,
                "scrollback": "".join(self.live.scrollback),
            }
        )

    async def _refuse(self, message: str, code: int = REFUSED) -> None:
        await self._send_json({"type": "error", "message": message, "fatal": True})
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.live is not None:
            self.live.sockets = max(0, self.live.sockets - 1)
            self.live.last_seen = time.monotonic()
            await self.channel_layer.group_discard(
                playgrounds.group_name(self.live.id), self.channel_name
            )

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.read_only or self.live is None or text_data is None:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if message.get("type") == "input" and isinstance(message.get("data"), str):
            try:
                await playgrounds.send_input(self.live, message["data"])
            except playgrounds.TooMuchInput as error:
                await self._send_json({"type": "error", "message": str(error)})
        elif message.get("type") == "resize":
            try:
                rows, cols = int(message["rows"]), int(message["cols"])
            except (KeyError, TypeError, ValueError):
                return
            await playgrounds.resize(self.live, rows, cols)

    async def terminal_output(self, event: dict) -> None:
        await self._send_json({"type": "output", "data": event["data"]})

    async def terminal_ended(self, event: dict) -> None:
        await self._send_json({"type": "ended", "reason": event["reason"]})
        self.live = None
        await self.close(code=ENDED)

    async def _send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))


@database_sync_to_async
def _watchable(user, playground_id) -> Playground | None:
    playground = Playground.objects.filter(pk=playground_id, ended_at__isnull=True).first()
    if playground is None or not may_watch(user, playground):
        return None
    return playground


class TerminalWatchConsumer(TerminalConsumer):
    """`/ws/terminal/<id>/watch/`: the same screen, read-only."""

    read_only = True

    async def connect(self) -> None:
        self.live = None
        await self.accept()
        playground = await _watchable(self.scope["user"], self.scope["url_route"]["kwargs"]["pk"])
        live = playgrounds.LIVE.get(playground.owner_id) if playground else None
        if live is None or str(live.playground.id) != str(playground.pk):
            await self._refuse(_("이 터미널을 볼 수 없어요."))
            return
        self.live = live
        await self._join()

    async def disconnect(self, code: int) -> None:
        # A watcher does not keep the student's terminal alive.
        if self.live is not None:
            await self.channel_layer.group_discard(
                playgrounds.group_name(self.live.id), self.channel_name
            )
