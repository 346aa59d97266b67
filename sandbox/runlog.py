"""The run log: each live run's output so far, where every process that serves sockets can read it.

Whoever follows a run writes each frame here before publishing it; a socket that opens (a late
tab, a reload, a reconnect after a network blip or a restarted worker) reads a snapshot and then
continues live, the frames' sequence numbers joining the two without a gap or a repeat.

One process keeps the log in memory; with REDIS_URL it is kept in Redis, so a socket may land on
any web worker. It is bounded per run by the transcript cap (SANDBOX_TRANSCRIPT_BYTES per pane),
and dropped once the transcript is in the database (sockets then read it there).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.conf import settings

from sandbox import redisconn

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    seq: int
    panes: list[dict]  # name, transcript, dropped_bytes, exit_code, seconds


class MemoryLog:
    def __init__(self) -> None:
        self.runs: dict[str, dict] = {}

    async def begin(self, run_id: str, names: list[str]) -> None:
        self.runs[run_id] = {
            "seq": 0,
            "texts": [[] for _ in names],
            "heads": [_head(name) for name in names],
        }

    async def append(self, run_id: str, seq: int, index: int, text: str, panes: list) -> None:
        pane = panes[index]
        entry = self.runs.get(run_id)
        if entry is None:
            return
        entry["texts"][index].append(text)
        entry["heads"][index] = _head_of(pane)
        entry["seq"] = seq

    async def head(self, run_id: str, index: int, pane) -> None:
        if (entry := self.runs.get(run_id)) is not None:
            entry["heads"][index] = _head_of(pane)

    async def snapshot(self, run_id: str) -> Snapshot | None:
        entry = self.runs.get(run_id)
        if entry is None:
            return None
        panes = [
            {**head, "transcript": "".join(text)}
            for head, text in zip(entry["heads"], entry["texts"], strict=True)
        ]
        return Snapshot(entry["seq"], panes)

    async def exists(self, run_id: str) -> bool:
        return run_id in self.runs

    async def end(self, run_id: str) -> None:
        self.runs.pop(run_id, None)


class RedisLog:
    """Keys per run: a hash (seq, pane count, each pane's head as JSON) and one string per pane
    that frames are appended to. Writes and the snapshot are MULTI transactions, so a snapshot's
    text and sequence number always agree."""

    def _client(self):
        return redisconn.client()

    def _keys(self, run_id: str) -> tuple[str, str]:
        base = f"baeum:{settings.SANDBOX_NAMESPACE}:run:{run_id}"
        return base, base + ":text:"

    def _ttl(self) -> int:
        # Only a guard against leaks (a follower killed mid-run): runs end well before.
        return settings.SANDBOX_TTL_SECONDS + 600

    async def begin(self, run_id: str, names: list[str]) -> None:
        meta, text = self._keys(run_id)
        fields: dict[str, int | str] = {"seq": 0, "n": len(names)}
        fields.update({f"h{i}": json.dumps(_head(name)) for i, name in enumerate(names)})
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.hset(meta, mapping=fields).expire(meta, self._ttl())
            for index in range(len(names)):
                pipe.set(f"{text}{index}", "", ex=self._ttl())
            await pipe.execute()

    async def append(self, run_id: str, seq: int, index: int, text: str, panes: list) -> None:
        pane = panes[index]
        meta, texts = self._keys(run_id)
        head = json.dumps(_head_of(pane))
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.append(f"{texts}{index}", text).hset(meta, mapping={"seq": seq, f"h{index}": head})
            length, *_ = await pipe.execute()
        if length != pane.kept_bytes:
            # Redis lost what came before (it restarted): write back the whole pane from the
            # follower's copy, so the next snapshot is complete again.
            await self._restore(run_id, seq, panes)

    async def _restore(self, run_id: str, seq: int, panes: list) -> None:
        meta, texts = self._keys(run_id)
        fields: dict[str, int | str] = {"seq": seq, "n": len(panes)}
        fields.update({f"h{i}": _dump(pane) for i, pane in enumerate(panes)})
        async with self._client().pipeline(transaction=True) as pipe:
            for index, pane in enumerate(panes):
                pipe.set(f"{texts}{index}", pane.transcript(), ex=self._ttl())
            pipe.hset(meta, mapping=fields).expire(meta, self._ttl())
            await pipe.execute()
        log.info("run log of %s restored from its follower (seq %d)", run_id, seq)

    async def head(self, run_id: str, index: int, pane) -> None:
        meta, _ = self._keys(run_id)
        await self._client().hset(meta, f"h{index}", _dump(pane))

    async def snapshot(self, run_id: str) -> Snapshot | None:
        meta, texts = self._keys(run_id)
        count = await self._client().hget(meta, "n")
        if count is None:
            return None
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.hgetall(meta)
            for index in range(int(count)):
                pipe.get(f"{texts}{index}")
            fields, *bodies = await pipe.execute()
        panes = []
        for index, body in enumerate(bodies):
            head = json.loads(fields.get(f"h{index}".encode(), b"{}")) or _head("")
            panes.append({**head, "transcript": (body or b"").decode(errors="replace")})
        return Snapshot(int(fields.get(b"seq", 0)), panes)

    async def exists(self, run_id: str) -> bool:
        return bool(await self._client().exists(self._keys(run_id)[0]))

    async def end(self, run_id: str) -> None:
        meta, texts = self._keys(run_id)
        count = int(await self._client().hget(meta, "n") or 0)
        await self._client().delete(meta, *[f"{texts}{i}" for i in range(count)])


def _head(name: str) -> dict:
    return {"name": name, "dropped_bytes": 0, "exit_code": None, "seconds": None}


def _head_of(pane) -> dict:
    return pane.head()


def _dump(pane) -> str:
    return json.dumps(_head_of(pane))


_MEMORY = MemoryLog()
_REDIS = RedisLog()


def current() -> MemoryLog | RedisLog:
    """The log this deployment uses (REDIS_URL is read each time: tests change it)."""
    return _REDIS if settings.REDIS_URL else _MEMORY
