"""Small helpers for sandbox tests: start a run and wait for it, on the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sandbox import seam
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following
from sandbox.supervisor import serve


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
    await asyncio.wait_for(following.wait_for_all(), timeout=90)
    return await Run.objects.aget(pk=run.pk)


@asynccontextmanager
async def separate_supervisor() -> AsyncIterator[None]:
    """`manage.py sandbox_supervisor`'s loop, in this process (SANDBOX_SUPERVISOR=separate and
    Redis set by the test): entered once its heartbeat is seen, stopped on the way out."""
    stop = asyncio.Event()
    serving = asyncio.create_task(serve.serve(stop))
    try:
        for _ in range(50):
            seam._seen_alive_at = 0.0
            try:
                await seam._require_supervisor()
                break
            except seam.SupervisorUnavailable:
                await asyncio.sleep(0.1)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=10)
