"""Small helpers for sandbox tests: start a run and wait for it, on the real engine."""

from __future__ import annotations

import asyncio

from sandbox import runs
from sandbox.models import Run


def spec(
    owner, command: str, *, timeout: int = 20, memory: str | None = None, label: str = "test"
) -> runs.RunSpec:
    return runs.RunSpec(
        image="baeum/lab",
        command=command,
        owner_id=owner.pk,
        label=label,
        timeout=timeout,
        memory=memory,
    )


async def run_to_end(owner, command: str, **kwargs) -> Run:
    run = await runs.start_run(spec(owner, command, **kwargs))
    await asyncio.wait_for(runs.wait_for_all(), timeout=90)
    return await Run.objects.aget(pk=run.pk)
