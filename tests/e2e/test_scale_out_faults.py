"""Faults of the scaled-out shape (tools/cluster.py: Redis, two web workers behind nginx, the
sandbox supervisor in its own process), each on a cluster of its own:

- a web worker killed while a student watches a run: the page reconnects to the other worker,
  and the output has no gap and no repeat;
- Redis restarted mid-run: the run's transcript is complete, the socket resumes, new runs work;
- the supervisor restarted mid-run: the run it cannot follow is marked, its container reaped,
  and new runs work;
- one of two container hosts stopped: new runs go to the other.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from sandbox import engine
from sandbox.tests.engine_proxy import EngineProxy
from tests.e2e.conftest import run_apart, sign_up
from tools.cluster import Cluster
from tools.student_client import Student

pytestmark = [pytest.mark.docker]

SLUG = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"  # editable: the tests give it a command of their own


def counting(n: int, pause: float) -> tuple[str, str]:
    """A command printing `line 1` … `line n`, one every `pause` seconds, and its output."""
    command = f'for i in $(seq 1 {n}); do echo "line $i"; sleep {pause}; done'
    return command, "".join(f"line {i}\n" for i in range(1, n + 1))


@pytest.fixture
def cluster(tmp_path):
    started = Cluster(tmp_path / "cluster").start()
    yield started
    started.stop()


def run_record(cluster: Cluster, run_id: str) -> dict:
    """The run as the cluster's database has it."""
    code = (
        f"import json; from sandbox.models import Run; r = Run.objects.get(pk={run_id!r}); "
        "print(json.dumps({'state': r.state, 'message': r.message, 'transcript': r.transcript}))"
    )
    return json.loads(cluster.manage("shell", "-c", code, docker=False).strip().splitlines()[-1])


def wait_for(predicate, seconds: float = 30, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


@pytest.mark.browser
def test_a_killed_web_worker_loses_the_watching_page_nothing(cluster, page):
    # Only worker 0 serves at first, so the page's run socket is certainly on it.
    cluster.stop_process("worker1")
    sign_up(page, cluster.url, "kim", f"/lessons/{SLUG}/")
    command, expected = counting(30, 0.2)
    exercise = page.locator(f"#exercise-{EXERCISE}")
    exercise.get_by_label("명령").fill(command)
    exercise.get_by_role("button", name="실행").click()
    output = exercise.locator(".run-output")
    output.filter(has_text="line 3").wait_for(timeout=20000)

    cluster.start_worker(1)
    cluster.stop_process("worker0", signal.SIGKILL)  # mid-run, mid-socket

    exercise.locator(".run-status", has_text="종료 코드 0").wait_for(timeout=30000)
    # Every line once, in order: nothing lost in the switch, nothing shown twice.
    assert output.inner_text().strip().splitlines() == expected.strip().splitlines()
    page.screenshot(path="test-artifacts/scale-out-worker-killed.png", full_page=False)


async def watch_a_counting_run(cluster: Cluster, name: str, lines: int):
    """A new student presses ▶ on a run counting to `lines` (one line per 0.2 s) and keeps
    reading it; returns the student, the run, the reading task and the output expected."""
    student = Student(cluster.url, name)
    await student.sign_up()
    command, expected = counting(lines, 0.2)
    pressed = time.monotonic()
    result = await student.press_run(SLUG, EXERCISE, command)
    assert result.run_id, result.refused
    reading = asyncio.create_task(student.read_run(result, pressed, timeout=90))
    await asyncio.sleep(2.5)  # about a dozen lines in
    return student, result, reading, expected


def test_redis_restarting_mid_run_loses_no_output(cluster):
    async def scenario():
        student, result, reading, expected = await watch_a_counting_run(cluster, "lee", 40)
        await asyncio.to_thread(cluster.stop_process, "redis", signal.SIGKILL)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(cluster.start_redis)
        await asyncio.to_thread(cluster.wait_for_supervisor, cluster.processes["supervisor"], 15)
        finished = await reading
        # Service resumed: the page shows every line once, in order, and so does the record.
        assert finished.text == expected
        assert run_record(cluster, result.run_id)["transcript"] == expected
        assert (await student.run_to_end(SLUG, EXERCISE, "echo after")).text == "after\n"
        await student.close()

    run_apart(scenario)


def test_a_restarted_supervisor_marks_runs_it_cannot_follow_and_new_runs_work(cluster):
    async def scenario():
        student, result, reading, _ = await watch_a_counting_run(cluster, "park", 100)
        await asyncio.to_thread(cluster.stop_process, "supervisor", signal.SIGKILL)
        await asyncio.to_thread(cluster.start_supervisor)
        ended = await reading  # the page learns the run ended, rather than spinning forever
        assert ended.text.startswith("line 1\nline 2\n") and "line 100" not in ended.text
        record = run_record(cluster, result.run_id)
        assert record["state"] == "failed" and "다시 시작" in record["message"]
        assert record["transcript"] == ended.text  # what it printed before is kept

        def reaped():
            with engine.use(""):
                mine = engine.labelled_containers(cluster.namespace)
            return not any(c.run_id == result.run_id for c in mine)

        await asyncio.to_thread(wait_for, reaped, 30, "reaping the abandoned run's container")

        # With no supervisor at all, a press is answered at once, in words.
        await asyncio.to_thread(cluster.stop_process, "supervisor")
        alone = await student.run_to_end(SLUG, EXERCISE, "echo nobody")
        assert alone.text == "" and "supervisor" in alone.frames[-1] + alone.frames[-2]
        await asyncio.to_thread(cluster.start_supervisor)
        assert (await student.run_to_end(SLUG, EXERCISE, "echo new run")).text == "new run\n"
        await student.close()

    run_apart(scenario)


def test_with_one_of_two_hosts_stopped_new_runs_go_to_the_other(tmp_path):
    first, second = EngineProxy(tmp_path / "a.sock"), EngineProxy(tmp_path / "b.sock")
    first.start()
    second.start()
    cluster = Cluster(
        tmp_path / "cluster", engines=f"{first.docker_host},{second.docker_host}"
    ).start()

    def creates(proxy: EngineProxy) -> int:
        return sum("/containers/create" in line for line in proxy.requests)

    async def scenario():
        students = [Student(cluster.url, f"host{i}") for i in range(2)]
        for student in students:
            await student.sign_up()
        # Two runs at once: the second goes to the host with fewer live runs.
        before = creates(first), creates(second)
        pressed = time.monotonic()
        started = [await s.press_run(SLUG, EXERCISE, "sleep 2; echo spread") for s in students]
        done = await asyncio.gather(
            *(s.read_run(r, pressed, timeout=60) for s, r in zip(students, started, strict=True))
        )
        assert [r.text for r in done] == ["spread\n", "spread\n"]
        assert creates(first) > before[0] and creates(second) > before[1]

        second.cut()  # one host disappears
        for round_ in range(3):
            result = await students[0].run_to_end(SLUG, EXERCISE, f"echo round {round_}")
            assert result.text == f"round {round_}\n", result.frames[-3:]
        for student in students:
            await student.close()

    try:
        run_apart(scenario)
    finally:
        cluster.stop()
        first.cut()
