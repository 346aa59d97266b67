"""Copy and paste as people expect: a 복사 button on every command block of the lesson text;
in the terminal, selecting copies, Ctrl+Shift+V pastes, and a long paste asks first."""

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_up
from tests.e2e.test_terminal import wait_for_screen

pytestmark = [pytest.mark.docker, pytest.mark.browser]

LESSON = "/lessons/docker-01-what-is-a-container/"


@pytest.fixture
def clip_page(browser, live_server_url):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server_url)
    page = context.new_page()
    yield page
    context.close()


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_every_command_block_has_a_copy_button(clip_page, live_server_url):
    page = clip_page
    sign_up(page, live_server_url, "copier", LESSON)
    blocks = page.locator("article.lesson .runnable, article.lesson .highlight")
    buttons = page.locator("article.lesson .copy-button")
    assert blocks.count() > 0 and buttons.count() == blocks.count()
    runnable = page.locator("article.lesson .runnable").first
    command = runnable.locator("[data-terminal-run]").get_attribute("data-terminal-run")
    runnable.locator(".copy-button").focus()
    page.keyboard.press("Enter")  # by keyboard alone
    runnable.locator(".copy-note", has_text="복사했어요").wait_for()
    assert clipboard(page) == command
    assert serious_accessibility_violations(page) == []


def test_the_terminal_copies_a_selection_and_pastes_safely(clip_page, live_server_url):
    page = clip_page
    sign_up(page, live_server_url, "paster", LESSON)
    page.get_by_role("button", name="터미널 열기").click()
    page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(timeout=15000)
    wait_for_screen(page, "$ ")

    # Ctrl+Shift+V pastes what the clipboard holds (and does not type a ^V).
    page.evaluate("navigator.clipboard.writeText('echo pasted-$((40+2))')")
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.press("Control+Shift+V")
    page.keyboard.press("Enter")
    wait_for_screen(page, "pasted-42")

    # Selecting with the mouse copies, and says so.
    row = page.locator(".xterm-rows > div", has_text="pasted-42").last
    box = row.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    page.locator("[data-terminal-status]", has_text="복사했어요").wait_for()
    assert clipboard(page).startswith("pasted-42"[:3])

    # Ten lines ask first; dismissed, nothing reaches the shell.
    seen = []
    page.once("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    page.evaluate(
        "navigator.clipboard.writeText(Array.from({length: 10}, (_, i) => `echo many-${i}`).join('\\n'))"
    )
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.press("Control+Shift+V")
    page.locator("[data-terminal-status]", has_text="취소했어요").wait_for()
    assert seen and "10줄" in seen[0]
    assert "many-0" not in page.locator(".xterm-rows").inner_text()
