"""A live server (daphne in its own process, a file SQLite database) and headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_it_answers(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the live server exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the live server did not answer:\n{log.read_text()}")


class LiveServer:
    def __init__(self, url: str, env: dict) -> None:
        self.url, self.env = url, env

    def manage(self, *args: str) -> str:
        """Run a management command against the live server's database."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout


def scaled_out() -> bool:
    """BAEUM_SCALE_OUT=1 (CI's second pass): the browser tests go through nginx to two web
    workers, with the sandbox supervisor as its own process (website/cluster.py)."""
    return os.environ.get("BAEUM_SCALE_OUT", "") == "1"


@pytest.fixture(scope="session")
def site_server(tmp_path_factory, docker_engine):
    if scaled_out():
        from website.cluster import Cluster

        cluster = Cluster(tmp_path_factory.mktemp("cluster")).start()
        try:
            yield LiveServer(cluster.url, cluster.env)
        finally:
            cluster.stop()
        return
    folder = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "website.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'live.sqlite3'}",
        "SANDBOX_NAMESPACE": f"e2e-{uuid.uuid4().hex[:8]}",
        "DJANGO_DEBUG": "false",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    log = folder / "daphne.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "website.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_it_answers(port, process, log)
        yield LiveServer(f"http://127.0.0.1:{port}", env)
    finally:
        process.terminate()
        process.wait(timeout=10)
        # The server's warm pool outlives it, as after any stop; reap as a restart would.
        subprocess.run(
            [sys.executable, "manage.py", "reap_sandboxes"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def live_server_url(site_server):
    return site_server.url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is missing: apt-get install chromium", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def serious_accessibility_violations(page) -> list[str]:
    """Run axe-core (from npm) in the page; list serious and critical violations."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci`", pytrace=False)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}×, e.g. {v['nodes'][0]['html'][:120]})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def sign_up(page, base: str, username: str, next_path: str = "/", code: str = "") -> None:
    """Sign up as a student (joining a class if a code is given) and land on `next_path`."""
    page.goto(f"{base}/accounts/signup/?next={next_path}&code={code}")
    page.get_by_label("사용자 이름").fill(username)
    page.get_by_label("비밀번호:", exact=True).fill("a-long-passphrase-42")
    page.get_by_label("비밀번호 확인").fill("a-long-passphrase-42")
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_url(f"{base}{next_path}")


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("사용자 이름").fill(username)
    page.get_by_label("비밀번호").fill(password)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(f"{base}/")
