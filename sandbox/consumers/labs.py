"""`/ws/labs/`: the student's orchestration lab, live: desired and current state, a card per
replica, the measured recovery time. The engine is asked once a second; a frame goes out only
when what the page shows has changed."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from sandbox.api import labs as lab_requests
from sandbox.errors import EngineError, EngineUnavailable

POLL_SECONDS = 1.0


def cards_html(found: dict | None) -> str:
    now = time.time()
    if found is not None:
        for card in found["cards"]:
            card["version"] = card["image"].rpartition(":")[2]
            card["age"] = _age(card["since"], now)
    return render_to_string("sandbox/lab_panel.html#cards", {"lab": found})


def _age(since: str, now: float) -> int:
    """Seconds since an engine timestamp (RFC 3339 with nanoseconds)."""
    try:
        stamp = datetime.fromisoformat(since[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0
    return max(0, int(now - stamp))


class LabConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4403)
            return
        self.owner_id = user.pk
        self.poller = asyncio.get_running_loop().create_task(self._poll())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "poller"):
            self.poller.cancel()

    async def _poll(self) -> None:
        shown = None
        while True:
            try:
                html = cards_html(await lab_requests.state(self.owner_id))
            except (EngineError, EngineUnavailable):
                html = render_to_string("sandbox/lab_panel.html#engine-down")
            # The ages tick every second; send when anything but them changed, or every 5 s.
            key = html.split("data-ages", 1)[0]
            if key != shown or int(time.monotonic()) % 5 == 0:
                await self.send(text_data=html)
                shown = key
            await asyncio.sleep(POLL_SECONDS)
