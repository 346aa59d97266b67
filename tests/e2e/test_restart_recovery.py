"""A real single server (daphne) killed with SIGKILL and started again on the same database:
the student's terminal is re-adopted — the same shell, its /work — not reaped."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from tests.e2e.conftest import run_apart
from tools.cluster import SingleServer
from tools.student_client import Student

pytestmark = [pytest.mark.docker]


async def terminal(student: Student, keys: str, needle: str, timeout: float = 20) -> str:
    """Open the terminal as the page does, type `keys`, return what it showed up to `needle`."""
    async with student.connect("/ws/terminal/") as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        assert hello["type"] == "hello", hello
        shown = hello["scrollback"]
        await socket.send(json.dumps({"type": "input", "data": keys}))
        deadline = time.monotonic() + timeout
        while needle not in shown:
            message = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
            assert message["type"] == "output", message
            shown += message["data"]
        return shown


def write_note(server, folder, name: str, note: str) -> None:
    """A new student `name` writes `note` into /work/notes in their terminal; their session's
    cookies are kept in `folder` for `read_note` after the restart."""

    async def write() -> None:
        student = Student(server.url, name)
        await student.sign_up()
        await terminal(student, f"echo {note} > /work/notes; echo saved\r", "saved")
        (folder / "cookies.json").write_text(json.dumps(dict(student.http.cookies)))
        await student.close()

    run_apart(write)


def read_note(server, folder, name: str) -> str:
    """What the same student's terminal shows when it opens again and reads /work/notes."""

    async def read() -> str:
        student = Student(server.url, name)
        student.http.cookies.update(json.loads((folder / "cookies.json").read_text()))
        try:
            return await terminal(student, "cat /work/notes; echo read-$((1+1))\r", "read-2")
        finally:
            await student.close()

    return run_apart(read)


def test_a_killed_server_readopts_the_open_terminal(tmp_path):
    server = SingleServer(tmp_path, database=tmp_path / "class.sqlite3").start()
    try:
        write_note(server, tmp_path, "restart-student", "kept-$((6*7))")
        server.stop_process("worker0", signal.SIGKILL)
        server.start()

        shown = read_note(server, tmp_path, "restart-student")
        assert "kept-42" in shown and "같은 셸" in shown
    finally:
        server.stop()
