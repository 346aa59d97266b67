"""The instructor sees what a student did with the docker CLI, on the student's terminal view:
their containers and their calls in the CLI's words, refusals marked; nobody else sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.utils import timezone

from sandbox.models import DockerCall, Playground

pytestmark = pytest.mark.django_db(transaction=True)


async def _client(user) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    return client


async def test_the_panel_lists_the_students_containers_and_calls_for_their_instructor_alone(
    classroom, teacher, other_teacher, alice, bob
):
    url = f"/classes/{classroom.pk}/students/{alice.pk}/docker/"
    page = (await (await _client(teacher)).get(url)).content.decode()
    assert "터미널이 열려 있지 않아요" in page

    playground = await Playground.objects.acreate(
        owner=alice,
        expires_at=timezone.now() + timedelta(minutes=30),
        docker_containers=[{"name": "web", "image": "nginx", "state": "running", "created": 0}],
    )
    await DockerCall.objects.acreate(playground=playground, summary="create --name web nginx")
    await DockerCall.objects.acreate(
        playground=playground, summary="create busybox true — --privileged는 …", refused=True
    )
    page = (await (await _client(teacher)).get(url)).content.decode()
    assert "<code>web</code>" in page and "nginx" in page and "실행 중" in page
    assert "docker create --name web nginx" in page
    assert page.count("거절됨") == 1 and 'class="refused"' in page
    # The latest first.
    assert page.index("--privileged") < page.index("docker create --name web nginx")

    # Nobody else: another instructor, the student herself, a student of no class of theirs.
    assert (await (await _client(other_teacher)).get(url)).status_code == 403
    assert (await (await _client(alice)).get(url)).status_code == 403
    stranger = f"/classes/{classroom.pk}/students/{bob.pk}/docker/"
    assert (await (await _client(teacher)).get(stranger)).status_code == 404
    assert (await AsyncClient().get(url)).status_code in (302, 403)
