"""The supervising loop runs blocking engine calls on its own, deliberately sized executor."""

import asyncio
import threading

import pytest
from django.test import override_settings

from sandbox.supervisor import engine_threads

pytestmark = pytest.mark.django_db


@override_settings(SANDBOX_ENGINE_THREADS=24)
async def test_twenty_blocking_calls_run_at_once_not_six():
    engine_threads.install()
    # asyncio's default executor has min(32, cores + 4) threads: six on 2 cores, so the
    # twentieth call would wait for the first to return and the barrier would break.
    barrier = threading.Barrier(20, timeout=10)
    names = await asyncio.gather(*(asyncio.to_thread(_meet, barrier) for _ in range(20)))
    assert all(name.startswith("engine") for name in names)


def _meet(barrier: threading.Barrier) -> str:
    barrier.wait()
    return threading.current_thread().name
