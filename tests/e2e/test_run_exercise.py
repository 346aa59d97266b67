import pytest

from lessons.catalogue import catalogue
from tests.e2e.conftest import serious_accessibility_violations, sign_up

pytestmark = [pytest.mark.docker, pytest.mark.browser]

LESSON = "/lessons/docker-01-what-is-a-container/"


def test_a_student_sees_a_real_container_print_line_by_line(page, live_server_url):
    sign_up(page, live_server_url, "student1", LESSON)
    exercise = page.locator("#exercise-my-hostname")
    exercise.get_by_role("button", name="실행").click()

    output = exercise.locator(".run-output")
    # The first line is there while the command is still running: output streams, it does not
    # arrive all at once at the end (the command prints a line every 0.3 s).
    output.filter(has_text="1: 나는").wait_for(timeout=15000)
    seen_early = output.inner_text()
    status_early = exercise.locator(".run-status").inner_text()
    assert "5: 나는" not in seen_early
    assert "종료 코드" not in status_early

    exercise.locator(".run-status", has_text="종료 코드 0").wait_for(timeout=15000)
    lines = output.inner_text().strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["1", "2", "3", "4", "5"]
    assert "초" in exercise.locator(".run-duration").inner_text()
    page.screenshot(path="test-artifacts/lesson-run.png", full_page=False)


ALL_LESSONS = [f"/lessons/{slug}/" for slug in catalogue()]


def test_every_page_has_no_serious_accessibility_problems(page, live_server_url):
    problems = {}
    for path in ["/", "/accounts/login/", "/accounts/signup/", *ALL_LESSONS]:
        page.goto(live_server_url + path)
        if found := serious_accessibility_violations(page):
            problems[path] = found
    assert problems == {}


def test_every_lesson_reads_on_a_phone_without_sideways_scrolling(browser, live_server_url):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    overflowing = {}
    for path in ALL_LESSONS:
        page.goto(live_server_url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            overflowing[path] = overflow
    page.goto(live_server_url + LESSON)
    page.screenshot(path="test-artifacts/lesson-phone.png", full_page=False)
    context.close()
    assert overflowing == {}


def test_an_anonymous_reader_is_sent_to_sign_in_to_run(page, live_server_url):
    page.goto(live_server_url + LESSON)
    link = page.locator("#exercise-my-hostname").get_by_role("link", name="로그인하고 실행하기")
    link.click()
    page.wait_for_url("**/accounts/login/**")
