"""The terminal's extensions from the class dashboard (only the class's instructor) and its
comfort settings, saved per student and applied again on the next page (real engine, real
websockets)."""

import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from sandbox.api import terminal_time
from sandbox.models import TerminalPreferences
from sandbox.supervisor import playgrounds
from sandbox.supervisor.state import SUPERVISED
from website.routing import websocket_application

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

LESSON = "/lessons/docker-01-what-is-a-container/"


@pytest.fixture
async def cleanup():
    yield
    await playgrounds.end_all()


async def _client(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


class Screen:
    """The student's terminal socket (sandbox/tests/test_terminal.py has the full one)."""

    def __init__(self, user) -> None:
        self.comm = WebsocketCommunicator(
            websocket_application(), "/ws/terminal/", headers=[(b"origin", b"http://localhost")]
        )
        self.comm.scope["user"] = user

    async def open(self) -> dict:
        connected, _ = await self.comm.connect()
        assert connected
        return await self.next()

    async def next(self) -> dict:
        return await self.comm.receive_json_from(timeout=10)

    async def close(self) -> None:
        await self.comm.disconnect()


def _url(classroom) -> str:
    return f"/classes/{classroom.pk}/terminals/extend/"


async def test_only_the_classs_instructor_extends_its_terminals(
    classroom, teacher, other_teacher, alice, cleanup
):
    screen = Screen(alice)
    hello = await screen.open()
    htmx = {"HX-Request": "true"}
    for refused in (alice, other_teacher):
        response = await (await _client(refused)).post(_url(classroom), headers=htmx)
        assert response.status_code == 403
    assert SUPERVISED.playgrounds[alice.pk].playground.expires_at.timestamp() == hello["expires_at"]
    assert (await AsyncClient().post(_url(classroom))).status_code == 302  # to sign in
    assert (await (await _client(teacher)).get(_url(classroom))).status_code == 405

    dashboard = await (await _client(teacher)).get(f"/classes/{classroom.pk}/")
    assert "모든 학생 터미널 30분 연장" in dashboard.content.decode()
    response = await (await _client(teacher)).post(_url(classroom), headers=htmx)
    assert response.status_code == 200
    assert "터미널 1개를 연장했어요" in response.content.decode()
    told = await screen.next()
    while told["type"] != "extended":
        told = await screen.next()
    assert told["by_class"] is True
    assert told["expires_at"] == pytest.approx(hello["expires_at"] + 30 * 60)
    assert await terminal_time.left_today(alice.pk) == 4  # not the student's own
    await screen.close()


async def _tools(client) -> str:
    """The toolbar's opening tag on the lesson page: the preferences it starts with."""
    page = (await client.get(LESSON)).content.decode()
    return re.search(r"<div class=\"terminal-tools\"[^>]*>", page).group(0)


async def test_preferences_are_saved_and_come_back_on_the_next_page(alice, bob):
    client = await _client(alice)
    tools = await _tools(client)
    assert 'data-font-size="14"' in tools and "data-high-contrast" not in tools
    assert "data-screen-reader" in tools  # on unless the student turns it off
    response = await client.post(
        "/terminal/preferences/", {"font_size": "18", "high_contrast": "1", "screen_reader": "0"}
    )
    assert response.status_code == 200 and response.json()["font_size"] == 18
    tools = await _tools(await _client(alice))  # another computer
    assert 'data-font-size="18"' in tools and "data-high-contrast" in tools
    assert "data-screen-reader" not in tools
    page = (await (await _client(alice)).get(LESSON)).content.decode()
    assert 'aria-pressed="true">고대비' in page
    # A number not offered becomes the nearest one offered; bob's are his own.
    await client.post("/terminal/preferences/", {"font_size": "200"})
    prefs = await TerminalPreferences.objects.aget(owner=alice)
    assert prefs.font_size == 28 and prefs.high_contrast is True
    assert 'data-font-size="14"' in await _tools(await _client(bob))


async def test_preferences_need_a_signed_in_post_with_the_token(alice):
    assert (
        await AsyncClient().post("/terminal/preferences/", {"font_size": "18"})
    ).status_code == 403
    strict = AsyncClient(enforce_csrf_checks=True)
    await strict.aforce_login(alice)
    assert (await strict.post("/terminal/preferences/", {"font_size": "18"})).status_code == 403
    assert (await (await _client(alice)).get("/terminal/preferences/")).status_code == 405
    assert not await sync_to_async(TerminalPreferences.objects.filter(owner=alice).exists)()
