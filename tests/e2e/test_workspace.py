"""The persistent /work in a browser and across a real server restart: a terminal that ended
comes back with the same /work and says so; the panel's controls (the last session, emptying
with a confirmation) pass axe-core; a server killed with SIGKILL, its terminal's container gone
too, still gives the student their /work back from the saved tar."""

from __future__ import annotations

import signal
import time

import pytest

from sandbox import engine
from tests.e2e.conftest import AXE, serious_accessibility_violations, sign_up
from tests.e2e.test_restart_recovery import read_note, write_note
from tests.e2e.test_terminal import wait_for_screen
from tools.cluster import SingleServer

pytestmark = [pytest.mark.docker]

LESSON = "/lessons/docker-01-what-is-a-container/"


def violations_in(page, selector: str) -> list[str]:
    """axe-core's serious and critical findings inside `selector` only (the section this
    feature adds; the rest of the panel is other features' and tested by their own tests)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async (s) => await axe.run(document.querySelector(s))", selector)
    return [
        f"{v['id']}: {v['help']} ({v['nodes'][0]['html'][:120]})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.browser
def test_a_resumed_terminal_says_so_and_the_workspace_controls_are_accessible(
    page, live_server_url
):
    sign_up(page, live_server_url, "workuser", LESSON)
    panel = page.locator(".terminal-panel")
    page.get_by_role("button", name="터미널 열기").click()
    wait_for_screen(page, "$ ")
    page.keyboard.type("echo note-$((6*7)) > /work/memo.txt; exit")
    page.keyboard.press("Enter")
    page.locator("[data-terminal-status]", has_text="셸이 끝났어요").wait_for(timeout=15000)

    page.get_by_role("button", name="새 터미널 열기").click()
    wait_for_screen(page, "이어서 열었어요")
    wait_for_screen(page, "student@baeum:~$")  # the new shell's prompt, after the note
    page.keyboard.type("cat /work/memo.txt")
    page.keyboard.press("Enter")
    wait_for_screen(page, "note-42\n")
    panel.locator("[data-work-saved]").wait_for()  # the section reloads when a terminal opens
    panel.get_by_text("작업 공간 비우기…").click()
    panel.screenshot(path="test-artifacts/terminal-resumed.png")
    # Still on the screen: a size the layout collapsed for a moment (1×2) once reached the
    # shell, whose redraws for that width and back wrote the prompt over this line.
    wait_for_screen(page, "memo.txt\nnote-42\n", timeout=1000)
    assert violations_in(page, "[data-work-keep]") == []

    # The last session, as its owner reads it back.
    with page.context.expect_page() as opened:
        panel.get_by_role("link", name="지난 세션 기록 보기").click()
    last = opened.value
    last.get_by_role("heading", name="지난 세션 기록").wait_for()
    assert "echo note-$((6*7)) > /work/memo.txt" in last.locator("pre").inner_text()
    assert serious_accessibility_violations(last) == []
    last.close()

    # Emptying asks first: the box must be ticked (the browser refuses the form without it).
    reset = panel.get_by_role("button", name="작업 공간 비우기")
    reset.click()
    assert panel.locator("#work-reset-status").inner_text() == ""
    panel.get_by_label("네, /work의 파일을 모두 지울게요").check()
    reset.click()
    panel.locator("#work-reset-status", has_text="비웠어요").wait_for()
    page.locator("[data-terminal-status]", has_text="비웠어요").wait_for(timeout=15000)
    page.get_by_role("button", name="터미널 열기").click()
    wait_for_screen(page, "$ ")
    page.locator("[data-terminal-screen]").click()
    page.keyboard.type("cat /work/memo.txt")
    page.keyboard.press("Enter")
    wait_for_screen(page, "No such file")
    assert "이어서 열었어요" not in page.locator(".xterm-rows").inner_text()


def test_a_killed_server_whose_terminal_is_gone_too_restores_the_saved_work(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_WORKSPACE_DIR", str(tmp_path / "workspaces"))
    monkeypatch.setenv("SANDBOX_WORKSPACE_SAVE_SECONDS", "1")
    server = SingleServer(tmp_path, database=tmp_path / "class.sqlite3").start()
    try:
        write_note(server, tmp_path, "restart-worker", "kept-$((6*7))")
        # The periodic save (typed in, a second since the last save) writes the tar.
        deadline = time.monotonic() + 20
        while not list((tmp_path / "workspaces").glob("u*.tar")):
            assert time.monotonic() < deadline, "no periodic save"
            time.sleep(0.5)
        time.sleep(1)
        server.stop_process("worker0", signal.SIGKILL)
        # The engine lost the terminal too (an engine restart, `docker rm -f`).
        for container in engine.labelled_containers(server.namespace):
            engine.remove(container.id)
        server.start()

        shown = read_note(server, tmp_path, "restart-worker")
        assert "kept-42" in shown and "이어서 열었어요" in shown
    finally:
        server.stop()


@pytest.mark.parametrize("shape", ["single", "separate"])
def test_a_clean_stop_saves_the_work_for_a_terminal_lost_while_down(shape, tmp_path, monkeypatch):
    """SIGTERM to the process that follows terminals (the single server, or the separate
    supervisor) saves every /work before it exits; a terminal lost while it was down (the
    engine restarted) then comes back from that save. No periodic save in between."""
    from tools.cluster import Cluster

    monkeypatch.setenv("SANDBOX_WORKSPACE_DIR", str(tmp_path / "workspaces"))
    monkeypatch.setenv("SANDBOX_WORKSPACE_SAVE_SECONDS", "3600")
    if shape == "single":
        server = SingleServer(tmp_path, database=tmp_path / "class.sqlite3").start()
        follower = "worker0"
    else:
        server = Cluster(tmp_path / "cluster").start()
        follower = "supervisor"
    try:
        write_note(server, tmp_path, "stop-worker", "clean-$((6*7))")
        assert not list((tmp_path / "workspaces").glob("u*.tar"))
        server.stop_process(follower, signal.SIGTERM)
        assert list((tmp_path / "workspaces").glob("u*.tar")), server.log(follower)[-2000:]
        for container in engine.labelled_containers(server.namespace):
            engine.remove(container.id)
        if shape == "single":
            server.start()
        else:
            server.start_supervisor()

        shown = read_note(server, tmp_path, "stop-worker")
        assert "clean-42" in shown and "이어서 열었어요" in shown
    finally:
        server.stop()
