import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient
from django.urls import reverse

from lessons.classes import group_name, student_changed
from lessons.consumers import REFUSED
from lessons.models import Classroom
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following
from sandbox.tests.helpers import spec
from website.routing import websocket_application

pytestmark = pytest.mark.django_db(transaction=True)


def socket_for(classroom, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        websocket_application(),
        f"/ws/classes/{classroom.pk}/",
        headers=[(b"origin", b"http://localhost")],
    )
    comm.scope["user"] = user
    return comm


async def test_a_student_cannot_open_the_dashboard_socket(classroom, alice):
    comm = socket_for(classroom, alice)
    await comm.connect()
    message = await comm.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": REFUSED}
    await comm.disconnect()


async def test_another_instructor_cannot_open_it(classroom, other_teacher):
    comm = socket_for(classroom, other_teacher)
    await comm.connect()
    assert (await comm.receive_output(timeout=5))["code"] == REFUSED
    await comm.disconnect()


async def test_a_change_reaches_the_instructor_once_for_a_burst(classroom, teacher, alice):
    comm = socket_for(classroom, teacher)
    connected, _ = await comm.connect()
    assert connected
    for _ in range(20):  # twenty changes at once…
        await student_changed(alice.pk)
    html = await comm.receive_from(timeout=5)  # …arrive as one refresh
    assert 'id="matrix"' in html and 'id="running"' in html and "alice" in html
    assert await comm.receive_nothing(timeout=1)
    await comm.disconnect()


@pytest.mark.docker
async def test_a_students_run_appears_and_the_instructor_stops_it(classroom, teacher, alice):
    comm = socket_for(classroom, teacher)
    await comm.connect()
    student = AsyncClient()
    await student.aforce_login(alice)
    await student.post(
        reverse("exercise_run", args=["docker-01-what-is-a-container", "my-hostname"]),
        {"command": "echo started; sleep 30"},
    )
    html = await comm.receive_from(timeout=5)
    assert "running-" in html and "내 컨테이너의 이름 보기" in html
    run = await Run.objects.aget(owner=alice)

    instructor = AsyncClient()
    await instructor.aforce_login(teacher)
    while (await Run.objects.aget(pk=run.pk)).state == Run.State.STARTING:
        await asyncio.sleep(0.05)
    response = await instructor.post(reverse("run_stop", args=[run.id]))
    assert response.status_code == 204
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert run.state == Run.State.STOPPED and run.message == "강사가 실행을 멈췄어요."
    await comm.disconnect()


@pytest.mark.docker
async def test_an_instructor_cannot_stop_another_class_sandbox(
    classroom, alice, bob, other_teacher
):
    other = other_teacher
    other_class = await Classroom.objects.acreate(name="다른 반", join_code="ZZZZZZZZ")
    await sync_to_async(
        lambda: (other_class.instructors.add(other), other_class.students.add(bob))
    )()
    # alice is in `classroom`, taught by teacher, not by dana.
    run = await runs.start_run(spec(alice, "echo hi; sleep 20"))
    client = AsyncClient()
    await client.aforce_login(other)
    assert (await client.post(reverse("run_stop", args=[run.id]))).status_code == 404
    assert (await Run.objects.aget(pk=run.pk)).is_live
    await runs.stop_run(str(run.id), "over")
    await following.wait_for_all()


@pytest.mark.docker
async def test_a_run_tells_the_class_once_per_change(classroom, alice):
    """Once when the run runs (the start hook, which a queued press reaches too) and once when
    it ends (its attempt): not a third time for the press itself."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(classroom.pk), channel)
    student = AsyncClient()
    await student.aforce_login(alice)
    await student.post(
        reverse("exercise_run", args=["docker-01-what-is-a-container", "my-hostname"]),
        {"command": "hostname"},
    )
    await following.wait_for_all()
    notices = []
    while True:
        try:
            notices.append(await asyncio.wait_for(layer.receive(channel), timeout=2))
        except TimeoutError:
            break
    assert [notice["type"] for notice in notices] == ["class.changed"] * 2
    assert await Run.objects.filter(owner=alice, state=Run.State.EXITED).aexists()
