"""Restarts recover everything, not only runs: a new process of the same deployment (simulated
in-process: the modules' memory cleared, as a new process would have it) finds what the previous
one left, on the real engine, and recovers or closes each kind before its first reap."""

import asyncio
import time

import pytest
from django.conf import settings

from sandbox import engine, hooks
from sandbox.api import builds as api_builds
from sandbox.models import Build, Playground
from sandbox.supervisor import builds, playgrounds, reaper
from sandbox.supervisor import labs as orchestra
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.test_builds import DOCKERFILE, FILES
from sandbox.tests.test_orchestra import manifest, running
from sandbox.tests.test_terminal import Screen

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def restart() -> dict:
    """What a new process does at start-up: recover, then reap (grace 0, as before serving)."""
    recovered = await asyncio.to_thread(reaper.recover_after_restart)
    await asyncio.to_thread(reaper.reap_everywhere, 0)
    return recovered


async def forget_terminals() -> None:
    """The previous process dies: its relays and attach streams go with it, and nothing is
    recorded (a killed process records nothing)."""
    for live in list(SUPERVISED.playgrounds.values()):
        live.relay.cancel()
        live.stream.close()
    SUPERVISED.playgrounds.clear()
    SUPERVISED.adopted.clear()
    playgrounds._OPENING.clear()
    await asyncio.sleep(0.2)


@pytest.fixture
async def cleanup():
    yield
    await playgrounds.end_all()
    await builds.wait_for_all()
    for build in [b async for b in Build.objects.filter(removed=False, state="built")]:
        await asyncio.to_thread(builds.remove_build_image, build)


async def test_a_build_cut_off_by_a_restart_is_failed_in_words_and_the_student_builds_again(
    alice, cleanup
):
    # What a killed process leaves: a build marked «building» that nothing follows.
    cut = await Build.objects.acreate(
        owner=alice, label="test/lab", repository="r", dockerfile=DOCKERFILE
    )
    with pytest.raises(api_builds.BuildRefused):
        await api_builds.start_build(api_builds.BuildSpec(alice.pk, "test/lab", DOCKERFILE, FILES))
    recovered = await restart()
    assert recovered["builds"] == [str(cut.pk)]
    cut = await Build.objects.aget(pk=cut.pk)
    assert cut.state == Build.State.FAILED and cut.ended_at is not None
    assert "다시 시작" in cut.message and "다시 눌러" in cut.message
    again = await api_builds.start_build(
        api_builds.BuildSpec(alice.pk, "test/lab", DOCKERFILE, FILES)
    )
    await builds.wait_for_all()
    assert (await Build.objects.aget(pk=again.pk)).state == Build.State.BUILT


async def test_terminals_are_readopted_when_their_container_runs_and_closed_when_not(
    alice, bob, cleanup
):
    mine = Screen(alice)
    await mine.open()
    await mine.type("echo kept > /work/notes; echo saved-$((1+1))\r")
    await mine.wait_for("saved-2")
    theirs = Screen(bob)
    await theirs.open()
    await theirs.wait_for("$ ")
    kept = SUPERVISED.playgrounds[alice.pk].playground
    lost = SUPERVISED.playgrounds[bob.pk].playground
    await forget_terminals()
    # While the server was down, bob's container went (an engine restart, `docker rm -f`).
    await asyncio.to_thread(engine.remove, lost.container_id)

    told = []
    hooks.register_terminal_hook(told.append)
    try:
        recovered = await restart()
    finally:
        hooks._terminal_hooks.remove(told.append)
    assert recovered["terminals"] == {"adopted": [str(kept.pk)], "closed": [str(lost.pk)]}
    assert told == [bob.pk]  # the dashboards of bob's classes refresh
    # The reap spared alice's container (held by the adoption); bob's row is closed.
    assert engine.is_running(kept.container_id)
    lost = await Playground.objects.aget(pk=lost.pk)
    assert lost.ended_at is not None and "터미널 열기" in lost.end_reason
    assert await Playground.objects.filter(ended_at__isnull=True).acount() == 1

    # Alice's next open: the same shell and its /work.
    again = Screen(alice)
    hello = await again.open()
    assert hello["type"] == "hello" and "같은 셸" in hello["scrollback"]
    assert SUPERVISED.playgrounds[alice.pk].playground.pk == kept.pk
    await again.type("cat /work/notes; echo read-$((2+2))\r")
    await again.wait_for("read-4")
    assert "kept" in again.text
    # Bob's next open: a new terminal at once.
    fresh = Screen(bob)
    assert (await fresh.open())["type"] == "hello"
    await fresh.type("echo new-$((3+3))\r")
    await fresh.wait_for("new-6")
    assert SUPERVISED.playgrounds[bob.pk].playground.pk != lost.pk
    for screen in (mine, theirs, again, fresh):
        await screen.close()


async def test_an_adopted_terminal_nobody_reopens_is_ended_after_the_idle_limit(alice, cleanup):
    from django.test import override_settings

    screen = Screen(alice)
    await screen.open()
    container = SUPERVISED.playgrounds[alice.pk].playground.container_id
    await screen.close()
    await forget_terminals()
    await restart()
    assert container in SUPERVISED.held().container_ids
    with override_settings(SANDBOX_PLAYGROUND_IDLE_SECONDS=0):
        assert await playgrounds.expire_due() == 1
    assert container not in {c.id for c in engine.labelled_containers()}
    assert (await Playground.objects.aget(owner=alice)).ended_at is not None


async def test_a_lab_whose_service_runs_is_readopted_not_reaped(swarm):
    await asyncio.to_thread(orchestra.apply, 21, manifest(replicas=2))
    before = await orchestra.wait_until(21, running(2))
    service = SUPERVISED.labs[21].service
    SUPERVISED.labs.clear()  # a new process: no lab in memory

    recovered = await restart()
    assert recovered["labs"] == [21]
    assert service in engine.labelled_services()
    lab = SUPERVISED.labs[21]
    assert lab.service == service and lab.network in {n.name for n in engine.labelled_networks()}
    # The same replicas, untouched by the reap, and the lab works as before.
    after = await orchestra.wait_until(21, running(2))
    assert {t["id"] for t in after["cards"]} == {t["id"] for t in before["cards"]}
    assert lab.expires - time.monotonic() > settings.SANDBOX_LAB_SECONDS - 120
    answers = await asyncio.to_thread(orchestra.load_balance, 21, 6)
    assert len(answers) == 6 and all(a.startswith("web v1 · ") for a in answers)
    await asyncio.to_thread(orchestra.end, 21)
    assert service not in engine.labelled_services()


async def test_a_terminal_whose_end_cannot_be_recorded_still_goes(alice, cleanup):
    """The database refusing the record (here: the row gone) never leaves the container
    running: the next process's recover() records what this one could not."""
    screen = Screen(alice)
    await screen.open()
    live = SUPERVISED.playgrounds[alice.pk]
    container = live.playground.container_id
    await screen.close()
    await Playground.objects.filter(pk=live.playground.pk).adelete()
    await playgrounds.end(live, "test")
    assert alice.pk not in SUPERVISED.playgrounds
    assert container not in {c.id for c in engine.labelled_containers()}
