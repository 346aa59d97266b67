import re

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_in, sign_up

pytestmark = [pytest.mark.docker, pytest.mark.browser]


def new_class(site_server, instructor: str, name: str) -> tuple[str, str]:
    """An instructor (password prof-passphrase-42) and their class: (pk, join code)."""
    site_server.manage("create_instructor", instructor, "--password", "prof-passphrase-42")
    out = site_server.manage("create_class", name, "--instructor", instructor)
    return re.search(r"class (\d+) .*join code (\w+)", out).groups()


LESSON = "/lessons/docker-01-what-is-a-container/"


def test_the_instructor_sees_a_run_live_and_stops_it(browser, site_server):
    base = site_server.url
    pk, code = new_class(site_server, "prof", "도커 입문 1반")

    teacher = browser.new_context(viewport={"width": 1280, "height": 900})
    student = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        instructor_page = teacher.new_page()
        sign_in(instructor_page, base, "prof", "prof-passphrase-42")
        student_page = student.new_page()
        sign_up(student_page, base, "minji", LESSON, code)

        instructor_page.goto(f"{base}/classes/{pk}/")
        matrix = instructor_page.locator("#matrix")
        assert "minji" in matrix.inner_text()
        instructor_page.wait_for_timeout(500)  # the dashboard socket is open

        exercise = student_page.locator("#exercise-my-hostname")
        exercise.locator("textarea").fill("echo 시작했어요; sleep 40")
        exercise.get_by_role("button", name="실행").click()
        exercise.locator(".run-output", has_text="시작했어요").wait_for(timeout=15000)

        # Live, without reloading: the running list names the student within two seconds.
        running_row = instructor_page.locator("#running tr", has_text="minji")
        running_row.wait_for(timeout=2000)
        instructor_page.screenshot(path="test-artifacts/dashboard-running.png", full_page=True)
        assert serious_accessibility_violations(instructor_page) == []
        running_row.get_by_role("button", name=re.compile("멈추기")).click()

        exercise.locator(".run-status", has_text="강사가 실행을 멈췄어요").wait_for(timeout=10000)
        instructor_page.locator("#running", has_text="실행 중인 컨테이너가 없어요").wait_for(
            timeout=10000
        )
    finally:
        teacher.close()
        student.close()


def test_a_student_is_refused_the_dashboard(page, site_server):
    site_server.manage("create_instructor", "prof2", "--password", "prof-passphrase-42")
    out = site_server.manage("create_class", "반", "--instructor", "prof2")
    pk = re.search(r"class (\d+)", out).group(1)
    sign_up(page, site_server.url, "curious", "/")
    response = page.goto(f"{site_server.url}/classes/{pk}/")
    assert response.status == 403
    assert "권한이 없어요" in page.content()


def test_the_instructor_watches_a_students_terminal(browser, site_server):
    base = site_server.url
    pk, code = new_class(site_server, "prof3", "터미널 반")
    teacher, student = browser.new_context(), browser.new_context()
    try:
        student_page = student.new_page()
        sign_up(student_page, base, "sora", LESSON, code)
        student_page.get_by_role("button", name="터미널 열기").click()
        student_page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(
            timeout=15000
        )

        instructor_page = teacher.new_page()
        sign_in(instructor_page, base, "prof3", "prof-passphrase-42")
        instructor_page.goto(f"{base}/classes/{pk}/")
        instructor_page.get_by_role("link", name="터미널 보기").click()
        instructor_page.locator("[data-terminal-status]", has_text="보고 있어요").wait_for(
            timeout=10000
        )

        student_page.keyboard.type("echo watched-$((20+1))")
        student_page.keyboard.press("Enter")
        instructor_page.wait_for_function(
            "() => document.querySelector('.xterm-rows')?.innerText.includes('watched-21')",
            timeout=10000,
        )
        assert instructor_page.get_by_role("button", name="터미널 열기").count() == 0
        assert serious_accessibility_violations(instructor_page) == []
    finally:
        teacher.close()
        student.close()
