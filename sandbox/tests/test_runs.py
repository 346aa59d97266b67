import asyncio
import time
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.test import override_settings
from django.utils import timezone

from sandbox import engine, events
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.helpers import run_to_end, spec

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def test_output_arrives_in_order_with_exit_code(alice):
    # The engine copies stdout and stderr separately: only a pause orders one after the other.
    command = "for i in 1 2 3 4 5; do echo line $i; done; sleep 0.2; echo oops >&2; exit 3"
    run = await run_to_end(alice, command)
    assert run.state == Run.State.EXITED
    assert run.exit_code == 3
    assert run.transcript == "line 1\nline 2\nline 3\nline 4\nline 5\noops\n"
    assert run.duration_seconds is not None and run.duration_seconds > 0


async def test_container_is_gone_afterwards(alice):
    run = await run_to_end(alice, "echo bye")
    assert run.container_id
    assert run.container_id not in {c.id for c in engine.labelled_containers()}
    with pytest.raises(engine.EngineError):
        engine.inspect(run.container_id)


async def test_time_limit_kills_a_long_sleep(alice):
    run = await run_to_end(alice, "echo sleeping; sleep 1000", timeout=2)
    assert run.state == Run.State.TIMED_OUT
    assert "시간 제한(2초)" in run.message
    assert run.transcript == "sleeping\n"
    assert not engine.labelled_containers()


async def test_output_is_published_live_line_by_line(alice):
    # Listen on the run's group as a consumer would, and time each frame's arrival.
    layer = get_channel_layer()
    channel = await layer.new_channel()
    run = await runs.start_run(spec(alice, "for i in 1 2 3 4; do echo tick $i; sleep 0.3; done"))
    await layer.group_add(events.run_group(run.id), channel)
    arrivals = []
    while True:
        event = await asyncio.wait_for(layer.receive(channel), timeout=20)
        if event["type"] == "run.output":
            arrivals.append((time.monotonic(), event["text"]))
        if event["type"] == "run.ended":
            break
    await following.wait_for_all()
    texts = [text for _, text in arrivals]
    assert "".join(texts) == "tick 1\ntick 2\ntick 3\ntick 4\n"
    assert len(arrivals) >= 4, "each line should travel in its own frame"
    assert arrivals[-1][0] - arrivals[0][0] > 0.6, "lines must arrive spread over the run"


