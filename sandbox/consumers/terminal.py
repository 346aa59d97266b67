"""Websocket consumers for terminals: the student's own (read and write), and a read-only
view for whoever may watch the student (an instructor of their class)."""

from __future__ import annotations

import json
import logging
from contextlib import suppress

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from sandbox.api import playgrounds, terminal_time
from sandbox.errors import EngineError, EngineUnavailable
from sandbox.hooks import may_watch
from sandbox.models import Playground

log = logging.getLogger(__name__)

REFUSED = 4403
ENDED = 1000


class TerminalConsumer(AsyncWebsocketConsumer):
    """`/ws/terminal/`: the signed-in student's playground, started or reattached. The
    playground lives with the sandbox supervisor; this socket may be on any web worker."""

    read_only = False
    owner_id: int | None = None  # whose terminal this socket shows, once it listens
    playground_id: str | None = None

    async def connect(self) -> None:
        self.owner_id = None
        self.seq, self.playground_id = 0, None
        await self.accept()
        user = self.scope["user"]
        if not user.is_authenticated:
            await self._refuse(_("터미널을 쓰려면 로그인해 주세요."))
            return
        # Joined first, then the scrollback: frames in between are dropped by sequence number.
        await self._listen(user.pk)
        try:
            view = await playgrounds.request_open(user.pk)
        except EngineUnavailable:
            await self._refuse(_("도커 엔진에 연결할 수 없어요. 잠시 후 다시 열어 주세요."), 1011)
            return
        except EngineError as error:
            log.warning("terminal of %s could not open: %s", user.pk, error)
            await self._refuse(
                _("터미널을 시작하지 못했어요. 잠시 후 다시 열어 주세요. ")
                + _("계속되면 선생님께 알려 주세요."),
                1011,
            )
            return
        await self._hello(view)

    async def _listen(self, owner_id: int) -> None:
        self.owner_id = owner_id
        await self.channel_layer.group_add(playgrounds.group_name(owner_id), self.channel_name)

    async def _hello(self, view: dict) -> None:
        self.seq, self.playground_id = view["seq"], view["id"]
        # 연장s the student has left today (terminal_time); none for a watcher.
        owner_id = self.owner_id
        left = 0 if self.read_only or owner_id is None else await terminal_time.left_today(owner_id)
        await self._send_json(
            {
                "type": "hello",
                "expires_at": view["expires_at"],
                "read_only": self.read_only,
                "scrollback": view["scrollback"],
                "extensions_left": left,
            }
        )

    async def _refuse(self, message: str, code: int = REFUSED) -> None:
        await self._stop_listening()
        await self._send_json({"type": "error", "message": message, "fatal": True})
        await self.close(code=code)

    async def _stop_listening(self) -> None:
        if self.owner_id is not None:
            await self.channel_layer.group_discard(
                playgrounds.group_name(self.owner_id), self.channel_name
            )
            self.owner_id = None

    async def disconnect(self, code: int) -> None:
        if self.owner_id is not None and not self.read_only:
            with suppress(EngineUnavailable):
                await playgrounds.request_left(self.owner_id)
        await self._stop_listening()

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.read_only or self.owner_id is None or text_data is None:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        try:
            if message.get("type") == "input" and isinstance(message.get("data"), str):
                await playgrounds.request_input(self.owner_id, message["data"])
            elif message.get("type") == "resize":
                try:
                    rows, cols = int(message["rows"]), int(message["cols"])
                except (KeyError, TypeError, ValueError):
                    return
                await playgrounds.request_resize(self.owner_id, rows, cols)
            elif message.get("type") == "extend":
                answer = await terminal_time.request_extend(self.owner_id)
                if not answer["ok"]:  # a success reaches every tab as `terminal.extended`
                    await self._send_json({"type": "extend_refused", "message": answer["message"]})
        except playgrounds.TooMuchInput as error:
            await self._send_json({"type": "error", "message": str(error)})
        except EngineUnavailable:
            await self._send_json(
                {
                    "type": "error",
                    "message": _("실습 서버에 연결할 수 없어요. 잠시 후 다시 입력해 주세요."),
                }
            )

    def _another_playground(self, event: dict) -> bool:
        """An event of a playground this socket is not showing (one that ended while this
        socket opened its replacement): numbers and endings are per playground."""
        mine = self.playground_id
        return mine is not None and event.get("id", mine) != mine

    async def terminal_output(self, event: dict) -> None:
        if self._another_playground(event):
            return
        if event["seq"] <= self.seq:
            return
        owner_id, playground_id = self.owner_id, self.playground_id
        if event["seq"] > self.seq + 1 and owner_id is not None and playground_id is not None:
            # Frames went missing on the way (a dropped event): redraw from the scrollback.
            with suppress(EngineUnavailable, EngineError):
                view = await playgrounds.request_watch(owner_id, playground_id)
                if view is not None:
                    await self._hello(view)
                    return
        self.seq = event["seq"]
        await self._send_json({"type": "output", "data": event["data"]})

    async def terminal_ended(self, event: dict) -> None:
        if self._another_playground(event):
            return
        await self._send_json({"type": "ended", "reason": event["reason"]})
        await self._stop_listening()
        await self.close(code=ENDED)

    async def terminal_extended(self, event: dict) -> None:
        if self._another_playground(event):
            return
        await self._send_json(
            {
                "type": "extended",
                "expires_at": event["expires_at"],
                "until": event["until"],
                "by_class": event["by_class"],
                "extensions_left": None if self.read_only else event["left_today"],
            }
        )

    async def _send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))


@database_sync_to_async
def _watchable(user, playground_id) -> Playground | None:
    playground = Playground.objects.filter(pk=playground_id, ended_at__isnull=True).first()
    if playground is None or not may_watch(user, playground):
        return None
    return playground


class TerminalWatchConsumer(TerminalConsumer):
    """`/ws/terminal/<id>/watch/`: the same screen, read-only. A watcher does not keep the
    student's terminal alive."""

    read_only = True

    async def connect(self) -> None:
        self.owner_id = None
        self.seq, self.playground_id = 0, None
        await self.accept()
        playground = await _watchable(self.scope["user"], self.scope["url_route"]["kwargs"]["pk"])
        view = None
        if playground is not None:
            await self._listen(playground.owner_id)
            with suppress(EngineUnavailable, EngineError):
                view = await playgrounds.request_watch(playground.owner_id, str(playground.pk))
        if view is None:
            await self._refuse(_("이 터미널을 볼 수 없어요."))
            return
        await self._hello(view)
