"""A class's warm-up on the real engine: the pool grows toward the students online, within the
memory budget and the server-wide limit, serves their runs, and shrinks once the class is idle."""

import asyncio
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from sandbox import engine
from sandbox.api import warmup as api_warmup
from sandbox.supervisor import pool, runs, warmup
from sandbox.tests.helpers import run_to_end

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

# Pool off outside warm-ups (as in production with SANDBOX_POOL_SIZE=0), a budget of three
# containers at the default 128 MiB limit, and room for ten on the server.
SMALL = {
    "SANDBOX_POOL_SIZE": 0,
    "SANDBOX_MEMORY": "128m",
    "SANDBOX_WARM_MEMORY": "384m",
    "SANDBOX_MAX_TOTAL": 10,
}


@pytest.fixture
async def cleanup():
    yield
    await runs.wait_for_all()
    await warmup.end_all()
    await pool.drain_all()


async def _students(count: int, *, online: bool = True) -> list[int]:
    User = get_user_model()
    ids = []
    for i in range(count):
        user = await User.objects.acreate(username=f"s{i}-{online}")
        if online:
            user.last_login = timezone.now()
            await user.asave(update_fields=["last_login"])
        ids.append(user.pk)
    return ids


async def _filled() -> pool.Pool:
    lab = pool.pool_for(api_warmup.WARM_IMAGE)
    while lab.filling and not lab.filling.done():
        await lab.filling
    return lab


async def test_warming_grows_the_pool_to_the_students_online(cleanup):
    with override_settings(**{**SMALL, "SANDBOX_WARM_MEMORY": "1g"}):
        ids = await _students(2) + await _students(3, online=False)
        state = await api_warmup.warm("class-1", ids)
        assert state["warm"] and state["online"] == 2 and state["target"] == 2
        lab = await _filled()
        assert len(lab.ready) == 2
        # Hardened like any run, and labelled as this deployment's.
        for warm in lab.ready:
            info = engine.inspect(warm.container_id)
            assert info["State"]["Running"] and info["HostConfig"]["CapDrop"] == ["ALL"]
        state = await api_warmup.state("class-1")
        assert state["ready"] == 2 and state["memory_bytes"] == 2 * 128 * 2**20


async def test_the_memory_budget_bounds_the_warm_up(cleanup):
    with override_settings(**SMALL):
        state = await api_warmup.warm("class-1", await _students(5))
        assert state["online"] == 5 and state["target"] == 3 and state["budget_containers"] == 3
        assert len((await _filled()).ready) == 3


async def test_the_server_wide_limit_bounds_the_warm_up(cleanup):
    with override_settings(**{**SMALL, "SANDBOX_WARM_MEMORY": "1g", "SANDBOX_MAX_TOTAL": 2}):
        await api_warmup.warm("class-1", await _students(5))
        assert len((await _filled()).ready) == 2


async def test_a_students_run_takes_a_warm_container(alice, cleanup):
    with override_settings(**SMALL):
        alice.last_login = timezone.now()
        await alice.asave(update_fields=["last_login"])
        await api_warmup.warm("class-1", [alice.pk])
        waiting = (await _filled()).container_ids()
        assert len(waiting) == 1
        run = await run_to_end(alice, "echo warm")
        assert run.transcript == "warm\n"
        assert run.container_id in waiting


async def test_an_idle_class_shrinks_the_pool_back(cleanup, monkeypatch):
    monkeypatch.setattr(warmup, "TICK_SECONDS", 0.2)
    with override_settings(**SMALL, SANDBOX_WARM_IDLE_SECONDS=1):
        await api_warmup.warm("class-1", await _students(2))
        lab = await _filled()
        assert len(lab.ready) == 2
        for _ in range(100):  # the tick ends the warm-up once a second passed with no press
            await asyncio.sleep(0.1)
            if not lab.ready and not await asyncio.to_thread(engine.labelled_containers):
                break
        state = await api_warmup.state("class-1")
        assert not state["warm"] and state["ready"] == 0 and state["target"] == 0
        assert engine.labelled_containers() == []


async def test_a_press_keeps_the_class_warm(alice, cleanup, monkeypatch):
    monkeypatch.setattr(warmup, "TICK_SECONDS", 0.2)
    with override_settings(**SMALL, SANDBOX_WARM_IDLE_SECONDS=4):
        began = time.monotonic()
        await api_warmup.warm("class-1", [alice.pk])
        await asyncio.sleep(3)
        await run_to_end(alice, "echo still here")  # online now, and the idle clock restarts
        # Past the first idle end (began + 4), well within the second (the press + 4).
        await asyncio.sleep(max(0.0, began + 4.5 - time.monotonic()))
        state = await api_warmup.state("class-1")
        assert state["warm"] and state["online"] == 1
