"""The scale-out parts on their own, against a real Redis: the run log (snapshot, bounds, healing
after Redis lost it) and the supervisor seam over the channel layer (ask, tell, errors, no
supervisor)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess

import pytest
from channels.layers import channel_layers

from sandbox import engine, runlog, seam
from sandbox.supervisor import handlers
from sandbox.supervisor.runs import Pane
from sandbox.tests.helpers import separate_supervisor
from tools.cluster import free_port, wait_for_port


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def redis_url(tmp_path, settings):
    """A Redis of this test's own, and the settings that use it."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is missing (apt-get install redis-server)"
        if _ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    port = free_port()
    log = tmp_path / "redis.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, process, log)
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    channel_layers.backends.clear()
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    channel_layers.backends.clear()


def _panes(*names: str) -> list[Pane]:
    return [Pane(name) for name in names]


async def _write(log, run_id: str, panes: list[Pane], frames: list[tuple[int, str]]) -> None:
    for seq, (index, text) in enumerate(frames, start=1):
        kept, _ = panes[index].keep(text, 0)
        await log.append(run_id, seq, index, kept, panes)


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_snapshot_has_every_frame_so_far_and_its_number(kind, request, settings):
    if kind == "redis":
        request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
    log = runlog.current()
    assert isinstance(log, runlog.RedisLog if kind == "redis" else runlog.MemoryLog)
    panes = _panes("web", "client")
    await log.begin("r1", ["web", "client"])
    assert (await log.snapshot("r1")).seq == 0
    await _write(log, "r1", panes, [(0, "one\n"), (1, "하나\n"), (0, "two\n")])
    panes[1].exit_code = 3
    await log.head("r1", 1, panes[1])

    snapshot = await log.snapshot("r1")
    assert snapshot.seq == 3
    assert [p["transcript"] for p in snapshot.panes] == ["one\ntwo\n", "하나\n"]
    assert [p["name"] for p in snapshot.panes] == ["web", "client"]
    assert snapshot.panes[1]["exit_code"] == 3
    assert await log.exists("r1")
    await log.end("r1")
    assert await log.snapshot("r1") is None and not await log.exists("r1")


async def test_the_log_is_bounded_by_the_transcript_cap(redis_url, settings):
    settings.SANDBOX_TRANSCRIPT_BYTES = 1000
    log = runlog.current()
    panes = _panes("main")
    await log.begin("r2", ["main"])
    await _write(log, "r2", panes, [(0, "x" * 600), (0, "y" * 600), (0, "z" * 600)])
    snapshot = await log.snapshot("r2")
    assert len(snapshot.panes[0]["transcript"]) == 1000
    assert snapshot.panes[0]["dropped_bytes"] == 800 and snapshot.seq == 3


async def test_after_redis_lost_the_log_the_next_frame_writes_it_back_whole(redis_url):
    import redis.asyncio

    log = runlog.current()
    panes = _panes("main", "side")
    await log.begin("r3", ["main", "side"])
    await _write(log, "r3", panes, [(0, "before\n"), (1, "side\n")])
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.flushall()  # what a restarted Redis without persistence has
    await client.aclose()
    assert await log.snapshot("r3") is None

    panes[0].keep("after\n", 0)
    await log.append("r3", 3, 0, "after\n", panes)
    snapshot = await log.snapshot("r3")
    assert snapshot.seq == 3
    assert [p["transcript"] for p in snapshot.panes] == ["before\nafter\n", "side\n"]


async def _echo(word: str) -> str:
    if word == "refuse":
        raise engine.EngineError("refused")
    if word == "gone":
        raise engine.EngineUnavailable("gone")
    return word * 2


told: list[str] = []


async def _note(word: str) -> None:
    told.append(word)


@pytest.fixture
def test_handlers(monkeypatch):
    monkeypatch.setitem(handlers.TABLE, "test.echo", _echo)
    monkeypatch.setitem(handlers.TABLE, "test.note", _note)


async def test_the_separate_supervisor_answers_over_the_channel_layer(
    redis_url, settings, test_handlers
):
    settings.SANDBOX_SUPERVISOR = "separate"
    with pytest.raises(seam.SupervisorUnavailable):
        await seam.ask("test.echo", word="ab")  # nobody beats yet: refused at once

    async with separate_supervisor():
        assert await seam.ask("test.echo", word="ab") == "abab"
        with pytest.raises(engine.EngineError, match="refused"):
            await seam.ask("test.echo", word="refuse")
        with pytest.raises(engine.EngineUnavailable, match="gone"):
            await seam.ask("test.echo", word="gone")
        await seam.tell("test.note", word="first")
        await seam.tell("test.note", word="second")
        for _ in range(50):
            if told[-2:] == ["first", "second"]:
                break
            await asyncio.sleep(0.05)
        assert told[-2:] == ["first", "second"]
    # A clean stop takes the heartbeat with it: the next press is refused at once.
    seam._seen_alive_at = 0.0
    with pytest.raises(seam.SupervisorUnavailable):
        await seam.ask("test.echo", word="ab")
