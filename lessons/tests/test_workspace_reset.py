"""An instructor empties a student's persistent /work from the class's terminal view: only a
student of a class they teach, only with the confirmation (sandbox/supervisor/workspaces.py)."""

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from lessons.models import Classroom
from sandbox.supervisor import playgrounds, workspaces

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def workspace_dir(settings, tmp_path):
    settings.SANDBOX_WORKSPACE_DIR = tmp_path / "workspaces"


@pytest.fixture
async def cleanup():
    yield
    await playgrounds.end_all()


async def _client(user) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    return client


async def write_and_exit(user, command: str) -> None:
    """A terminal that writes to /work and ends (saving it)."""
    live = await playgrounds.open_for(user.pk)
    await playgrounds.run_in(user.pk, command, 10)
    await playgrounds.end(live, "test")


async def test_the_instructor_resets_a_student_of_their_class_only(
    alice, bob, django_user_model, cleanup
):
    teacher = await django_user_model.objects.acreate(username="teacher")
    other = await django_user_model.objects.acreate(username="other-teacher")
    classroom = await Classroom.objects.acreate(name="A반", join_code="WORKSPACE1")
    await classroom.instructors.aadd(teacher)
    await classroom.students.aadd(alice)
    elsewhere = await Classroom.objects.acreate(name="B반", join_code="WORKSPACE2")
    await elsewhere.instructors.aadd(other)
    await write_and_exit(alice, "echo mine > /work/m")
    await write_and_exit(bob, "echo mine > /work/m")
    url = f"/classes/{classroom.pk}/students/{{}}/workspace/reset/"
    # Not their class, not their student, not an instructor, not confirmed: nothing is deleted.
    assert (
        await (await _client(other)).post(url.format(alice.pk), {"confirm": "yes"})
    ).status_code == 403
    assert (
        await (await _client(bob)).post(url.format(alice.pk), {"confirm": "yes"})
    ).status_code == 403
    mine = await _client(teacher)
    assert (await mine.post(url.format(bob.pk), {"confirm": "yes"})).status_code == 404
    assert (await mine.post(url.format(alice.pk))).status_code == 302
    assert workspaces.tar_path(alice.pk).exists()
    done = await mine.post(url.format(alice.pk), {"confirm": "yes"})
    assert done.status_code == 302
    assert not workspaces.tar_path(alice.pk).exists()
    assert workspaces.tar_path(bob.pk).exists()
