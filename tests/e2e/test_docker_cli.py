"""The real docker CLI typed in a lesson's terminal, in Chromium: a container's output on the
screen, a refused flag said in words, two containers on the student's own network; and what
their instructor sees of it: the containers on the dashboard, the calls beside the terminal."""

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_in, sign_up
from tests.e2e.test_dashboard import new_class
from tests.e2e.test_terminal import LESSON, open_terminal, type_line, wait_for_screen

pytestmark = [pytest.mark.docker, pytest.mark.browser]


def test_a_student_types_docker_run_in_the_lesson_terminal(page, live_server_url):
    sign_up(page, live_server_url, "dockercli", LESSON)
    open_terminal(page, timeout=30000)
    type_line(page, "docker run --rm busybox echo hello-from-a-container")
    wait_for_screen(page, "\nhello-from-a-container", timeout=30000)
    type_line(page, "docker run --privileged busybox true")
    wait_for_screen(page, "--privileged는 여기서 쓸 수 없어요", timeout=30000)
    type_line(page, "docker network create app && docker volume create site")
    wait_for_screen(page, "\nsite", timeout=30000)
    type_line(
        page,
        "docker run -d --name web --network app -v site:/www busybox"
        " sh -c 'echo hello-over-app > /www/index.html; exec httpd -f -p 8080 -h /www'",
    )
    type_line(page, "docker run --rm --network app busybox wget -qO- -T 5 http://web:8080/")
    wait_for_screen(page, "\nhello-over-app", timeout=30000)
    page.screenshot(path="test-artifacts/docker-cli.png")
    assert serious_accessibility_violations(page) == []


def test_the_instructor_sees_a_students_docker_containers_and_calls(browser, site_server):
    base = site_server.url
    pk, code = new_class(site_server, "prof-docker", "도커 반")
    wide = {"locale": "ko-KR", "viewport": {"width": 1100, "height": 900}}
    teacher, student = browser.new_context(**wide), browser.new_context(**wide)
    try:
        student_page = student.new_page()
        sign_up(student_page, base, "dasom", LESSON, code)
        open_terminal(student_page, timeout=30000)
        instructor_page = teacher.new_page()
        sign_in(instructor_page, base, "prof-docker", "prof-passphrase-42")
        instructor_page.goto(f"{base}/classes/{pk}/")

        type_line(student_page, "docker run -d --name web busybox sleep 300")
        type_line(student_page, "docker run --rm --privileged busybox true")
        wait_for_screen(student_page, "--privileged는 여기서 쓸 수 없어요", timeout=30000)
        # The dashboard learns of it live: the student's container in «지금 실행 중».
        running = instructor_page.locator("#running")
        running.get_by_role("cell", name="web", exact=True).wait_for(timeout=15000)
        assert "busybox" in running.inner_text()
        instructor_page.screenshot(path="test-artifacts/docker-dashboard.png", full_page=True)
        assert serious_accessibility_violations(instructor_page) == []

        running.get_by_role("link", name="dasom의 터미널 보기").click()
        calls = instructor_page.locator("#student-docker .docker-calls")
        calls.get_by_text("docker create --name web busybox sleep 300").wait_for(timeout=15000)
        refused = calls.locator(".refused")
        assert "거절됨" in refused.inner_text() and "--privileged" in refused.inner_text()
        instructor_page.locator("#student-docker").screenshot(
            path="test-artifacts/docker-calls.png"
        )
        assert serious_accessibility_violations(instructor_page) == []
    finally:
        teacher.close()
        student.close()
