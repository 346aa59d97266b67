"""The real docker CLI typed in a lesson's terminal, in Chromium: a container's output on the
screen, a refused flag said in words."""

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_up
from tests.e2e.test_terminal import LESSON, wait_for_screen

pytestmark = [pytest.mark.docker, pytest.mark.browser]


def test_a_student_types_docker_run_in_the_lesson_terminal(page, live_server_url):
    sign_up(page, live_server_url, "dockercli", LESSON)
    page.get_by_role("button", name="터미널 열기").click()
    page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(timeout=30000)
    wait_for_screen(page, "$ ")
    page.keyboard.type("docker run --rm busybox echo hello-from-a-container")
    page.keyboard.press("Enter")
    wait_for_screen(page, "\nhello-from-a-container", timeout=30000)
    page.keyboard.type("docker run --privileged busybox true")
    page.keyboard.press("Enter")
    wait_for_screen(page, "--privileged는 여기서 쓸 수 없어요", timeout=30000)
    page.screenshot(path="test-artifacts/docker-cli.png")
    assert serious_accessibility_violations(page) == []
