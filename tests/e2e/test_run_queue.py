"""The run queue as a class meets it (sandbox/api/queue.py): a server whose limit of live runs is
one, so every press behind the first waits its turn — in the browser (the queue panel, its place,
then the output, and axe), and, scaled out, across a web worker's restart."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.e2e.conftest import run_apart, scaled_out, serious_accessibility_violations, sign_up
from tools.cluster import Cluster, SingleServer
from tools.student_client import Student

pytestmark = [pytest.mark.docker]

SLUG = "docker-01-what-is-a-container"
LESSON = f"/lessons/{SLUG}/"
EXERCISE = "my-hostname"  # editable: each student gives it a command of their own
# How long the run ahead holds the one slot: longer than a loaded machine takes to sign a student
# up and reach the cancel button (4 s was not, in a rehearsal: the press had started already).
AHEAD_SECONDS = 12


@pytest.fixture(scope="module")
def full_server(tmp_path_factory, docker_engine):
    """The site, in the shape of this pass, with room for one live run."""
    shape = Cluster if scaled_out() else SingleServer
    server = shape(tmp_path_factory.mktemp("queue-site"))
    server.env["SANDBOX_MAX_TOTAL"] = "1"
    server.env["SANDBOX_POOL_SIZE"] = "0"
    server.start()
    yield server
    server.stop()


async def _press(base: str, name: str, command: str):
    student = Student(base, name)
    await student.sign_up()
    result = await student.press_run(SLUG, EXERCISE, command, wait_in_queue=False)
    return student, result


@pytest.mark.browser
def test_the_page_shows_its_place_in_the_queue_then_the_output(page, full_server):
    base = full_server.url

    async def two_ahead():
        kim, first = await _press(base, "kim", "sleep 8; echo kim")
        lee, second = await _press(base, "lee", "sleep 3; echo lee")  # then closes the tab
        await kim.close()
        await lee.close()
        return first, second

    first, second = run_apart(two_ahead)
    assert first.run_id and second.queue_key and second.ahead == [0]

    sign_up(page, base, "park", LESSON)
    exercise = page.locator("#exercise-my-hostname")
    exercise.locator("textarea").fill("echo park-ran")
    exercise.get_by_role("button", name="실행").click()
    standing = exercise.get_by_role("status").filter(has_text="앞에")
    standing.filter(has_text="앞에 1명").wait_for(timeout=15000)
    assert "약" in standing.inner_text() and "초" in standing.inner_text()
    assert exercise.get_by_role("button", name="대기 취소").is_visible()
    page.screenshot(path="test-artifacts/run-queue.png", full_page=False)
    assert serious_accessibility_violations(page) == []
    # lee's turn comes (nobody watching it), then park's place is the next…
    standing.filter(has_text="앞에 0명").wait_for(timeout=30000)
    # …and park's run starts in place of the queue panel and streams as any run.
    exercise.locator(".run-output", has_text="park-ran").wait_for(timeout=30000)
    exercise.locator(".run-status", has_text="종료 코드 0").wait_for(timeout=15000)
    assert exercise.locator(".run-queue").count() == 0


@pytest.mark.browser
def test_cancel_from_the_keyboard_leaves_the_queue(page, full_server):
    base = full_server.url

    async def one_ahead():
        kim, first = await _press(base, "kim2", f"sleep {AHEAD_SECONDS}; echo kim")
        await kim.close()
        return first

    assert run_apart(one_ahead).run_id
    ahead_since = time.monotonic()
    sign_up(page, base, "choi", LESSON)
    # htmx wires a swapped-in panel when it settles, a moment after it shows (longer on a loaded
    # machine); its socket opening says the cancel button is wired too (one processNode).
    page.evaluate(
        "() => { window.queueSocketOpen = false;"
        " document.body.addEventListener('htmx:wsOpen', () => { window.queueSocketOpen = true; }); }"
    )
    exercise = page.locator("#exercise-my-hostname")
    exercise.locator("textarea").fill("echo choi-never")
    exercise.get_by_role("button", name="실행").click()
    cancel = exercise.get_by_role("button", name="대기 취소")
    cancel.wait_for(timeout=15000)
    page.wait_for_function("() => window.queueSocketOpen", timeout=15000)
    cancel.focus()
    page.keyboard.press("Enter")
    exercise.get_by_role("status").filter(has_text="대기를 취소했어요").wait_for(timeout=10000)
    # Once kim's run has ended (and its slot freed), a cancelled press still never runs.
    time.sleep(max(0.0, AHEAD_SECONDS + 3 - (time.monotonic() - ahead_since)))
    assert "choi-never" not in exercise.inner_text()


def _queued_count(cluster: Cluster) -> int:
    code = "from sandbox.models import QueuedRun; print(QueuedRun.objects.count())"
    return int(cluster.manage("shell", "-c", code, docker=False).strip().splitlines()[-1])


def _attempts_of(cluster: Cluster, username: str) -> list:
    code = (
        "import json; from lessons.models import Attempt; "
        f"print(json.dumps(list(Attempt.objects.filter(student__username={username!r})"
        ".values_list('block', 'passed'))))"
    )
    return json.loads(cluster.manage("shell", "-c", code, docker=False).strip().splitlines()[-1])


def test_a_queued_press_survives_a_web_worker_restart(tmp_path, docker_engine):
    cluster = Cluster(tmp_path / "cluster")
    cluster.env["SANDBOX_MAX_TOTAL"] = "1"
    cluster.env["SANDBOX_POOL_SIZE"] = "0"
    cluster.start()
    worker0 = f"http://127.0.0.1:{cluster.worker_ports[0]}"  # this worker, not nginx's choice

    async def scenario():
        kim, first = await _press(cluster.url, "kim", "sleep 8; echo kim")
        assert first.run_id
        lee, queued = await _press(worker0, "lee", "echo lee-after-restart")
        assert queued.queue_key and queued.ahead == [0]
        waiting = asyncio.create_task(lee.wait_in_queue(queued, timeout=60))
        await asyncio.sleep(1)
        await asyncio.to_thread(cluster.stop_process, "worker0")
        assert await asyncio.to_thread(_queued_count, cluster) == 1  # still waiting
        await asyncio.to_thread(cluster.start_worker, 0)
        started = await waiting  # the page's socket came back, and the run started
        assert started.run_id
        done = await lee.read_run(started, time.monotonic(), timeout=60)
        assert done.text == "lee-after-restart\n"
        await kim.close()
        await lee.close()

    try:
        run_apart(scenario)
        # Recorded like any run's attempt (the lesson's finish hook, in the supervisor).
        assert [block for block, _passed in _attempts_of(cluster, "lee")] == ["my-hostname"]
    finally:
        cluster.stop()
