import asyncio

import pytest
from django.test import AsyncClient
from django.urls import reverse

from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.helpers import spec

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def started(owner, command="echo hi; sleep 30") -> Run:
    run = await runs.start_run(spec(owner, command))
    while not SUPERVISED.runs[str(run.id)].panes[0].text:
        await asyncio.sleep(0.05)
    return run


async def test_the_owner_stops_a_run(alice):
    run = await started(alice)
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.post(reverse("run_stop", args=[run.id]))
    await following.wait_for_all()
    assert response.status_code == 204
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.STOPPED and "직접" in run.message


async def test_nobody_else_can_stop_a_run(alice, bob):
    run = await started(alice)
    client = AsyncClient()
    await client.aforce_login(bob)
    assert (await client.post(reverse("run_stop", args=[run.id]))).status_code == 404
    anonymous = await AsyncClient().post(reverse("run_stop", args=[run.id]))
    assert anonymous.status_code == 404
    assert (await Run.objects.aget(pk=run.pk)).is_live
    await runs.stop_run(str(run.id), "test over")
    await following.wait_for_all()


async def test_stopping_needs_a_post(alice):
    run = await started(alice, "echo x; sleep 1")
    client = AsyncClient()
    await client.aforce_login(alice)
    assert (await client.get(reverse("run_stop", args=[run.id]))).status_code == 405
    await following.wait_for_all()
