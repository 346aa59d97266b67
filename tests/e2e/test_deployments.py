"""Two deployments of the same checkout on one engine, side by side: each is its own database,
so each has its own namespace, and neither one's reaper, pool or listings touch the other's.
A second server on the same database is the same deployment: it refuses to start, in words."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from sandbox import engine
from tests.e2e.conftest import run_apart
from tools.cluster import ROOT, SingleServer
from tools.student_client import Student

pytestmark = [pytest.mark.docker]

SLUG = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"  # editable: the test gives it a command of its own
LINES = 20  # long enough that the second deployment reaps while it runs, on a loaded machine
COUNTING = f'for i in $(seq 1 {LINES}); do echo "line $i"; sleep 1; done'


class Terminal:
    """The student's terminal socket, as the page's xterm.js uses it."""

    def __init__(self, student: Student) -> None:
        self.student = student
        self.socket = None

    async def open(self) -> dict:
        self.socket = await self.student.connect("/ws/terminal/", open_timeout=30)
        return json.loads(await asyncio.wait_for(self.socket.recv(), 30))

    async def echoes(self, marker: str, timeout: float = 20) -> bool:
        await self.socket.send(json.dumps({"type": "input", "data": f"echo {marker}-$((1+1))\r"}))
        seen = ""
        async with asyncio.timeout(timeout):
            while f"{marker}-2" not in seen:
                frame = json.loads(await self.socket.recv())
                if frame["type"] == "ended":
                    return False
                seen += frame.get("data", "")
        return True

    async def close(self) -> None:
        await self.socket.close()


def pool_containers(namespace: str, running: bool = False) -> set[str]:
    return {
        c.id
        for c in engine.labelled_containers(namespace)
        if c.run_id.startswith("pool-") and (c.status == "running" or not running)
    }


async def wait_for_pool(namespace: str, count: int, running: bool = False) -> set[str]:
    try:
        async with asyncio.timeout(60):
            while len(warm := pool_containers(namespace, running)) < count:
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"the first deployment's pool did not reach {count}") from None
    return warm


async def scenario(first: SingleServer, second: SingleServer) -> None:
    student = Student(first.url, "isolated")
    await student.sign_up()
    await student.open_lesson(SLUG)
    terminal = Terminal(student)
    try:
        hello = await terminal.open()
        assert hello["type"] == "hello", hello
        assert await terminal.echoes("before")
        # The first press warms the pool (it fills in the background behind a take).
        assert (await student.run_to_end(SLUG, EXERCISE, "echo warm-up")).text == "warm-up\n"
        # Wait for both warm containers before the counting press, so that it takes one of them
        # (on a loaded machine the fill can still be under way, and the press would start cold).
        # Running, not only made: the pool makes a round of containers together and takes them
        # in only when every one of them runs; a second for that hand-in.
        await wait_for_pool(first.namespace, 2, running=True)
        await asyncio.sleep(1)
        pressed = await student.press_run(SLUG, EXERCISE, COUNTING)
        assert pressed.run_id, pressed.refused
        reading = asyncio.create_task(student.read_run(pressed, 0, timeout=90))
        # Two waiting, and the one the counting run took (still labelled).
        warm = await wait_for_pool(first.namespace, 3)

        # A second deployment (its own database) starts on the same engine and reaps: at
        # start-up, then every second for a few rounds.
        second.start()
        await asyncio.sleep(3.5)
        assert second.namespace != first.namespace
        assert not reading.done(), "the counting run ended before the second deployment reaped"

        run = await reading
        assert run.text == "".join(f"line {i}\n" for i in range(1, LINES + 1)), run.text
        assert await terminal.echoes("after"), "the first deployment's terminal went dead"
        # Every warm container is still there, but the one the counting run used (and removed).
        used = first.manage(
            "shell",
            "-c",
            f"from sandbox.models import Run; print(Run.objects.get(pk='{run.run_id}').container_id)",
        ).split()[-1]
        assert warm - {used} <= pool_containers(first.namespace)
        again = await student.run_to_end(SLUG, EXERCISE, "echo next press")
        assert again.text == "next press\n"
    finally:
        await terminal.close()
        await student.close()


def test_two_deployments_on_one_engine_leave_each_other_alone(tmp_path):
    first = SingleServer(tmp_path / "first", database=tmp_path / "first.sqlite3")
    second = SingleServer(tmp_path / "second", database=tmp_path / "second.sqlite3")
    second.env["SANDBOX_REAP_SECONDS"] = "1"
    first.start()
    try:
        run_apart(lambda: scenario(first, second))
    finally:
        second.stop()
        first.stop()
    for server in (first, second):
        assert engine.labelled_containers(server.namespace) == [], "stop cleans up its own"


def test_a_second_server_on_the_same_database_refuses_in_words(tmp_path):
    database = tmp_path / "shared.sqlite3"
    first = SingleServer(tmp_path / "first", database=database).start()
    try:
        again = SingleServer(tmp_path / "again", database=database)
        done = subprocess.run(
            [sys.executable, "-m", "daphne", "-p", "0", "website.asgi:application"],
            cwd=ROOT,
            env=again.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert "이미 돌고 있어요" in done.stderr and "DATABASE_URL=" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        first.stop()
