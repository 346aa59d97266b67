"""The real docker CLI typed in a lesson's terminal, in Chromium: a container's output on the
screen, a refused flag said in words, two containers on the student's own network."""

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_up
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
