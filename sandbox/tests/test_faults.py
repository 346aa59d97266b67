"""Faults: the engine disappearing mid-run, and the server restarting mid-run."""

import asyncio

import pytest

from sandbox import engine
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following
from sandbox.supervisor.reaper import abandon_unfollowed_runs, reap_orphans
from sandbox.supervisor.state import SUPERVISED, Supervised
from sandbox.tests.engine_proxy import EngineProxy
from sandbox.tests.helpers import run_to_end, spec

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def proxy(tmp_path, monkeypatch):
    proxy = EngineProxy(tmp_path / "engine.sock")
    proxy.start()
    monkeypatch.setenv("DOCKER_HOST", proxy.docker_host)
    engine.forget_client()
    yield proxy
    proxy.cut()
    monkeypatch.undo()
    engine.forget_client()


async def test_the_engine_dying_mid_run_fails_the_run_plainly(alice, proxy):
    run = await runs.start_run(spec(alice, "echo before; sleep 30", timeout=40))
    while not SUPERVISED.runs[str(run.id)].panes[0].text:
        await asyncio.sleep(0.05)
    proxy.cut()
    await asyncio.wait_for(following.wait_for_all(), timeout=30)
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.FAILED
    assert run.message == runs.ENGINE_DOWN_MESSAGE
    assert run.transcript == "before\n"  # what arrived is kept

    # The engine comes back: the container the run could not remove is reaped, and the next
    # run works.
    proxy.start()
    engine.forget_client()
    # (At least that one: whatever an earlier test left in this namespace goes too.)
    assert reap_orphans() >= 1
    assert run.container_id not in {c.id for c in engine.labelled_containers()}
    again = await run_to_end(alice, "echo back")
    assert again.state == Run.State.EXITED and again.transcript == "back\n"


async def test_an_unreachable_engine_keeps_the_pages_working(client, alice, proxy):
    from django.test import AsyncClient

    proxy.cut()
    browser = AsyncClient()
    await browser.aforce_login(alice)
    page = await browser.get("/lessons/docker-01-what-is-a-container/")
    assert page.status_code == 200
    response = await browser.post("/lessons/docker-01-what-is-a-container/exercises/run-twice/run/")
    assert response.status_code == 200
    await following.wait_for_all()
    run = await Run.objects.aget(owner=alice)
    assert run.state == Run.State.FAILED and run.message == runs.ENGINE_DOWN_MESSAGE


def test_a_restarted_server_marks_runs_it_cannot_follow_and_reaps_their_containers(alice):
    # What a server killed mid-run leaves behind: a run marked live, its container running.
    run = Run.objects.create(
        owner=alice,
        label="test",
        image="baeum/lab",
        command="sleep 100",
        timeout_seconds=60,
        state=Run.State.RUNNING,
    )
    container = engine.create_container(engine.ContainerSpec("baeum/lab", "sleep 100", str(run.pk)))
    engine.start(container)

    assert len(abandon_unfollowed_runs()) == 1
    # (At least that one: whatever an earlier test left in this namespace goes too.)
    assert reap_orphans() >= 1
    assert run.container_id not in {c.id for c in engine.labelled_containers()}
    run.refresh_from_db()
    assert run.state == Run.State.FAILED
    assert "다시 시작" in run.message and run.ended_at is not None
    assert not engine.labelled_containers()


def test_the_background_reaper_spares_containers_younger_than_its_grace(alice):
    # A container nobody holds, made a moment ago: a warm one being handed to a run looks so.
    container = engine.create_container(engine.ContainerSpec("baeum/lab", "sleep 100", "young"))
    assert reap_orphans(grace_seconds=30) == 0
    assert reap_orphans() == 1  # at start-up, or by hand, nothing is young enough to wait for
    assert container not in {c.id for c in engine.labelled_containers()}


def test_the_reaper_spares_what_the_supervisor_it_is_given_holds(alice):
    """The reaper reads only the state it is given (its thread is handed the supervisor's), not
    the followers' modules: a run that state follows keeps its container; another does not."""
    container = engine.create_container(engine.ContainerSpec("baeum/lab", "sleep 100", "held"))
    supervised = Supervised()
    supervised.runs["held"] = following.LiveRun("held", [])
    assert reap_orphans(0, supervised) == 0
    assert container in {c.id for c in engine.labelled_containers()}
    assert reap_orphans(0, Supervised()) == 1  # the process's own state follows no such run
    assert container not in {c.id for c in engine.labelled_containers()}
