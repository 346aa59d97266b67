"""A class's warm-up (수업 시작 / 수업 끝), from web code: `lessons` knows who is in the class and
passes the ids, so the sandbox knows no classes; the supervisor holds the warm-ups beside the
pools (sandbox/supervisor/warmup.py)."""

from __future__ import annotations

from sandbox import seam

WARM_IMAGE = "baeum/lab"  # what exercises run unless they name another lab image


async def warm(key: str, owner_ids: list[int]) -> dict:
    """Start (or restart) warming for `key` (a class) and its students; returns `state`."""
    return await seam.ask("pool.warm", key=key, owner_ids=list(owner_ids))


async def cool(key: str) -> dict:
    """End warming for `key` now (수업 끝); returns `state`."""
    return await seam.ask("pool.cool", key=key)


async def state(key: str) -> dict:
    return await seam.ask("pool.state", key=key)
