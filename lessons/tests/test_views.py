import pytest
from django.test import AsyncClient
from django.urls import reverse

from sandbox.models import Run
from sandbox.supervisor import runs

LESSON = "docker-01-what-is-a-container"


def run_url(exercise: str = "my-hostname") -> str:
    return reverse("exercise_run", args=[LESSON, exercise])


@pytest.mark.django_db
def test_a_lesson_reads_without_an_account(client):
    response = client.get(reverse("lesson_detail", args=[LESSON]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "컨테이너란?" in page
    assert "로그인하고 실행하기" in page
    assert 'id="exercise-my-hostname"' in page


@pytest.mark.django_db
def test_the_course_page_lists_the_lesson(client):
    response = client.get(reverse("course"))
    assert LESSON in response.content.decode()


@pytest.mark.django_db
def test_the_course_page_adds_up_the_minutes_of_every_lesson(client):
    from lessons.catalogue import catalogue

    page = client.get(reverse("course")).content.decode()
    total = sum(lesson.minutes for lesson in catalogue().values())
    assert f"모두 합쳐 약 {total}분" in page


@pytest.mark.django_db
def test_an_unknown_lesson_is_a_404(client):
    assert client.get(reverse("lesson_detail", args=["docker-99-nothing"])).status_code == 404


@pytest.mark.django_db
def test_running_needs_an_account(client):
    response = client.post(run_url(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "로그인해 주세요" in response.content.decode()
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_running_is_a_post(client, alice):
    client.force_login(alice)
    assert client.get(run_url()).status_code == 405


@pytest.mark.django_db
def test_an_over_long_command_gets_a_clear_message(client, alice):
    client.force_login(alice)
    response = client.post(run_url(), {"command": "echo " + "x" * 5000})
    assert "너무 길어요" in response.content.decode()
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_an_empty_command_gets_a_clear_message(client, alice):
    client.force_login(alice)
    response = client.post(run_url(), {"command": "   "})
    assert "입력해 주세요" in response.content.decode()


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
async def test_a_student_runs_an_edited_command(alice):
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.post(run_url(), {"command": "echo edited-by-student"})
    assert response.status_code == 200
    run = await Run.objects.aget(owner=alice)
    assert f'ws-connect="/ws/runs/{run.id}/"' in response.content.decode()
    await runs.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert run.transcript == "edited-by-student\n"
    assert run.label == f"lesson/{LESSON}/my-hostname"
    assert (run.page, run.block) == (LESSON, "my-hostname")  # what it is for, typed


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
async def test_a_fixed_command_ignores_what_the_browser_sends(alice):
    client = AsyncClient()
    await client.aforce_login(alice)
    await client.post(run_url("run-twice"), {"command": "echo injected"})
    await runs.wait_for_all()
    run = await Run.objects.aget(owner=alice)
    assert "injected" not in run.transcript
    assert run.transcript.startswith("이번 컨테이너:")


@pytest.mark.django_db
def test_a_question_answers_in_place(client):
    lesson_questions = __import__("lessons.catalogue").catalogue.catalogue()[LESSON].questions
    question = next(iter(lesson_questions.values()))
    url = reverse("question_answer", args=[LESSON, question.id])
    right = client.post(url, {"answer": question.answers[0]}).content.decode()
    wrong = client.post(url, {"answer": "전혀 아닌 답"}).content.decode()
    assert "맞아요" in right
    assert "다시 생각해 볼까요" in wrong


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/signup/?next=/", "/accounts/signup/", "/accounts/login/"]
)
def test_account_pages_render(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_signing_up_logs_in_and_returns_to_the_lesson(client):
    lesson_url = reverse("lesson_detail", args=[LESSON])
    response = client.post(
        reverse("signup"),
        {
            "username": "charlie",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
            "next": lesson_url,
        },
    )
    assert response.status_code == 302 and response["Location"] == lesson_url
    assert "charlie" in client.get(lesson_url).content.decode()


@pytest.mark.django_db
def test_sign_up_never_redirects_off_site(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "dave",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("course")


def test_every_middleware_is_async_capable():
    # A sync-only middleware would run async views on a throwaway event loop, killing the task
    # that follows a run as soon as the request ends.
    from django.conf import settings
    from django.utils.module_loading import import_string

    for path in settings.MIDDLEWARE:
        assert getattr(import_string(path), "async_capable", False), f"{path} is sync-only"
