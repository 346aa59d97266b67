"""The run queue (sandbox/api/queue.py) on the real engine, through the real websocket stack: a
press over the server-wide limit waits its turn, sees its place live, and runs when a slot
frees."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import AsyncClient, override_settings
from django.urls import reverse

from sandbox.api import queue as runqueue
from sandbox.api import runs
from sandbox.consumers.queue import REFUSED
from sandbox.models import QueuedRun, Run
from sandbox.supervisor import runs as following
from sandbox.tests.helpers import spec
from website.routing import websocket_application

pytestmark = [
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue_left_empty"),
]

RUN_SOCKET = re.compile(r'ws-connect="/ws/runs/([0-9a-f-]{36})/"')


async def student(name: str):
    return await sync_to_async(get_user_model().objects.create_user)(name, password="pw-12345678")


def socket(path: str, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        websocket_application(), path, headers=[(b"origin", b"http://localhost")]
    )
    comm.scope["user"] = user
    return comm


async def until(comm: WebsocketCommunicator, text: str, timeout: float = 30) -> list[str]:
    """Frames up to and including the first that holds `text`."""
    frames: list[str] = []
    while not any(text in frame for frame in frames):
        message = await comm.receive_output(timeout=timeout)
        assert message["type"] != "websocket.close", f"closed before {text!r}: {frames}"
        frames.append(message["text"])
    return frames


async def output_of(run_id: str, user) -> str:
    comm = socket(f"/ws/runs/{run_id}/", user)
    await comm.connect()
    frames = []
    while True:
        message = await comm.receive_output(timeout=30)
        if message["type"] == "websocket.close":
            break
        frames.append(message["text"])
    await comm.disconnect()
    return "".join(frames)


async def test_a_press_over_the_limit_waits_its_turn_and_runs_when_a_slot_frees(alice, bob):
    carol = await student("carol")
    with override_settings(SANDBOX_MAX_TOTAL=1):
        first = await runs.start_run(spec(alice, "sleep 30; echo alice-done"), queue=True)
        assert isinstance(first, Run)
        # bob's run lasts a moment, so carol's socket sees her move up before her own turn comes.
        waiting = await runs.start_run(spec(bob, "echo bob-ran; sleep 3"), queue=True)
        behind = await runs.start_run(spec(carol, "echo carol-ran"), queue=True)
        assert isinstance(waiting, QueuedRun) and isinstance(behind, QueuedRun)
        assert (await runqueue.standing(waiting)).position == 1
        assert (await runqueue.standing(behind)).position == 2

        bobs = socket(f"/ws/queue/{waiting.key}/", bob)
        carols = socket(f"/ws/queue/{behind.key}/", carol)
        assert (await bobs.connect())[0] and (await carols.connect())[0]
        assert "앞에 0명 · 약" in "".join(await until(bobs, "앞에"))
        assert "앞에 1명 · 약" in "".join(await until(carols, "앞에"))

        # alice's run ends (stopped here, so no machine is too slow for the order above): bob's
        # press becomes a run, his panel turns into its run panel…
        await runs.stop_run(str(first.id), "test")
        started = "".join(await until(bobs, 'ws-connect="/ws/runs/'))
        bob_run = RUN_SOCKET.search(started).group(1)
        assert f'id="queue-{waiting.key}" hx-swap-oob="innerHTML"' in started
        # …and carol moves up.
        assert "앞에 0명" in "".join(await until(carols, "앞에 0명"))
        assert "bob-ran" in await output_of(bob_run, bob)
        carol_run = RUN_SOCKET.search("".join(await until(carols, "/ws/runs/"))).group(1)
        assert "carol-ran" in await output_of(carol_run, carol)
        await bobs.disconnect()
        await carols.disconnect()
    await following.wait_for_all()
    bob_saved = await Run.objects.aget(pk=bob_run)
    assert bob_saved.queued_as == waiting.key and bob_saved.transcript == "bob-ran\n"
    assert not await QueuedRun.objects.aexists()


async def test_cancel_leaves_the_queue_and_the_next_moves_up(alice, bob):
    carol = await student("carol")
    with override_settings(SANDBOX_MAX_TOTAL=1):
        holder = await runs.start_run(spec(alice, "sleep 30"), queue=True)
        waiting = await runs.start_run(spec(bob, "echo never"), queue=True)
        behind = await runs.start_run(spec(carol, "echo carol-ran"), queue=True)
        bobs = socket(f"/ws/queue/{waiting.key}/", bob)
        carols = socket(f"/ws/queue/{behind.key}/", carol)
        await bobs.connect()
        await carols.connect()
        await until(carols, "앞에 1명")

        client = AsyncClient()
        await client.aforce_login(bob)
        response = await client.post(reverse("queue_cancel", args=[waiting.key]))
        assert response.status_code == 200
        assert "대기를 취소했어요" in response.content.decode()
        assert "대기를 취소했어요" in "".join(await until(bobs, "취소"))
        assert "앞에 0명" in "".join(await until(carols, "앞에 0명"))
        assert not await QueuedRun.objects.filter(key=waiting.key).aexists()
        await runs.stop_run(str(holder.id), "test")  # the slot frees: carol's turn
        await until(carols, "/ws/runs/")
        await bobs.disconnect()
        await carols.disconnect()
    await following.wait_for_all()
    assert not await Run.objects.filter(owner=bob).aexists()  # a cancelled press never runs


async def test_nobody_else_sees_or_cancels_an_entry(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1):
        holder = await runs.start_run(spec(alice, "sleep 30"), queue=True)
        waiting = await runs.start_run(spec(bob, "echo bobs"), queue=True)
        comm = socket(f"/ws/queue/{waiting.key}/", alice)
        await comm.connect()
        frames = []
        while (message := await comm.receive_output(timeout=10))["type"] != "websocket.close":
            frames.append(message["text"])
        assert message["code"] == REFUSED and "권한이 없어요" in "".join(frames)
        client = AsyncClient()
        await client.aforce_login(alice)
        response = await client.post(reverse("queue_cancel", args=[waiting.key]))
        assert response.status_code == 404
        assert await QueuedRun.objects.filter(key=waiting.key).aexists()
        await runs.stop_run(str(holder.id), "test")
    await following.wait_for_all()


async def test_first_come_first_served_across_three_students(alice, bob):
    carol, dave = await student("carol"), await student("dave")
    with override_settings(SANDBOX_MAX_TOTAL=1):
        await runs.start_run(spec(alice, "sleep 1"), queue=True)
        order = [bob, carol, dave]
        for person in order:
            entry = await runs.start_run(spec(person, f"echo {person.username}"), queue=True)
            assert isinstance(entry, QueuedRun)
        while (
            await QueuedRun.objects.aexists()
            or await Run.objects.filter(state__in=Run.LIVE_STATES).aexists()
        ):
            await asyncio.sleep(0.2)
    await following.wait_for_all()
    queued_runs = [
        run async for run in Run.objects.filter(queued_as__isnull=False).order_by("started_at")
    ]
    assert [run.owner_id for run in queued_runs] == [person.pk for person in order]
    assert [run.transcript for run in queued_runs] == ["bob\n", "carol\n", "dave\n"]
    # One at a time: each started after the one before it had ended.
    for before, after in zip(queued_runs, queued_runs[1:], strict=False):
        assert after.created_at >= before.ended_at


async def test_two_dispatchers_racing_start_each_entry_once(alice, bob):
    carol = await student("carol")
    with override_settings(SANDBOX_MAX_TOTAL=0):  # nothing may start: everyone waits
        for person in (alice, bob, carol):
            await runs.start_run(spec(person, f"echo {person.username}"), queue=True)
        await following.wait_for_all()  # the presses' own dispatch attempts (nothing could start)
        # This loop's own tick stands aside: the race is between the two threads below.
        ticker = runqueue._TICKERS.pop(asyncio.get_running_loop(), None)
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
    assert await QueuedRun.objects.acount() == 3
    taken: list[list] = [[], []]
    barrier = threading.Barrier(2)

    def dispatcher(index: int) -> None:
        from django.db import connection

        barrier.wait()
        try:
            taken[index] = runqueue._claim_retrying()  # each thread: its own connection
        finally:
            connection.close()

    with override_settings(SANDBOX_MAX_TOTAL=2):
        threads = [threading.Thread(target=dispatcher, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        claimed = [got.entry.key for found in taken for got in found]
        assert len(claimed) == 2 and len(set(claimed)) == 2  # the limit, each entry once
        assert await Run.objects.acount() == 2
        assert await QueuedRun.objects.acount() == 1
        # The two winners are the two oldest presses, and they run.
        owners = {run.owner_id async for run in Run.objects.all()}
        assert owners == {alice.pk, bob.pk}
        for found in taken:
            for got in found:
                await runs.hand_over(got.run, runs.RunSpec.from_data(got.entry.spec))
        await following.wait_for_all()
        while await QueuedRun.objects.aexists():  # carol's, once a slot frees
            await asyncio.sleep(0.2)
        await following.wait_for_all()
    transcripts = sorted([run.transcript async for run in Run.objects.all()])
    assert transcripts == ["alice\n", "bob\n", "carol\n"]


async def test_a_second_press_of_the_same_exercise_is_the_same_entry(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1):
        await runs.start_run(spec(alice, "sleep 1"), queue=True)
        first = await runs.press(spec(bob, "echo once", label="ex-1"), queue=True)
        again = await runs.press(spec(bob, "echo once", label="ex-1"), queue=True)
        assert isinstance(again.item, QueuedRun) and isinstance(first.item, QueuedRun)
        assert again.item.key == first.item.key and again.joined and not first.joined
        assert await QueuedRun.objects.acount() == 1
        while await QueuedRun.objects.aexists():
            await asyncio.sleep(0.2)
        await following.wait_for_all()
    assert await Run.objects.filter(owner=bob).acount() == 1


async def test_the_students_own_limit_still_refuses_at_once(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1, SANDBOX_MAX_PER_USER=1):
        await runs.start_run(spec(alice, "sleep 1"), queue=True)
        await runs.start_run(spec(bob, "echo one", label="ex-1"), queue=True)
        with pytest.raises(runs.QuotaExceeded, match="1개"):
            await runs.start_run(spec(bob, "echo two", label="ex-2"), queue=True)
        with pytest.raises(runs.QuotaExceeded, match="1개"):
            await runs.start_run(spec(alice, "echo two", label="ex-2"), queue=True)


async def test_an_old_entry_expires_with_a_message(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1):
        await runs.start_run(spec(alice, "sleep 3"), queue=True)
        waiting = await runs.start_run(spec(bob, "echo late"), queue=True)
        comm = socket(f"/ws/queue/{waiting.key}/", bob)
        await comm.connect()
        await until(comm, "앞에 0명")
        with override_settings(SANDBOX_QUEUE_SECONDS=0):
            frames = await until(comm, "대기열에서 빠졌어요")
        assert "다시 실행해 주세요" in "".join(frames)
        assert (await comm.receive_output(timeout=10))["type"] == "websocket.close"
    await following.wait_for_all()
    assert not await Run.objects.filter(owner=bob).aexists()


async def test_a_socket_that_comes_back_after_the_start_gets_the_run(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1):
        await runs.start_run(spec(alice, "echo quick"), queue=True)
        waiting = await runs.start_run(spec(bob, "echo bob-later"), queue=True)
        while await QueuedRun.objects.aexists():  # the tab is closed meanwhile
            await asyncio.sleep(0.2)
        await following.wait_for_all()
        comm = socket(f"/ws/queue/{waiting.key}/", bob)
        await comm.connect()
        frames = await until(comm, "/ws/runs/")
    run = await Run.objects.aget(owner=bob)
    assert f"/ws/runs/{run.id}/" in "".join(frames) and run.transcript == "bob-later\n"


async def test_whoever_may_watch_the_owner_sees_the_place(alice, bob):
    from sandbox import hooks

    carol = await student("carol")

    def carol_watches(user, entry) -> bool:  # as lessons vouches for a class's instructor
        return user.username == "carol"

    hooks.register_watch_check(carol_watches)
    try:
        with override_settings(SANDBOX_MAX_TOTAL=1):
            await runs.start_run(spec(alice, "sleep 1"), queue=True)
            waiting = await runs.start_run(spec(bob, "echo watched"), queue=True)
            comm = socket(f"/ws/queue/{waiting.key}/", carol)
            await comm.connect()
            assert "앞에 0명" in "".join(await until(comm, "앞에"))
            await until(comm, "/ws/runs/")
            await comm.disconnect()
    finally:
        hooks._watch_checks.remove(carol_watches)
