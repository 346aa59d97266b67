"""수업 시작 on the class dashboard: only the class's instructor may warm it, and the panel shows
the warm pool as it fills (real engine)."""

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from django.utils import timezone

from sandbox.api import warmup as api_warmup
from sandbox.supervisor import pool, runs, warmup

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

SMALL = {"SANDBOX_POOL_SIZE": 0, "SANDBOX_WARM_MEMORY": "256m", "SANDBOX_MEMORY": "128m"}


@pytest.fixture
async def cleanup():
    yield
    await runs.wait_for_all()
    await warmup.end_all()
    await pool.drain_all()


def _start_url(classroom) -> str:
    return f"/classes/{classroom.pk}/warm/start/"


async def test_a_student_may_not_start_the_class(async_client, classroom, alice, cleanup):
    await async_client.aforce_login(alice)
    response = await async_client.post(_start_url(classroom), headers={"HX-Request": "true"})
    assert response.status_code == 403
    stop = await async_client.post(f"/classes/{classroom.pk}/warm/stop/")
    assert stop.status_code == 403
    assert (await async_client.get(f"/classes/{classroom.pk}/warm/")).status_code == 403
    assert pool.pool_for(api_warmup.WARM_IMAGE).warm_target == 0


async def test_another_classes_instructor_may_not_start_it(
    async_client, classroom, other_teacher, cleanup
):
    await async_client.aforce_login(other_teacher)
    response = await async_client.post(_start_url(classroom), headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert not (await api_warmup.state(f"class-{classroom.pk}"))["warm"]


async def test_a_signed_out_visitor_is_sent_to_sign_in(async_client, classroom, cleanup):
    response = await async_client.post(_start_url(classroom))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


async def test_the_instructor_starts_the_class_and_the_panel_shows_the_pool(
    async_client, classroom, teacher, alice, bob, cleanup
):
    await sync_to_async(classroom.students.add)(bob)
    for student in (alice, bob):
        student.last_login = timezone.now()
        await student.asave(update_fields=["last_login"])
    with override_settings(**SMALL):
        await async_client.aforce_login(teacher)
        response = await async_client.post(_start_url(classroom), headers={"HX-Request": "true"})
        assert response.status_code == 200
        text = response.content.decode()
        assert "수업 중이에요. 온라인 학생 2명 · 미리 준비할 컨테이너 2개" in text
        lab = pool.pool_for(api_warmup.WARM_IMAGE)
        await lab.filling
        panel = (await async_client.get(f"/classes/{classroom.pk}/warm/")).content.decode()
        assert '<dd id="warm-ready">2개' in panel
        assert "256.0" in panel and "최대 2개" in panel  # memory used, of the budget
        # The dashboard itself carries the panel, which loads its state at once.
        page = (await async_client.get(f"/classes/{classroom.pk}/")).content.decode()
        assert 'id="warm"' in page and f"/classes/{classroom.pk}/warm/" in page
        # 수업 끝: the pool shrinks back at once.
        response = await async_client.post(
            f"/classes/{classroom.pk}/warm/stop/", headers={"HX-Request": "true"}
        )
        assert "수업 시작을 누르면" in response.content.decode()
        assert lab.ready == [] and lab.warm_target == 0
