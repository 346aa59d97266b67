"""Websocket consumers: thin — receive, authorize, relay."""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from sandbox import events, runlog, seam
from sandbox.hooks import end_fragments, may_watch
from sandbox.models import Run

FRAMES = "sandbox/run_panel.html"
REFUSED = 4403
ENDED = 1000  # a normal close: the browser does not reconnect
TRY_AGAIN = 1013  # the browser reconnects after a pause
WATCH_SECONDS = 5.0

log = logging.getLogger(__name__)


@database_sync_to_async
def _watchable_run(user, run_id) -> Run | None:
    run = Run.objects.filter(pk=run_id).first()
    return run if run is not None and may_watch(user, run) else None


@database_sync_to_async
def _reload(run_id) -> Run:
    return Run.objects.get(pk=run_id)


_end_fragments = database_sync_to_async(end_fragments)


class RunOutputConsumer(AsyncWebsocketConsumer):
    """Streams one run's output, status and result as htmx out-of-band fragments."""

    async def connect(self) -> None:
        self.run_id = str(self.scope["url_route"]["kwargs"]["run_id"])
        self.group = events.run_group(self.run_id)
        self.seq = 0
        self.ended = False
        self.supervisor_stopped = False
        run = await _watchable_run(self.scope["user"], self.run_id)
        # Accept, then refuse in words: a socket closed during the handshake looks like a
        # network failure to the browser, which would retry forever.
        await self.accept()
        if run is None:
            await self._send("refused", run_id=self.run_id)
            await self.close(code=REFUSED)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Joined first, then the snapshot: an event published in between arrives twice and is
        # dropped by its sequence number, so nothing is lost and nothing repeats. The snapshot
        # comes from the run log, so this may be any worker, not the one that started the run.
        if await self._catch_up():
            self.watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def _catch_up(self) -> bool:
        """Show the run log's snapshot; if there is none, end (or come back). True if live."""
        snapshot = await runlog.current().snapshot(self.run_id)
        if snapshot is not None:
            self.seq = snapshot.seq
            await self._send_panes(snapshot.panes)
            await self._send("status", run=await _reload(self.run_id))
            return True
        run = await _reload(self.run_id)  # it may have ended since it was read above
        if run.is_live:
            # Live, yet no log: its store restarted a moment ago, and the follower writes it
            # back with its next frame. Come back in a moment (1013: try again later).
            await self.close(code=TRY_AGAIN)
            return False
        await self._end(run)
        return False

    async def _watch(self) -> None:
        """While the run is live, every few seconds: a busy channel layer may drop an event
        (channels-redis drops what finds a worker's inbox full), so a run that has left the
        log ends here too. Scaled out, every second too: a supervisor that stopped beating
        (killed, hung) is said in the page rather than left spinning; when it beats again,
        the run's status comes back (a restarted supervisor then ends the run it cannot
        follow, and the socket ends with it)."""
        separate = seam.separate()
        tick = seam.CHECK_SECONDS if separate else WATCH_SECONDS
        log_checked = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            if separate:
                await self._check_supervisor()
            if time.monotonic() - log_checked < WATCH_SECONDS - tick / 2:
                continue
            log_checked = time.monotonic()
            try:
                still = await runlog.current().exists(self.run_id)
            except Exception as error:  # its store restarting: look again next time
                log.info("run %s: run log unreadable (%s)", self.run_id, error)
                continue
            if not still:
                await self._end(await _reload(self.run_id))
                return

    async def _check_supervisor(self) -> None:
        if self.ended:
            return
        beating = await seam.beating()
        if beating is False and not self.supervisor_stopped:
            self.supervisor_stopped = True
            log.warning("run %s: the supervisor's heartbeat is gone", self.run_id)
            await self._send("supervisor-stopped", run_id=self.run_id, message=seam.STOPPED_MESSAGE)
        elif beating and self.supervisor_stopped:
            self.supervisor_stopped = False
            if not self.ended:
                await self._send("status", run=await _reload(self.run_id))

    async def disconnect(self, code: int) -> None:
        if watchdog := getattr(self, "watchdog", None):
            watchdog.cancel()
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        pass  # output sockets are one-way

    async def run_status(self, event: dict) -> None:
        if not self.ended:
            await self._send("status", run=events.RunStatus.of_event(event))

    async def run_output(self, event: dict) -> None:
        # Once ended (the watchdog may end it while frames still wait in the inbox), the page
        # shows the saved transcript: a late frame would repeat what it has.
        if self.ended or event["seq"] <= self.seq:
            return
        if event["seq"] > self.seq + 1:
            # Frames went missing on the way (a dropped event): the log has them all.
            await self._catch_up()
            return
        self.seq = event["seq"]
        await self._send(
            "output-append",
            run_id=self.run_id,
            index=event["pane"],
            text=event["text"],
            dropped=event["dropped"],
        )

    async def run_pane(self, event: dict) -> None:
        if self.ended:
            return
        index = event["pane"]
        await self._send("pane-head", run_id=self.run_id, index=index, pane=event["head"])

    async def run_ended(self, event: dict) -> None:
        await self._show_end(events.RunEnded.of_event(event))

    async def _end(self, run: Run) -> None:
        """The end as the database has it (a socket that opened, or looked, after the end
        event was sent)."""
        if not self.ended:
            await self._show_end(events.RunEnded.of(run, await _end_fragments(run)))

    async def _show_end(self, ended: events.RunEnded) -> None:
        if self.ended:
            return  # the end event and the watchdog may both find it
        self.ended = True
        await self._send_panes(ended.panes)
        await self._send("status", run=ended.status)
        if ended.extra:
            await self.send(text_data=ended.extra)
        await self.close(code=ENDED)

    async def _send_panes(self, panes: list[dict]) -> None:
        for index, pane in enumerate(panes):
            await self._send(
                "output-replace", run_id=self.run_id, index=index, text=pane.get("transcript", "")
            )
            if len(panes) > 1:
                await self._send("pane-head", run_id=self.run_id, index=index, pane=pane)

    async def _send(self, partial: str, **context) -> None:
        await self.send(text_data=render_to_string(f"{FRAMES}#{partial}", context))
