import pytest
from django.urls import reverse

from lessons.catalogue import catalogue
from lessons.checks import run_label, verdict
from sandbox.models import Build, Run

SLUG = "docker-09-rollback"


@pytest.fixture
def block():
    return catalogue()[SLUG].builds["rollback-lab"]


def made(owner, version: str) -> Build:
    return Build.objects.create(
        owner=owner,
        label=run_label(SLUG, "rollback-lab"),
        page=SLUG,
        block="rollback-lab",
        repository=f"baeum-build/u{owner.pk}-x",
        dockerfile="FROM baeum/lab\n",
        state=Build.State.BUILT,
        image_id="sha256:x",
        version=version,
    )


def ran(owner, version: str, exit_code=0, output="myapp v1: 주문 목록을 보여 줘요\n") -> Run:
    return Run.objects.create(
        owner=owner,
        label=run_label(SLUG, "rollback-lab"),
        page=SLUG,
        block="rollback-lab",
        image=f"baeum-build/u{owner.pk}-x:{version}",
        command="sh /app/app.sh",
        timeout_seconds=20,
        state=Run.State.EXITED,
        exit_code=exit_code,
        transcript=output,
    )


@pytest.mark.django_db
def test_rollback_passes_only_when_v1_runs_after_another_version_exists(alice, block):
    made(alice, "v1")
    passed, reason = verdict(ran(alice, "v1"), block)
    assert not passed and "다른 버전" in reason  # nothing to roll back from yet
    made(alice, "v2")
    assert not verdict(ran(alice, "v2", 1, "설정 파일이 없어요\n"), block)[0]
    assert verdict(ran(alice, "v1"), block) == (True, "")


@pytest.mark.django_db
def test_a_student_cannot_tag_or_run_another_students_build(client, alice, bob):
    theirs = made(alice, "v1")
    client.force_login(bob)
    response = client.post(
        reverse("build_tag", args=[SLUG, "rollback-lab"]), {"build": theirs.pk, "version": "v9"}
    )
    assert response.status_code == 404
    page = client.post(reverse("build_run", args=[SLUG, "rollback-lab"]), {"version": "v1"})
    assert "찾을 수 없어요" in page.content.decode()
    assert not Run.objects.filter(owner=bob).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["", "not-a-build", "1 OR 1=1"])
def test_a_malformed_build_id_finds_nothing_rather_than_failing(client, alice, given):
    client.force_login(alice)
    url = reverse("build_tag", args=[SLUG, "rollback-lab"])
    assert client.post(url, {"build": given, "version": "v9"}).status_code == 404


@pytest.mark.django_db
def test_an_unsafe_dockerfile_is_refused_in_the_page(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("build_start", args=[SLUG, "rollback-lab"]), {"dockerfile": "FROM ubuntu:24.04\n"}
    )
    assert "실습 이미지" in response.content.decode()
    assert not Build.objects.exists()
