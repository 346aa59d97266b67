"""What web code asks of a student's orchestration lab. The lab lives with the sandbox
supervisor (sandbox/supervisor/labs.py), in this process or in its own; these ask it and raise what
the engine would have raised."""

from __future__ import annotations

from sandbox import seam
from sandbox.manifests import ManifestError


async def apply(owner_id: int, text: str) -> None:
    refused = await seam.ask("lab.apply", owner_id=owner_id, text=text)
    if refused:
        raise ManifestError(refused)


async def state(owner_id: int) -> dict | None:
    """The lab's state (replicas, cards, rollout) and what the checks need; None if no lab."""
    return await seam.ask("lab.state", owner_id=owner_id)


async def kill(owner_id: int, task_id: str) -> bool:
    return bool(await seam.ask("lab.kill", owner_id=owner_id, task_id=task_id))


async def rollback(owner_id: int) -> None:
    await seam.ask("lab.rollback", owner_id=owner_id)


async def balance(owner_id: int, requests: int = 12) -> list[str] | None:
    """Which replica answered each of `requests` calls; None if the student has no lab."""
    return await seam.ask("lab.balance", owner_id=owner_id, requests=requests)
