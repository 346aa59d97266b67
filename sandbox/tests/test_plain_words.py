"""No student sees raw engine text: a failure is said in Korean with what to do, and what the
engine said goes to the log and to the instructor's view of the run (`Run.detail`)."""

import asyncio
import re

import pytest

from sandbox import engine
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.helpers import spec

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

RAW = re.compile(r"[0-9a-f]{12}|No such|APIError|Error|Exception|Traceback|container [0-9a-f]")


async def test_a_container_removed_mid_run_is_said_in_words(alice, caplog):
    run = await runs.start_run(spec(alice, "echo started; sleep 30", timeout=40))
    while not SUPERVISED.runs[str(run.id)].panes[0].text:
        await asyncio.sleep(0.05)
    engine.remove(SUPERVISED.runs[str(run.id)].made.containers[0])  # behind the server's back
    await asyncio.wait_for(following.wait_for_all(), timeout=30)
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.FAILED, (run.state, run.message)
    assert run.message and not RAW.search(run.message), run.message
    assert "다시 실행" in run.message
    assert "No such container" in run.detail, "the engine's words are kept for the instructor"
    assert run.transcript.startswith("started\n")
