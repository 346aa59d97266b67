"""The terminal's toolbar in the browser, by keyboard alone: the warning five minutes before the
end and 연장, font size and high contrast (kept on the server: they come back after a reload),
and Esc then Tab to leave the terminal; axe-core clean, also at a phone's width."""

import re

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_in, sign_up
from tests.e2e.test_dashboard import new_class
from tests.e2e.test_terminal import wait_for_screen

pytestmark = [pytest.mark.docker, pytest.mark.browser]

LESSON = "/lessons/docker-01-what-is-a-container/"


def focused(page) -> str:
    """What has the focus: the xterm textarea, or a button's text."""
    return page.evaluate(
        """() => { const e = document.activeElement;
        return e.closest('[data-terminal-screen]') ? 'terminal' : (e.textContent || e.tagName).trim(); }"""
    )


def font_size(page) -> str:
    return page.evaluate("getComputedStyle(document.querySelector('.xterm-rows')).fontSize")


def open_terminal(page) -> None:
    page.get_by_role("button", name="터미널 열기").focus()
    page.keyboard.press("Enter")
    page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(timeout=20000)
    wait_for_screen(page, "$ ")


def test_extend_font_contrast_and_leaving_by_keyboard(browser, live_server_url):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.clock.install()  # the page's own clock, so 25 minutes can pass in a moment
    try:
        sign_up(page, live_server_url, "comfy", LESSON)
        open_terminal(page)
        assert focused(page) == "terminal"
        tools = page.locator("[data-terminal-tools]")
        assert tools.get_by_text("터미널에서 나가기: Esc 다음 Tab").is_visible()

        # Esc then Tab leaves the terminal forwards; Esc then Shift+Tab backwards, to the toolbar.
        page.keyboard.press("Escape")
        page.keyboard.press("Tab")
        assert focused(page) != "terminal"
        page.locator(".xterm-helper-textarea").focus()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Tab")
        assert focused(page) == "화면 읽기 모드"
        # A Tab alone stays in the shell (completion), as before.
        page.locator(".xterm-helper-textarea").focus()
        page.keyboard.press("Tab")
        assert focused(page) == "terminal"

        # Font size and contrast, by keyboard; the terminal follows at once.
        larger = tools.get_by_role("button", name="글자 크게")
        larger.focus()
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
        tools.locator("[data-font-size-label]", has_text="18px").wait_for()
        assert font_size(page) == "18px"
        contrast = tools.get_by_role("button", name="고대비")
        contrast.focus()
        page.keyboard.press("Space")
        assert contrast.get_attribute("aria-pressed") == "true"
        page.wait_for_function(
            "getComputedStyle(document.querySelector('.xterm-viewport')).backgroundColor"
            " === 'rgb(0, 0, 0)'"
        )
        announce = tools.locator("[data-terminal-announce]")
        announce.filter(has_text="고대비 화면을 켰어요").wait_for()

        # 25 minutes on: the warning, said in the live region; 연장 by keyboard.
        warning = tools.locator("[data-terminal-extend-warning]")
        assert warning.is_hidden()
        page.clock.fast_forward("25:30")
        warning.wait_for(state="visible")
        announce.filter(has_text="5분 뒤에 터미널이 끝나요").wait_for()
        page.screenshot(path="test-artifacts/terminal-extend-warning.png", full_page=False)
        extend = tools.get_by_role("button", name=re.compile("연장"))
        extend.focus()
        page.keyboard.press("Enter")
        announce.filter(has_text=re.compile(r"터미널이 \d\d:\d\d까지 연장됐어요")).wait_for()
        assert warning.is_hidden()
        assert tools.locator("[data-terminal-extend-left]").inner_text() == "오늘 3번 남음"
        assert page.locator("[data-terminal-time]").inner_text().startswith("남은 시간 3")
        # Pressed again with more than 30 minutes left: refused, in words.
        page.keyboard.press("Enter")
        announce.filter(has_text="남은 시간이 30분 이하가 되면").wait_for()
        page.screenshot(path="test-artifacts/terminal-tools.png", full_page=False)
        assert serious_accessibility_violations(page) == []

        # Another page (or computer): the same settings, before the terminal is even open.
        page.reload()
        tools = page.locator("[data-terminal-tools]")
        assert tools.locator("[data-font-size-label]").inner_text() == "18px"
        assert tools.get_by_role("button", name="고대비").get_attribute("aria-pressed") == "true"
        open_terminal(page)
        assert font_size(page) == "18px"

        # A phone: the controls wrap and stay large enough to press.
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("[data-terminal-tools]").scroll_into_view_if_needed()
        box = tools.get_by_role("button", name="글자 크게").bounding_box()
        assert box["height"] >= 44 and box["x"] + box["width"] <= 390
        page.screenshot(path="test-artifacts/terminal-tools-phone.png", full_page=False)
        assert serious_accessibility_violations(page) == []
    finally:
        context.close()


def test_the_instructor_extends_the_class_and_the_students_tab_says_so(browser, site_server):
    base = site_server.url
    pk, code = new_class(site_server, "extendprof", "도커 연장반")
    student = browser.new_context(locale="ko-KR")
    teacher = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1000})
    try:
        page = student.new_page()
        sign_up(page, base, "yuna", LESSON, code)
        open_terminal(page)
        dashboard = teacher.new_page()
        sign_in(dashboard, base, "extendprof", "prof-passphrase-42")
        dashboard.goto(f"{base}/classes/{pk}/")
        button = dashboard.get_by_role("button", name="모든 학생 터미널 30분 연장")
        button.focus()
        dashboard.keyboard.press("Enter")
        dashboard.locator("#terminals-extend-status", has_text="터미널 1개를 연장했어요").wait_for()
        page.locator("[data-terminal-announce]").filter(
            has_text=re.compile(r"선생님이 터미널을 \d\d:\d\d까지 연장했어요")
        ).wait_for()
        # Not the student's own: the day's four are all still there.
        assert page.locator("[data-terminal-extend-left]").inner_text() == "오늘 4번 남음"
        assert page.locator("[data-terminal-time]").inner_text().startswith("남은 시간 59:")
        dashboard.locator("#terminals-extend").screenshot(
            path="test-artifacts/dashboard-extend.png"
        )
        assert serious_accessibility_violations(dashboard) == []
    finally:
        student.close()
        teacher.close()
