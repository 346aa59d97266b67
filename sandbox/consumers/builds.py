"""`/ws/builds/<id>/`: a build's steps and log, live, then what it made."""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from sandbox import seam
from sandbox.api import builds
from sandbox.errors import EngineError, EngineUnavailable
from sandbox.hooks import build_end_fragments, may_watch
from sandbox.models import Build

FRAMES = "sandbox/build_panel.html"
WATCH_SECONDS = 5.0


@database_sync_to_async
def _watchable(user, build_id) -> Build | None:
    build = Build.objects.filter(pk=build_id).first()
    return build if build is not None and may_watch(user, build) else None


async def _summary(build_id) -> str:
    build = await Build.objects.aget(pk=build_id)
    rows = []
    if build.state == Build.State.BUILT:
        try:
            rows = await builds.request_layers(build)
        except (EngineError, EngineUnavailable):
            rows = []
    return await _summary_html(build_id, rows)


@database_sync_to_async
def _summary_html(build_id, rows: list[dict]) -> str:
    """Once built: the layers, the comparison with the previous build, the docker commands,
    and whatever other apps add (the version tags and run buttons)."""
    build = Build.objects.get(pk=build_id)
    previous = (
        Build.objects.filter(owner_id=build.owner_id, label=build.label, state=Build.State.BUILT)
        .exclude(pk=build.pk)
        .filter(created_at__lt=build.created_at)
        .first()
    )
    first_rebuilt = next((step for step in build.steps[1:] if not step.get("cached")), None)
    context = {
        "build": build,
        "previous": previous,
        "layers": drawn(rows),
        "stack_height": 34 * len(rows),
        "first_rebuilt": first_rebuilt,
    }
    html = render_to_string(f"{FRAMES}#summary", context)
    html += render_to_string(f"{FRAMES}#status", context)
    return html + build_end_fragments(build)


def drawn(rows: list[dict]) -> list[dict]:
    """Layer rows with their place in the stacked SVG picture (base at the bottom)."""
    height = 34
    total = len(rows)
    for index, row in enumerate(rows):
        row["y"] = (total - 1 - index) * height
        row["kib"] = round(row["size"] / 1024, 1)
    return rows


class BuildOutputConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.build_id = str(self.scope["url_route"]["kwargs"]["build_id"])
        self.ended = False
        self.supervisor_stopped = False
        build = await _watchable(self.scope["user"], self.build_id)
        await self.accept()
        if build is None:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(builds.group_name(self.build_id), self.channel_name)
        # Joined first, then the snapshot (from the database, which the follower saves before
        # each frame): frames already in it are skipped by the log's length.
        build = await Build.objects.aget(pk=self.build_id)
        if build.state != Build.State.BUILDING:
            await self._end()
            return
        self.shown = len(build.log)
        await self._send("steps", build=build)
        await self._send("log-replace", build=build)
        self.watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """While building: every few seconds, a build no longer marked building ends here too
        (its end event lost, or a restarted supervisor marked it failed); scaled out, every
        second, a supervisor whose heartbeat is gone is said in place of the spinner."""
        separate = seam.separate()
        tick = seam.CHECK_SECONDS if separate else WATCH_SECONDS
        checked = time.monotonic()
        while not self.ended:
            await asyncio.sleep(tick)
            if separate:
                beating = await seam.beating()
                if beating is False and not self.supervisor_stopped:
                    self.supervisor_stopped = True
                    await self._send(
                        "supervisor-stopped",
                        build_id=self.build_id,
                        message=seam.BUILD_STOPPED_MESSAGE,
                    )
                elif beating and self.supervisor_stopped:
                    self.supervisor_stopped = False
                    build = await Build.objects.aget(pk=self.build_id)
                    if build.state == Build.State.BUILDING:
                        await self._send("status", build=build)
            if time.monotonic() - checked < WATCH_SECONDS - tick / 2:
                continue
            checked = time.monotonic()
            state = (
                await Build.objects.filter(pk=self.build_id)
                .values_list("state", flat=True)
                .afirst()
            )
            if state != Build.State.BUILDING:
                await self._end()
                return

    async def disconnect(self, code: int) -> None:
        if watchdog := getattr(self, "watchdog", None):
            watchdog.cancel()
        await self.channel_layer.group_discard(builds.group_name(self.build_id), self.channel_name)

    async def build_step(self, event: dict) -> None:
        await self._send("steps", build=await Build.objects.aget(pk=self.build_id))

    async def build_output(self, event: dict) -> None:
        if event["end"] <= self.shown:
            return
        self.shown = event["end"]
        await self._send("log-append", build_id=self.build_id, text=event["text"])

    async def build_ended(self, event: dict) -> None:
        await self._end()

    async def _end(self) -> None:
        if self.ended:
            return  # the end event and the watchdog may both find it
        self.ended = True
        build = await database_sync_to_async(Build.objects.get)(pk=self.build_id)
        await self._send("steps", build=build)
        await self._send("log-replace", build=build)
        await self.send(text_data=await _summary(self.build_id))
        await self.close(code=1000)

    async def _send(self, partial: str, **context) -> None:
        await self.send(text_data=render_to_string(f"{FRAMES}#{partial}", context))
