"""Hands a container's output from the thread that reads it to the event loop that relays it."""

from __future__ import annotations

import asyncio
import threading
from contextlib import suppress


class OutputPipe:
    """Bounded: past `limit` unread bytes, bytes are dropped and counted, so a flood (`yes`)
    cannot grow server memory however slow the relay is. A run's pane keeps what came first
    (its transcript is a head); a terminal keeps what came last (`keep="newest"`), because
    the end of a flood holds the prompt and whatever the student typed next."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, keep: str = "oldest") -> None:
        assert keep in ("oldest", "newest")
        self._loop = loop
        self._limit = limit
        self._keep_newest = keep == "newest"
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._size = 0
        self._dropped = 0
        self._eof = False
        self._ready = asyncio.Event()

    def put(self, data: bytes) -> None:
        """Called from the reader thread."""
        with self._lock:
            if self._keep_newest:
                self._chunks.append(data)
                self._size += len(data)
                self._drop_oldest()
            else:
                room = max(self._limit - self._size, 0)
                if len(data) > room:
                    self._dropped += len(data) - room
                    data = data[:room]
                if data:
                    self._chunks.append(data)
                    self._size += len(data)
        self._loop.call_soon_threadsafe(self._ready.set)

    def _drop_oldest(self) -> None:
        while self._size > self._limit:
            excess, first = self._size - self._limit, self._chunks[0]
            if len(first) <= excess:
                self._chunks.pop(0)
                cut = len(first)
            else:
                self._chunks[0] = first[excess:]
                cut = excess
            self._size -= cut
            self._dropped += cut

    def close(self) -> None:
        """Called from the reader thread at end of stream."""
        with self._lock:
            self._eof = True
        self._loop.call_soon_threadsafe(self._ready.set)

    async def take(self, timeout: float) -> tuple[bytes, int, bool]:
        """Wait up to `timeout` seconds for output; return (bytes, dropped, end of stream)."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # lands as the event fires (the relay's task then went on, "cancelling", for ever).
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        with self._lock:
            data, dropped, eof = b"".join(self._chunks), self._dropped, self._eof
            self._chunks, self._size, self._dropped = [], 0, 0
            self._ready.clear()
            if eof:
                self._ready.set()  # later takes return at once
        return data, dropped, eof
