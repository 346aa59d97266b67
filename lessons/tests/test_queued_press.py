"""Pressing 실행 when the server is full: the press waits its turn (sandbox/api/queue.py) and the
answer is the queue panel; the student's own limit still answers at once with the stop offer."""

import asyncio

import pytest
from django.test import AsyncClient, override_settings
from django.urls import reverse

from lessons.models import Attempt
from sandbox.api import runs
from sandbox.models import QueuedRun, Run
from sandbox.supervisor import runs as following

pytestmark = [
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue_left_empty"),
]

LESSON = "docker-01-what-is-a-container"


def run_url(exercise: str = "my-hostname") -> str:
    return reverse("exercise_run", args=[LESSON, exercise])


async def signed_in(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


async def test_a_press_on_a_full_server_waits_and_runs_with_the_tab_closed(alice, bob):
    with override_settings(SANDBOX_MAX_TOTAL=1):
        alices = await signed_in(alice)
        await alices.post(run_url(), {"command": "sleep 1; echo alice"})
        bobs = await signed_in(bob)
        response = await bobs.post(run_url(), {"command": "echo bob-queued"})
        page = response.content.decode()
        entry = await QueuedRun.objects.aget(owner=bob)
        assert f'ws-connect="/ws/queue/{entry.key}/"' in page
        assert "앞에 0명 · 약" in page and "대기 취소" in page
        assert 'role="status" aria-live="polite"' in page
        # Pressed again while waiting: the same place in the queue.
        again = (await bobs.post(run_url(), {"command": "echo bob-queued"})).content.decode()
        assert f"/ws/queue/{entry.key}/" in again and "이미 차례를 기다리고" in again
        # Nobody opens the queue socket (the tab was closed): the press still runs, and its
        # attempt is recorded like any run's.
        while await QueuedRun.objects.aexists():
            await asyncio.sleep(0.2)
        await following.wait_for_all()
    run = await Run.objects.aget(owner=bob)
    assert run.transcript == "bob-queued\n" and run.queued_as == entry.key
    attempt = await Attempt.objects.aget(student=bob)
    assert attempt.block == "my-hostname" and attempt.run_id == run.pk


async def test_the_students_own_limit_answers_at_once_with_the_stop_offer(alice):
    with override_settings(SANDBOX_MAX_PER_USER=1, SANDBOX_MAX_TOTAL=1):
        client = await signed_in(alice)
        await client.post(run_url(), {"command": "sleep 2"})
        page = (await client.post(run_url("run-twice"))).content.decode()
        assert "1개" in page and "멈추기" in page
        assert "/ws/queue/" not in page
        assert not await QueuedRun.objects.aexists()
        run = await Run.objects.aget(owner=alice)
        await runs.stop_run(str(run.id), "test")
