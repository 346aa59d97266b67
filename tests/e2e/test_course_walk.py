import pytest

from lessons.catalogue import catalogue
from tests.e2e.conftest import serious_accessibility_violations, sign_up

pytestmark = [pytest.mark.docker, pytest.mark.browser]

SLUG = "docker-01-what-is-a-container"
LESSON = f"/lessons/{SLUG}/"


def test_a_student_answers_runs_and_sees_progress_change(page, live_server_url):
    sign_up(page, live_server_url, "walker", "/")
    docker_track = page.locator("section.track").first
    assert "0개 완료" in docker_track.locator(".track-progress").inner_text()
    assert docker_track.locator(".lesson-state").first.inner_text() == "시작 전"

    page.goto(live_server_url + LESSON)
    asked = next(q for q in catalogue()[SLUG].questions.values() if q.choices)
    wrong = next(choice for choice in asked.choices if choice not in asked.answers)
    question = page.locator(f"#question-{asked.id}")
    question.get_by_label(wrong, exact=True).check()
    question.get_by_role("button", name="확인").click()
    feedback = question.locator(".question-feedback")
    feedback.locator(".feedback").wait_for()
    first_try = feedback.inner_text()
    question.get_by_label(asked.answers[0], exact=True).check()
    question.get_by_role("button", name="확인").click()
    question.locator(".feedback--right").wait_for()
    assert "다시 생각해 볼까요" in first_try

    exercise = page.locator("#exercise-run-twice")
    exercise.get_by_role("button", name="실행").click()
    exercise.locator(".verdict--passed").wait_for(timeout=20000)
    assert "통과" in exercise.locator(".verdict").inner_text()

    page.goto(live_server_url + "/")
    state = page.locator("section.track").first.locator(".lesson-state").first
    assert state.inner_text() == "진행 중"
    page.screenshot(path="test-artifacts/course-progress.png", full_page=False)
    assert serious_accessibility_violations(page) == []


def test_a_run_with_two_containers_shows_a_pane_for_each(page, live_server_url):
    sign_up(page, live_server_url, "panes", "/lessons/docker-10-microservices/")
    exercise = page.locator("#exercise-web-and-client")
    exercise.get_by_role("button", name="실행").click()
    exercise.locator(".verdict").wait_for(timeout=30000)
    heads = exercise.locator(".run-pane-head .run-pane-name").all_inner_texts()
    assert heads == ["web", "client"]
    assert exercise.locator(".verdict--passed").count() == 1
    exercise.scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/two-panes.png")
    assert serious_accessibility_violations(page) == []