async def test_the_status_and_the_end_travel_with_their_events(alice):
    """A socket shows the status line and the end from the events alone (no row to read)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    run = await runs.start_run(spec(alice, "echo one; sleep 0.5; echo two; exit 3"))
    await layer.group_add(events.run_group(run.id), channel)
    seen: dict[str, dict] = {}
    while "run.ended" not in seen:
        event = await asyncio.wait_for(layer.receive(channel), timeout=20)
        seen.setdefault(event["type"], event)
    await following.wait_for_all()
    status = events.RunStatus.of_event(seen["run.status"])
    assert status.state == Run.State.RUNNING and status.id == str(run.id)
    ended = events.RunEnded.of_event(seen["run.ended"])
    assert ended.status.state == Run.State.EXITED and ended.status.exit_code == 3
    assert ended.status.duration_seconds and ended.status.duration_seconds >= 0.5
    assert [pane["transcript"] for pane in ended.panes] == ["one\ntwo\n"]


async def test_memory_hog_is_reported_as_oom(alice):
    run = await run_to_end(alice, "awk 'BEGIN{s=\"x\"; while(1){s=s s}}'", memory="16m")
    assert run.oom_killed
    assert run.exit_code == 137
    assert "메모리" in run.message


async def test_transcript_is_capped_with_the_drop_counted(alice):
    with override_settings(SANDBOX_TRANSCRIPT_BYTES=1000):
        run = await run_to_end(alice, "yes 0123456789 | head -c 100000", timeout=20)
    assert len(run.transcript.encode()) == 1000
    assert run.transcript_dropped_bytes == 100000 - 1000


async def test_engine_unreachable_fails_the_run_with_a_plain_message(alice, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    engine.forget_client()
    try:
        run = await run_to_end(alice, "echo never")
    finally:
        monkeypatch.undo()
        engine.forget_client()
    assert run.state == Run.State.FAILED
    assert run.message == runs.ENGINE_DOWN_MESSAGE
    # And the next run works once the engine is back.
    assert (await run_to_end(alice, "echo back")).transcript == "back\n"


async def test_a_student_over_quota_gets_a_clear_refusal(alice):
    with override_settings(SANDBOX_MAX_PER_USER=1):
        await runs.start_run(spec(alice, "sleep 2", label="first"))
        with pytest.raises(runs.QuotaExceeded, match="1개"):
            await runs.start_run(spec(alice, "echo second", label="second"))
        await following.wait_for_all()


async def test_no_run_outlives_the_servers_time_limit(alice):
    with override_settings(SANDBOX_TTL_SECONDS=1):
        run = await run_to_end(alice, "sleep 30", timeout=60)
    assert run.timeout_seconds == 1
    assert run.state == Run.State.TIMED_OUT


async def test_containers_of_one_run_talk_on_a_private_network(alice):
    parts = (
        runs.Part(
            "web",
            "mkdir -p /tmp/www && echo hello-from-web > /tmp/www/index.html && httpd -f -p 8080 -h /tmp/www",
        ),
        runs.Part(
            "client",
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/ && exit 0; sleep 0.3; done; exit 1",
            main=True,
        ),
    )
    run = await runs.start_run(
        runs.RunSpec("baeum/lab", "web + client", alice.pk, "test", timeout=30, parts=parts)
    )
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.EXITED and run.exit_code == 0
    assert [pane["name"] for pane in run.panes] == ["web", "client"]
    assert run.panes[1]["transcript"] == "hello-from-web\n"
    # The server was stopped when the client ended, and everything the run made is gone.
    assert not engine.labelled_containers()
    assert not engine.labelled_networks()


async def test_a_run_network_reaches_neither_out_nor_the_host(alice):
    # The gateway address exists in the container's table, but the host holds no address on an
    # internal, ipv4-inhibited bridge: a connection goes unanswered instead of being refused by
    # the host (which would mean the host's services were in reach).
    probe = (
        "gw=$(ip route | awk '/default/ {print $3}'); echo gateway $gw; "
        "timeout 2 nc $gw 22 </dev/null 2>&1; timeout 2 nc 127.0.0.1 22 </dev/null >/dev/null 2>&1; "
        "echo done"
    )
    parts = (runs.Part("a", "sleep 5"), runs.Part("b", probe, main=True))
    run = await runs.start_run(runs.RunSpec("baeum/lab", "x", alice.pk, "test", 20, parts=parts))
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    transcript = run.panes[1]["transcript"]
    assert (
        "gateway 172." in transcript or "gateway 10." in transcript or "gateway 192." in transcript
    )
    assert "refused" not in transcript
    assert "done" in transcript


async def test_parts_in_turn_are_each_timed(alice):
    parts = tuple(runs.Part(f"{n}회", "echo started", main=(n == 3)) for n in (1, 2, 3))
    run = await runs.start_run(
        runs.RunSpec(
            "baeum/lab", "echo started", alice.pk, "test", 30, parts=parts, one_after_another=True
        )
    )
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.EXITED and run.exit_code == 0
    assert [pane["transcript"] for pane in run.panes] == ["started\n"] * 3
    assert all(0 < pane["seconds"] < 10 for pane in run.panes)
    assert not engine.labelled_containers()


async def test_the_reaper_removes_what_no_run_owns(alice):
    from sandbox.supervisor.reaper import reap_orphans

    stray = engine.create_container(engine.ContainerSpec("baeum/lab", "sleep 100", "no-such-run"))
    network = engine.create_run_network("no-such-run")
    assert reap_orphans() == 2
    assert not engine.labelled_containers()
    assert network not in {n.name for n in engine.labelled_networks()}
    assert stray


async def test_two_quick_presses_start_one_run(alice):
    first, second = await asyncio.gather(
        runs.press(spec(alice, "sleep 1")), runs.press(spec(alice, "sleep 1"))
    )
    await following.wait_for_all()
    assert first.item.pk == second.item.pk
    assert {first.joined, second.joined} == {False, True}
    assert await Run.objects.filter(owner=alice).acount() == 1


async def test_a_press_joins_a_run_another_worker_is_handing_over_and_replaces_a_lost_one(alice):
    # Another worker's press, between its two steps: the row is there, its run log not yet.
    handing = await Run.objects.acreate(
        owner=alice, label="test", image="baeum/lab", command="x", timeout_seconds=20
    )
    joined = await runs.press(spec(alice, "echo mine"))
    assert joined.item.pk == handing.pk and joined.joined
    # The same, long past a hand-over: its follower is gone, so the press fails it and starts anew.
    old = timezone.now() - timedelta(seconds=runs.HAND_OVER_SECONDS + 1)
    await Run.objects.filter(pk=handing.pk).aupdate(created_at=old)
    fresh = await runs.press(spec(alice, "echo mine"))
    await following.wait_for_all()
    assert fresh.item.pk != handing.pk and not fresh.joined
    lost = await Run.objects.aget(pk=handing.pk)
    assert lost.state == Run.State.FAILED and "다시 실행" in lost.message


async def test_the_server_wide_quota_holds(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1):
        await runs.start_run(spec(alice, "sleep 2"))
        with pytest.raises(runs.QuotaExceeded, match="너무 많아요"):
            await runs.start_run(spec(bob, "echo mine"))
        await following.wait_for_all()


async def test_a_stopped_run_says_who_stopped_it(alice):
    run = await runs.start_run(spec(alice, "echo going; sleep 30"))
    while not SUPERVISED.runs[str(run.id)].panes[0].text:
        await asyncio.sleep(0.05)
    started = time.monotonic()
    assert await runs.stop_run(str(run.id), "직접 실행을 멈췄어요.")
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert time.monotonic() - started < 10
    assert run.state == Run.State.STOPPED
    assert run.message == "직접 실행을 멈췄어요."
    assert run.transcript == "going\n"
    assert not engine.labelled_containers()


async def test_an_output_flood_is_coalesced_bounded_and_ends_on_time(alice):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    with override_settings(SANDBOX_TRANSCRIPT_BYTES=64 * 1024):
        run = await runs.start_run(spec(alice, "yes flood", timeout=3))
        await layer.group_add(events.run_group(run.id), channel)
        frames = 0
        while True:
            event = await asyncio.wait_for(layer.receive(channel), timeout=30)
            frames += event["type"] == "run.output"
            if event["type"] == "run.ended":
                break
        await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.TIMED_OUT
    assert len(run.transcript.encode()) == 64 * 1024
    assert run.transcript_dropped_bytes > 1_000_000  # the flood went on; it was counted
    # At most one frame per 50 ms (plus the tail), however fast the container writes.
    assert frames <= 3 / following.FRAME_SECONDS + 5
