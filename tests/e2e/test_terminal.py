import re

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_up

pytestmark = [pytest.mark.docker, pytest.mark.browser]

LESSON = "/lessons/docker-01-what-is-a-container/"


def screen_text(page) -> str:
    return page.locator(".xterm-rows").inner_text()


def wait_for_screen(page, text: str, timeout: int = 15000) -> None:
    page.wait_for_function(
        "t => document.querySelector('.xterm-rows')?.innerText.includes(t)",
        arg=text,
        timeout=timeout,
    )


def open_terminal(page, timeout: int = 15000) -> None:
    """Press 터미널 열기 on the lesson page and wait for the shell's prompt."""
    page.get_by_role("button", name="터미널 열기").click()
    page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(timeout=timeout)
    wait_for_screen(page, "$ ", timeout=timeout)


def type_line(page, line: str) -> None:
    """Type a command into the terminal, as a student would, and press Enter."""
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def test_a_student_uses_the_terminal_runs_a_block_and_passes_a_check(page, live_server_url):
    sign_up(page, live_server_url, "termuser", LESSON)
    open_terminal(page)
    type_line(page, "echo $((6*7))")
    wait_for_screen(page, "42")
    assert re.fullmatch(
        r"남은 시간 (29:\d\d|30:00)", page.locator("[data-terminal-time]").inner_text()
    )

    check = page.locator("#check-hello-file")
    check.get_by_role("button", name="확인").click()
    check.locator(".feedback--wrong").wait_for()

    page.get_by_role(
        "button", name="터미널에서 실행: echo 안녕 > /work/hello.txt && cat /work/hello.txt"
    ).click()
    wait_for_screen(page, "안녕\n")
    check.get_by_role("button", name="확인").click()
    check.locator(".feedback--right").wait_for()
    page.screenshot(path="test-artifacts/terminal.png")
    assert serious_accessibility_violations(page) == []

    # A reload reattaches to the same shell: the earlier answer is still on the screen.
    page.reload()
    page.get_by_role("button", name="터미널 열기").click()
    wait_for_screen(page, "42")
