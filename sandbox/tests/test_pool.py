import asyncio
import uuid

import pytest
from django.test import override_settings

from sandbox import engine
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import pool
from sandbox.supervisor import runs as following
from sandbox.supervisor.reaper import reap_orphans
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.helpers import run_to_end, spec

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def warm_pool():
    with override_settings(SANDBOX_POOL_SIZE=2):
        lab = pool.pool_for("baeum/lab")
        lab.refill()
        await lab.filling
        yield lab
        await following.wait_for_all()
        await pool.drain_all()


async def test_the_pool_keeps_started_hardened_containers_waiting(warm_pool):
    assert len(warm_pool.ready) == 2
    for warm in warm_pool.ready:
        info = engine.inspect(warm.container_id)
        assert info["State"]["Running"]
        assert info["HostConfig"]["NetworkMode"] == "none"
        assert info["HostConfig"]["ReadonlyRootfs"] and info["HostConfig"]["CapDrop"] == ["ALL"]
    # The reaper leaves the pool's containers alone.
    assert reap_orphans() == 0
    assert len(engine.labelled_containers()) == 2


async def test_a_warm_container_runs_one_command_exactly_as_a_cold_one(alice, warm_pool):
    waiting = warm_pool.container_ids()
    command = "echo \"it's $((6*7))\"; printf 'two\\nlines\\n'; echo err >&2; exit 4"
    run = await run_to_end(alice, command)
    assert run.container_id in waiting  # it came from the pool
    assert run.transcript.replace("err\n", "") == "it's 42\ntwo\nlines\n"
    assert "err" in run.transcript
    assert run.exit_code == 4
    # Used once, then removed; the pool refilled behind it.
    await warm_pool.filling
    assert run.container_id not in {c.id for c in engine.labelled_containers()}
    assert len(warm_pool.ready) == 2


async def test_a_warm_run_still_has_its_time_limit_and_stop(alice, warm_pool):
    run = await run_to_end(alice, "sleep 100", timeout=1)
    assert run.state == Run.State.TIMED_OUT
    started = await runs.start_run(spec(alice, "echo hi; sleep 100", label="other"))
    while not SUPERVISED.runs[str(started.id)].panes[0].text:
        await asyncio.sleep(0.05)
    await runs.stop_run(str(started.id), "stop")
    await following.wait_for_all()
    assert (await Run.objects.aget(pk=started.pk)).state == Run.State.STOPPED


async def test_the_pool_never_grows_past_the_server_wide_limit(alice):
    with override_settings(SANDBOX_POOL_SIZE=3, SANDBOX_MAX_TOTAL=1):
        lab = pool.pool_for("baeum/lab")
        lab.refill()
        await lab.filling
        assert len(lab.ready) == 1
        await pool.drain_all()


async def test_a_warm_container_that_vanished_is_never_handed_out(alice, warm_pool):
    # Removed behind the pool's back (another process's reaper, `docker rm -f`, an engine
    # restart): the next press falls back to a cold start and works, in the same press.
    gone = warm_pool.container_ids()
    for container_id in gone:
        engine.remove(container_id)
    run = await run_to_end(alice, "echo still works")
    assert run.state == Run.State.EXITED, run.message
    assert run.transcript == "still works\n"
    assert run.container_id not in gone
    # The pool dropped the dead ones and warmed new ones.
    await warm_pool.filling
    assert not warm_pool.container_ids() & gone
    assert all(engine.is_running(c) for c in warm_pool.container_ids())


async def test_a_pool_the_engine_refused_tries_again_by_itself(alice, monkeypatch):
    # The engine refuses the first containers (here: the image is not there yet; on a loaded
    # machine, a create that timed out). The pool tries again on its own instead of waiting for
    # the next press, which would otherwise start cold.
    monkeypatch.setattr(pool, "FILL_RETRY_SECONDS", 0.2)
    later = f"baeum/lab-later-{uuid.uuid4().hex[:8]}"
    with override_settings(SANDBOX_POOL_SIZE=2):
        lab = pool.pool_for(f"{later}:latest")
        lab.refill()
        await asyncio.sleep(0.5)
        assert lab.ready == [] and not lab.filling.done()
        engine.tag_image("baeum/lab", later, "latest")
        try:
            await asyncio.wait_for(lab.filling, 30)
            assert len(lab.ready) == 2
            assert all(engine.is_running(c) for c in lab.container_ids())
        finally:
            await pool.drain_all()
            engine.remove_image(f"{later}:latest")
