import csv
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lessons import dashboard
from lessons.catalogue import catalogue
from lessons.classes import CODE_ALPHABET, CODE_LENGTH
from lessons.models import Attempt, Classroom
from lessons.progress import blocks_of

LESSON = "docker-01-what-is-a-container"


def dashboard_urls(classroom) -> list[tuple[str, str]]:
    pk = classroom.pk
    return [
        ("get", reverse("class_dashboard", args=[pk])),
        ("get", reverse("class_lesson", args=[pk, LESSON])),
        ("get", reverse("class_export", args=[pk])),
        ("post", reverse("class_rotate_code", args=[pk])),
        ("post", reverse("class_add_instructor", args=[pk])),
    ]


@pytest.mark.django_db
def test_a_student_gets_403_on_every_dashboard_url(client, classroom, alice):
    client.force_login(alice)
    for method, url in dashboard_urls(classroom):
        assert getattr(client, method)(url).status_code == 403, url


@pytest.mark.django_db
def test_an_instructor_gets_403_on_another_instructors_class(client, classroom, other_teacher):
    client.force_login(other_teacher)
    for method, url in dashboard_urls(classroom):
        assert getattr(client, method)(url).status_code == 403, url


@pytest.mark.django_db
def test_the_instructor_sees_the_dashboard(client, classroom, teacher):
    client.force_login(teacher)
    page = client.get(reverse("class_dashboard", args=[classroom.pk])).content.decode()
    assert "도커 입문 1반" in page and "alice" in page and "ABCDEFGH" in page
    assert f'ws-connect="/ws/classes/{classroom.pk}/"' in page


@pytest.mark.django_db
def test_only_instructors_create_classes(client, alice, teacher):
    client.force_login(alice)
    assert client.post(reverse("class_create"), {"name": "x"}).status_code == 403
    client.force_login(teacher)
    response = client.post(reverse("class_create"), {"name": "쿠버네티스 2반"})
    classroom = Classroom.objects.get(name="쿠버네티스 2반")
    assert response["Location"] == reverse("class_dashboard", args=[classroom.pk])
    assert len(classroom.join_code) == CODE_LENGTH
    assert set(classroom.join_code) <= set(CODE_ALPHABET)
    assert list(classroom.instructors.all()) == [teacher]


def test_join_codes_cannot_be_found_by_counting():
    assert len(CODE_ALPHABET) ** CODE_LENGTH > 10**11
    assert not set("01OIL") & set(CODE_ALPHABET)


@pytest.mark.django_db
def test_a_student_joins_with_a_code_and_a_rotated_code_stops_working(client, teacher, bob):
    classroom = Classroom.objects.create(name="반", join_code="QRSTUVWX")
    classroom.instructors.add(teacher)
    client.force_login(bob)
    client.post(reverse("class_join"), {"code": "qrst-uvwx"})
    assert bob in classroom.students.all()

    teacher_client = Client()
    teacher_client.force_login(teacher)
    teacher_client.post(reverse("class_rotate_code", args=[classroom.pk]))
    classroom.refresh_from_db()
    assert classroom.join_code != "QRSTUVWX"
    classroom.students.remove(bob)
    response = client.post(reverse("class_join"), {"code": "QRSTUVWX"})
    assert "맞지 않아요" in response.content.decode()
    assert bob not in classroom.students.all()


@pytest.mark.django_db
def test_a_student_joins_at_sign_up(client, classroom):
    client.post(
        reverse("signup"),
        {
            "username": "erin",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
            "join_code": classroom.join_code.lower(),
        },
    )
    assert classroom.students.filter(username="erin").exists()


@pytest.mark.django_db
def test_a_wrong_code_at_sign_up_is_explained(client, classroom):
    response = client.post(
        reverse("signup"),
        {
            "username": "erin",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
            "join_code": "NOPE",
        },
    )
    assert "참여 코드가 맞지 않아요" in response.content.decode()


@pytest.mark.django_db
def test_changes_need_the_csrf_token(classroom, teacher):
    client = Client(enforce_csrf_checks=True)
    client.force_login(teacher)
    assert client.post(reverse("class_rotate_code", args=[classroom.pk])).status_code == 403
    assert client.post(reverse("class_create"), {"name": "x"}).status_code == 403


