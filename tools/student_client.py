"""A simulated student, over HTTP and websockets only, as a browser would be: sign up or sign in,
open a lesson, press ▶ on an exercise, read the output over the run's websocket.

Used by `make bench-load` (many at once) and the scale-out fault tests. Needs httpx and
websockets (requirements-dev.txt).
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import websockets

PASSWORD = "a-long-passphrase-42"
RUN_SOCKET = re.compile(r'ws-connect="(/ws/runs/([0-9a-f-]{36})/)"')
# A press that found the server full: the queue panel (templates/sandbox/queue_panel.html).
QUEUE_SOCKET = re.compile(r'ws-connect="(/ws/queue/([0-9a-f-]{36})/)"')
AHEAD = re.compile(r"앞에 (\d+)명")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Output frames are htmx out-of-band fragments (templates/sandbox/run_panel.html):
# <pre id="run-<id>-pane-<n>" hx-swap-oob="innerHTML|beforeend"><span>text</span>…</pre>
OUTPUT = re.compile(
    r'<pre id="run-[0-9a-f-]+-pane-(\d+)" hx-swap-oob="(\w+)"><span>(.*?)</span>', re.S
)


class StudentError(Exception):
    """Something a student would have seen as broken (not a refusal in words)."""


@dataclass
class RunResult:
    run_id: str = ""
    refused: str = ""  # a quota or similar refusal, in words: an answer, not an error
    queue_key: str = ""  # the press waited in the run queue
    ahead: list[int] = field(default_factory=list)  # its places, as the queue panel said them
    first_output_seconds: float | None = None
    text: str = ""
    frames: list[str] = field(default_factory=list)
    close_code: int | None = None
    status: str = ""  # the run's last status line, as the page shows it


class Student:
    def __init__(self, base: str, username: str) -> None:
        self.base = base.rstrip("/")
        self.username = username
        self.http = httpx.AsyncClient(base_url=self.base, timeout=60, follow_redirects=True)

    async def close(self) -> None:
        await self.http.aclose()

    async def _form(self, path: str, data: dict) -> httpx.Response:
        page = await self.http.get(path)
        page.raise_for_status()
        token = CSRF_INPUT.search(page.text)
        if token is None:
            raise StudentError(f"no form on {path}")
        response = await self.http.post(
            path,
            data={**data, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": str(page.url)},
        )
        response.raise_for_status()
        return response

    async def sign_up(self) -> None:
        data = {"username": self.username, "password1": PASSWORD, "password2": PASSWORD}
        response = await self._form("/accounts/signup/", data)
        if "sessionid" not in self.http.cookies:
            raise StudentError(f"sign-up of {self.username} failed: {response.status_code}")

    async def sign_in(self) -> None:
        await self._form("/accounts/login/", {"username": self.username, "password": PASSWORD})
        if "sessionid" not in self.http.cookies:
            raise StudentError(f"sign-in of {self.username} failed")

    async def open_lesson(self, slug: str) -> None:
        response = await self.http.get(f"/lessons/{slug}/")
        response.raise_for_status()

    async def press_run(
        self, slug: str, exercise: str, command: str | None = None, wait_in_queue: bool = True
    ) -> RunResult:
        """Press ▶: the panel comes back with the run's socket, or a refusal in words. A press
        that finds the server full waits in the queue, as the page does, until its run starts
        (`wait_in_queue`; otherwise it returns with `queue_key` set)."""
        data = {"command": command} if command is not None else {}
        response = await self.http.post(
            f"/lessons/{slug}/exercises/{exercise}/run/",
            data=data,
            headers={
                "X-CSRFToken": self.http.cookies.get("csrftoken", ""),
                "HX-Request": "true",
                "Referer": f"{self.base}/lessons/{slug}/",
            },
        )
        if response.status_code != 200:
            raise StudentError(f"run refused with HTTP {response.status_code}")
        found = RUN_SOCKET.search(response.text)
        if found is None:
            queued = QUEUE_SOCKET.search(response.text)
            if queued is None:
                return RunResult(refused=_text_of(response.text))
            result = RunResult(queue_key=queued.group(2))
            result.ahead += [int(n) for n in AHEAD.findall(response.text)]
            return await self.wait_in_queue(result) if wait_in_queue else result
        return RunResult(run_id=found.group(2))

    async def wait_in_queue(self, result: RunResult, timeout: float = 330) -> RunResult:
        """Read the queue socket until the run starts (`run_id` set) or the wait ends in words
        (cancelled, expired: `refused` set), reconnecting like the page when it breaks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                async with self.connect(f"/ws/queue/{result.queue_key}/") as socket:
                    async for frame in socket:
                        result.ahead += [int(n) for n in AHEAD.findall(frame)]
                        if started := RUN_SOCKET.search(frame):
                            result.run_id = started.group(2)
                            return result
                        if "hx-swap-oob" in frame and "앞에" not in frame:
                            result.refused = _text_of(frame)
                    if socket.close_code == 4403:
                        raise StudentError("queue socket refused")
                    if socket.close_code == 1000:
                        return result
            except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake):
                pass
            except websockets.ConnectionClosed:
                pass
            await asyncio.sleep(0.5)  # the page waits before it reconnects, too
        raise StudentError(f"queue entry {result.queue_key} did not start within {timeout} s")

    async def cancel_queue(self, result: RunResult) -> str:
        """Press 대기 취소; returns what the panel says."""
        response = await self.http.post(
            f"/runs/queue/{result.queue_key}/cancel/",
            headers={
                "X-CSRFToken": self.http.cookies.get("csrftoken", ""),
                "HX-Request": "true",
                "Referer": f"{self.base}/",
            },
        )
        response.raise_for_status()
        return _text_of(response.text)

    async def run_to_end(self, slug: str, exercise: str, command: str, timeout=60) -> RunResult:
        """Press ▶ and read the run until it ends (raises if the press was refused)."""
        pressed = time.monotonic()
        result = await self.press_run(slug, exercise, command)
        if not result.run_id:
            raise StudentError(f"refused: {result.refused}")
        return await self.read_run(result, pressed, timeout=timeout)

    def socket_url(self, path: str) -> str:
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{path}"

    def connect(self, path: str, open_timeout: float = 10):
        """A websocket to `path` as this student's page opens it (session cookie, origin): await
        it, or use it as `async with`."""
        cookies = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        return websockets.connect(
            self.socket_url(path),
            additional_headers={"Cookie": cookies},
            origin=self.base,
            open_timeout=open_timeout,
        )

    async def read_run(
        self, result: RunResult, pressed_at: float, timeout: float = 120, reconnect=True
    ) -> RunResult:
        """Read the run's socket until it ends (close 1000), reconnecting like the page does
        when the connection breaks; the text is what the page would show."""
        panes: dict[int, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                async with self.connect(f"/ws/runs/{result.run_id}/") as socket:
                    while True:
                        remaining = deadline - time.monotonic()
                        try:
                            frame = await asyncio.wait_for(socket.recv(), max(remaining, 0.1))
                        except TimeoutError:
                            raise StudentError(
                                f"run {result.run_id}: no end in {timeout} s"
                            ) from None
                        result.frames.append(frame)
                        for pane, swap, text in OUTPUT.findall(frame):
                            text = html.unescape(text)
                            index = int(pane)
                            if swap == "innerHTML":
                                panes[index] = text
                            else:
                                panes[index] = panes.get(index, "") + text
                            if text and result.first_output_seconds is None:
                                result.first_output_seconds = time.monotonic() - pressed_at
                result.close_code = socket.close_code
            except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake) as error:
                result.close_code = getattr(error, "code", None)
                if not reconnect:
                    raise StudentError(f"run socket failed: {error}") from error
            except websockets.ConnectionClosed as error:
                result.close_code = error.rcvd.code if error.rcvd else 1006
            if result.close_code == 1000:
                result.text = "".join(panes[i] for i in sorted(panes))
                result.status = _last_status(result.frames)
                return result
            if result.close_code == 4403 or not reconnect:
                raise StudentError(f"run socket closed with {result.close_code}")
            await asyncio.sleep(0.5)  # the page waits before it reconnects, too
        raise StudentError(f"run {result.run_id} did not end within {timeout} s")


def _last_status(frames: list[str]) -> str:
    for frame in reversed(frames):
        if "run-status" in frame:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", frame)).split())[:200]
    return ""


def _text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split("\n")[0].strip()[:200] or "?"
