"""Two presses of one ▶ landing on two web workers in the same instant start one run: the
database decides (a unique constraint on the live runs of an owner and label), not a lock that
only one process holds."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import run_apart
from tools.cluster import Cluster
from tools.student_client import Student

pytestmark = [pytest.mark.docker]

SLUG = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"
ROUNDS = 4


async def scenario(cluster: Cluster) -> None:
    first = Student(f"http://127.0.0.1:{cluster.worker_ports[0]}", "presser")
    second = Student(f"http://127.0.0.1:{cluster.worker_ports[1]}", "presser")
    try:
        await first.sign_up()
        await first.open_lesson(SLUG)
        second.http.cookies.update(first.http.cookies)
        await second.open_lesson(SLUG)
        for round_ in range(ROUNDS):
            # Alive for 3 s: both presses land while it lives, even on a loaded 2-core machine
            # (with 1 s, a press delayed past the run's end rightly started a second one).
            command = f"echo round {round_}; sleep 3"
            pressed = await asyncio.gather(
                first.press_run(SLUG, EXERCISE, command), second.press_run(SLUG, EXERCISE, command)
            )
            ids = {press.run_id for press in pressed}
            assert len(ids) == 1 and "" not in ids, [(p.run_id, p.refused) for p in pressed]
            result = await first.read_run(pressed[0], 0, timeout=60)
            assert result.text == f"round {round_}\n"
    finally:
        await first.close()
        await second.close()


def test_two_workers_pressing_at_once_start_one_run(tmp_path):
    cluster = Cluster(tmp_path / "cluster").start()
    try:
        run_apart(lambda: scenario(cluster))
        count = cluster.manage(
            "shell",
            "-c",
            "from sandbox.models import Run; print(Run.objects.count())",
            docker=False,
        )
        assert count.split()[-1] == str(ROUNDS)
    finally:
        cluster.stop()