@pytest.mark.django_db
def test_a_co_instructor_is_added_by_name(client, classroom, teacher, other_teacher, bob):
    client.force_login(teacher)
    client.post(reverse("class_add_instructor", args=[classroom.pk]), {"username": "bob"})
    assert bob not in classroom.instructors.all()  # not an instructor
    client.post(reverse("class_add_instructor", args=[classroom.pk]), {"username": "dana"})
    assert other_teacher in classroom.instructors.all()


@pytest.mark.django_db
def test_the_matrix_matches_the_attempts(classroom, alice, bob, django_user_model):
    classroom.students.add(bob)
    lesson = catalogue()[LESSON]
    blocks = sorted(blocks_of(lesson))
    for block in blocks:  # alice finishes lesson 1
        Attempt.objects.create(
            student=alice, lesson=LESSON, block=block, kind="exercise", passed=True
        )
    Attempt.objects.create(
        student=bob, lesson=LESSON, block=blocks[0], kind="exercise", passed=False
    )
    Attempt.objects.create(
        student=bob, lesson=LESSON, block=blocks[0], kind="exercise", passed=True
    )
    board = dashboard.build(classroom)
    rows = {row.student.username: row for row in board.rows}
    assert rows["alice"].cells[0].state == "done" and rows["alice"].done == 1
    assert rows["alice"].cells[0].attempts == len(blocks)
    assert rows["bob"].cells[0].state == "in_progress"
    assert rows["bob"].cells[0].attempts == 2 and rows["bob"].cells[0].passed_blocks == 1
    assert all(cell.state == "not_started" for cell in rows["bob"].cells[1:])
    assert [r.student.username for r in dashboard.build(classroom, "progress").rows] == [
        "alice",
        "bob",
    ]
    assert board.per_lesson_done[0][1] == 1


@pytest.mark.django_db
def test_repeated_failures_put_a_student_on_the_stuck_list(classroom, alice):
    for _ in range(3):
        Attempt.objects.create(
            student=alice,
            lesson=LESSON,
            block="my-hostname",
            kind="exercise",
            passed=False,
            reason="종료 코드가 0이어야 하는데 1였어요.",
        )
    stuck = dashboard.build(classroom).stuck
    assert [s.student.username for s in stuck] == ["alice"]
    assert "3번" in stuck[0].reason and stuck[0].lesson.slug == LESSON


@pytest.mark.django_db
def test_the_csv_opens_with_korean_intact(client, classroom, teacher, alice):
    client.force_login(teacher)
    response = client.get(reverse("class_export", args=[classroom.pk]))
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:2] == ["학생", "완료한 레슨"] and rows[0][2] == catalogue()[LESSON].title
    assert rows[1][0] == "alice" and rows[1][2].startswith("시작 전")


@pytest.mark.django_db
def test_a_class_of_200_renders_in_a_bounded_number_of_queries(
    client, classroom, teacher, django_user_model
):
    students = django_user_model.objects.bulk_create(
        [django_user_model(username=f"student{n:03d}") for n in range(200)]
    )
    classroom.students.add(*students)
    lessons = list(catalogue().values())
    Attempt.objects.bulk_create(
        [
            Attempt(
                student=s,
                lesson=lessons[n % len(lessons)].slug,
                block="x",
                kind="question",
                passed=n % 2 == 0,
            )
            for n, s in enumerate(students)
            for _ in range(3)
        ]
    )
    client.force_login(teacher)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("class_dashboard", args=[classroom.pk]))
    assert response.status_code == 200
    assert response.content.decode().count("<tr>") >= 200
    assert len(queries) <= 15, [q["sql"][:80] for q in queries]


@pytest.mark.django_db
def test_commands_set_up_an_instructor_and_a_class(capsys):
    call_command("create_instructor", "kim", "--password", "a-long-passphrase")
    call_command("create_class", "도커 3반", "--instructor", "kim")
    out = capsys.readouterr().out
    classroom = Classroom.objects.get(name="도커 3반")
    assert classroom.join_code in out
    assert classroom.instructors.get().username == "kim"
