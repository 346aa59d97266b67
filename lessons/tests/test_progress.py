import pytest
from django.test import AsyncClient
from django.urls import reverse

from lessons.catalogue import catalogue
from lessons.models import Attempt
from lessons.progress import DONE, IN_PROGRESS, NOT_STARTED, blocks_of, lesson_progress
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following

LESSON = "docker-01-what-is-a-container"


def answer_url(question_id: str) -> str:
    return reverse("question_answer", args=[LESSON, question_id])


@pytest.fixture
def lesson():
    return catalogue()[LESSON]


@pytest.mark.django_db
def test_a_right_answer_is_recorded_and_counts(client, alice, lesson):
    client.force_login(alice)
    question = next(iter(lesson.questions.values()))
    assert lesson_progress(alice, lesson).state == NOT_STARTED
    client.post(answer_url(question.id), {"answer": "전혀 아닌 답"})
    client.post(answer_url(question.id), {"answer": question.answers[0]})
    attempts = list(Attempt.objects.filter(student=alice).order_by("created_at"))
    assert [a.passed for a in attempts] == [False, True]
    progress = lesson_progress(alice, lesson)
    assert progress.state == IN_PROGRESS
    assert question.id in progress.passed


@pytest.mark.django_db
def test_an_anonymous_answer_gets_feedback_but_no_record(client, lesson):
    question = next(iter(lesson.questions.values()))
    response = client.post(answer_url(question.id), {"answer": question.answers[0]})
    assert "맞아요" in response.content.decode()
    assert not Attempt.objects.exists()


@pytest.mark.django_db
def test_an_empty_answer_is_asked_for_again(client, alice, lesson):
    client.force_login(alice)
    question = next(iter(lesson.questions.values()))
    response = client.post(answer_url(question.id), {"answer": "  "})
    assert "답을 고르거나" in response.content.decode()
    assert not Attempt.objects.exists()


@pytest.mark.django_db
def test_a_lesson_is_done_when_every_block_has_passed(alice, lesson):
    for block in sorted(blocks_of(lesson)):  # exercises, questions, terminal checks
        assert lesson_progress(alice, lesson).state != DONE
        Attempt.objects.create(
            student=alice, lesson=LESSON, block=block, kind="exercise", passed=True
        )
    assert lesson_progress(alice, lesson).state == DONE


@pytest.mark.django_db
def test_the_course_page_shows_each_lessons_state(client, alice, lesson):
    client.force_login(alice)
    Attempt.objects.create(student=alice, lesson=LESSON, block="x", kind="question", passed=False)
    page = client.get(reverse("course")).content.decode()
    assert "lesson-state--in_progress" in page
    assert "lesson-state--not_started" in page
    assert "<progress" in page


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
async def test_a_passed_run_records_a_passed_attempt(alice):
    client = AsyncClient()
    await client.aforce_login(alice)
    await client.post(reverse("exercise_run", args=[LESSON, "run-twice"]))
    await following.wait_for_all()
    attempt = await Attempt.objects.aget(student=alice)
    assert attempt.passed and attempt.block == "run-twice" and attempt.kind == "exercise"
    assert attempt.run_id == (await Run.objects.aget(owner=alice)).pk


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
async def test_a_failed_check_says_why(alice):
    client = AsyncClient()
    await client.aforce_login(alice)
    await client.post(
        reverse("exercise_run", args=[LESSON, "my-hostname"]), {"command": "echo nothing; exit 2"}
    )
    await following.wait_for_all()
    attempt = await Attempt.objects.aget(student=alice)
    assert not attempt.passed
    assert "종료 코드가 0이어야 하는데 2였어요" in attempt.reason


@pytest.mark.django_db
def test_a_run_the_platform_failed_is_not_a_failed_try(alice, lesson):
    from lessons.checks import record_attempt, run_label

    exercise = next(iter(lesson.exercises.values()))
    run = Run.objects.create(
        owner=alice,
        label=run_label(LESSON, exercise.id),
        page=LESSON,
        block=exercise.id,
        image="baeum/lab",
        command=exercise.command,
        timeout_seconds=exercise.timeout,
        state=Run.State.FAILED,
        message=str(runs.ENGINE_DOWN_MESSAGE),
    )
    record_attempt(run)
    assert not Attempt.objects.filter(student=alice).exists()
    run.state, run.exit_code = Run.State.EXITED, 1
    run.save()
    record_attempt(run)  # the student's own command failing is a try
    assert Attempt.objects.get(student=alice).passed is False
