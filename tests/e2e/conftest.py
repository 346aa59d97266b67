"""The site the browser tests visit (tools/cluster.py), headless Chromium, and helpers."""

from __future__ import annotations

import asyncio
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
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


def scaled_out() -> bool:
    """BAEUM_SCALE_OUT=1 (CI's second pass): the browser tests go through nginx to two web
    workers, with the sandbox supervisor as its own process (tools/cluster.py)."""
    return os.environ.get("BAEUM_SCALE_OUT", "") == "1"


@pytest.fixture(scope="session")
def site_server(tmp_path_factory, docker_engine):
    """The site the browser tests visit: one daphne process by default, or, scaled out, nginx in
    front of two web workers and a separate supervisor (tools/cluster.py either way)."""
    from tools.cluster import Cluster, SingleServer

    shape = Cluster if scaled_out() else SingleServer
    server = shape(tmp_path_factory.mktemp("site")).start()
    try:
        yield server
    finally:
        server.stop()


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


def run_apart(scenario):
    """Run an async scenario (a coroutine function) on a thread of its own and return its
    result: the browser tests' Playwright keeps an event loop running in the main thread, where
    asyncio.run() cannot be called."""
    with ThreadPoolExecutor(1) as apart:
        return apart.submit(asyncio.run, scenario()).result()
