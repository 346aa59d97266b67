"""`make run` where no Docker Engine answers: the set-up says in two lines what is missing and
how to start it (no Python error), the server starts and serves the lessons, and pressing 실행
explains in Korean. Nothing here needs an engine: each test points DOCKER_HOST nowhere."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tools.cluster import ROOT, SingleServer
from tools.student_client import Student

NOWHERE = "unix:///nonexistent/docker.sock"
SLUG = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"
RAW_ENGINE_TEXT = ("Traceback", "APIError", "No such", "Connection aborted", "FileNotFound")


def test_building_the_lab_images_if_missing_explains_and_lets_make_run_go_on(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "build_lab_images", "--if-missing"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIS_URL": "",
            "SANDBOX_SUPERVISOR": "inside",
            "DOCKER_HOST": NOWHERE,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said  # `make run` goes on to start the server
    assert "prepare-machine.sh" in said and "systemctl start docker" in said
    assert NOWHERE in said  # what is missing: the engine it looked for
    assert "Traceback" not in said and "CommandError" not in said
    assert len(said.strip().splitlines()) <= 2, said


@pytest.fixture
def engineless(tmp_path):
    server = SingleServer(tmp_path / "server")
    server.env["DOCKER_HOST"] = NOWHERE
    yield server.start()
    server.stop()


def test_without_an_engine_the_site_serves_lessons_and_a_press_explains(engineless):
    startup = engineless.log("worker0")
    assert "Traceback" not in startup
    assert "prepare-machine.sh" in startup and "systemctl start docker" in startup

    assert httpx.get(f"{engineless.url}/lessons/{SLUG}/", timeout=30).status_code == 200

    async def press():
        student = Student(engineless.url, "noengine")
        await student.sign_up()
        pressed = time.monotonic()
        result = await student.press_run(SLUG, EXERCISE, "echo hello")
        if result.run_id:  # the panel comes back and its socket says what went wrong
            result = await student.read_run(result, pressed, timeout=60)
        await student.close()
        return result

    with ThreadPoolExecutor(1) as apart:  # Playwright may hold an event loop in this thread
        result = apart.submit(asyncio.run, press()).result()
    said = result.refused or result.status
    assert "도커 엔진" in said, result.frames[-3:]
    assert "다시" in said  # what the student can do
    shown = " ".join(result.frames) + result.refused
    assert not any(raw in shown for raw in RAW_ENGINE_TEXT), shown
    assert result.text == ""
