"""Files in and out of the terminal's /work in the browser: the labelled file field, a drop onto
the terminal, the list with its download links and the whole /work as a .tar.gz."""

import os
import tarfile
from pathlib import Path

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_up
from tests.e2e.test_terminal import wait_for_screen

pytestmark = [pytest.mark.docker, pytest.mark.browser]

LESSON = "/lessons/docker-01-what-is-a-container/"
FIELD = "내 컴퓨터의 파일을 /work에 올리기"

DROP = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, { type: "text/plain" }));
  const screen = document.querySelector("[data-terminal-screen]");
  for (const type of ["dragenter", "dragover", "drop"]) {
    screen.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}"""


def status(page):
    return page.locator("[data-work-status]")


def said(page, text: str, timeout: int = 15000) -> None:
    """The status line comes to say `text` (or the test fails showing what it said instead)."""
    try:
        status(page).filter(has_text=text).wait_for(timeout=timeout)
    except Exception:
        raise AssertionError(f"said {status(page).inner_text()!r}, not {text!r}") from None


def test_a_student_uploads_by_field_and_drop_and_downloads(page, live_server_url, tmp_path):
    sign_up(page, live_server_url, "filer", LESSON)
    files = page.locator("[data-work-files]")
    files.locator("summary").click()
    hello = tmp_path / "hello.txt"
    hello.write_text("안녕, 파일\n")

    # No terminal yet: said in words, nothing else happens.
    page.get_by_label(FIELD).set_input_files(str(hello))
    said(page, "터미널을 먼저 열어 주세요")

    page.get_by_role("button", name="터미널 열기").click()
    page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(timeout=15000)
    wait_for_screen(page, "$ ")
    files.get_by_text("/work에 아직 파일이 없어요").wait_for()

    # The file field, reached by keyboard (Tab from the summary) and named by its label.
    files.locator("summary").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "work-upload-file"
    page.get_by_label(FIELD).set_input_files(str(hello))
    said(page, "hello.txt를 /work에 올렸어요.")
    files.get_by_role("link", name="hello.txt").wait_for()

    # Bigger than nginx's default body limit and than one piece on the channel layer.
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 2**20))
    page.get_by_label(FIELD).set_input_files(str(big))
    said(page, "big.bin을 /work에 올렸어요.", 30000)

    # A drop onto the terminal.
    page.evaluate(DROP, ["dropped.md", "# 끌어다 놓은 파일\n"])
    said(page, "dropped.md를 /work에 올렸어요.")
    files.get_by_role("link", name="dropped.md").wait_for()

    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.type("cat hello.txt dropped.md")
    page.keyboard.press("Enter")
    wait_for_screen(page, "끌어다 놓은 파일")
    assert "안녕, 파일" in page.locator(".xterm-rows").inner_text()

    # A hostile name, as a drop could bring it: refused, saying why.
    page.evaluate(DROP, ["a" * 300, "x"])
    said(page, "파일 이름이 너무 길어요")

    with page.expect_download() as got:
        files.get_by_role("link", name="hello.txt").click()
    download = got.value
    assert download.suggested_filename == "hello.txt"
    assert Path(download.path()).read_text() == "안녕, 파일\n"
    said(page, "hello.txt를 받았어요")

    with page.expect_download() as got:
        files.get_by_role("link", name="/work 전체 받기 (.tar.gz)").click()
    download = got.value
    assert download.suggested_filename == "work.tar.gz"
    with tarfile.open(download.path(), mode="r:gz") as archive:
        assert {"./hello.txt", "./dropped.md", "./big.bin"} <= set(archive.getnames())
        assert archive.extractfile("./big.bin").read() == big.read_bytes()

    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/workspace_files.png")
    assert serious_accessibility_violations(page) == []
