"""연장: a terminal extended through its socket, on the real engine, inside and with the separate
supervisor; the supervisor's expiry task honours the new end; the daily cap."""

import asyncio
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from sandbox.api import terminal_time
from sandbox.models import Playground, TerminalExtension
from sandbox.supervisor import playgrounds
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.helpers import separate_supervisor
from sandbox.tests.test_scale_out import redis_url  # noqa: F401 (a fixture)
from sandbox.tests.test_terminal import Screen

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def cleanup():
    yield
    await playgrounds.end_all()


async def _extend(screen: Screen) -> dict:
    await screen.comm.send_json_to({"type": "extend"})
    while True:
        message = await screen.next()
        if message["type"] in ("extended", "extend_refused", "closed"):
            return message


async def test_extend_moves_the_end_for_every_tab_and_the_supervisor_honours_it(alice, cleanup):
    with override_settings(SANDBOX_PLAYGROUND_SECONDS=3):
        first, second = Screen(alice), Screen(alice)
        hello = await first.open()
        assert hello["extensions_left"] == 4  # the default cap
        await second.open()
        before = SUPERVISED.playgrounds[alice.pk].playground.expires_at
        extended = await _extend(first)
        assert extended["type"] == "extended" and extended["by_class"] is False
        assert extended["extensions_left"] == 3
        after = before + timedelta(seconds=3)
        assert abs(extended["expires_at"] - after.timestamp()) < 0.01
        assert extended["until"] == timezone.localtime(after).strftime("%H:%M")
        told = await second.next()
        while told["type"] == "output":
            told = await second.next()
        assert told["type"] == "extended" and told["expires_at"] == extended["expires_at"]
        row = await Playground.objects.aget(owner=alice)
        assert row.expires_at == after  # the row too: a reopened tab reads it
        # Past the first end the supervisor's expiry task keeps it; past the new one it ends.
        await asyncio.sleep(max(0, before.timestamp() - timezone.now().timestamp()) + 0.3)
        assert await playgrounds.expire_due() == 0 and alice.pk in SUPERVISED.playgrounds
        await asyncio.sleep(max(0, after.timestamp() - timezone.now().timestamp()) + 0.3)
        assert await playgrounds.expire_due() == 1 and alice.pk not in SUPERVISED.playgrounds
        while first.messages[-1]["type"] not in ("ended", "closed"):
            await first.next()
        await second.close()


async def test_more_than_a_lifetime_left_is_refused_in_words(alice, cleanup):
    screen = Screen(alice)
    await screen.open()
    assert (await _extend(screen))["type"] == "extended"  # 30 min left: 60 now
    refused = await _extend(screen)
    assert refused["type"] == "extend_refused" and "남은 시간이 30분 이하" in refused["message"]
    assert await TerminalExtension.objects.filter(owner=alice).acount() == 1
    await screen.close()


async def test_the_daily_cap_is_refused_and_yesterday_does_not_count(alice, cleanup):
    with override_settings(SANDBOX_PLAYGROUND_EXTENSIONS_PER_DAY=2):
        screen = Screen(alice)
        await screen.open()
        playground = SUPERVISED.playgrounds[alice.pk].playground
        yesterday = await TerminalExtension.objects.acreate(
            owner=alice, playground=playground, by=alice, expires_at=playground.expires_at
        )
        yesterday.created_at = terminal_time._start_of_today() - timedelta(minutes=1)
        await yesterday.asave(update_fields=["created_at"])
        for _ in range(2):  # today's two
            await TerminalExtension.objects.acreate(
                owner=alice, playground=playground, by=alice, expires_at=playground.expires_at
            )
        # Not counted: an instructor's class extension.
        await TerminalExtension.objects.acreate(
            owner=alice, playground=playground, counted=False, expires_at=playground.expires_at
        )
        assert await terminal_time.left_today(alice.pk) == 0
        end = playground.expires_at
        refused = await _extend(screen)
        assert refused["type"] == "extend_refused"
        assert refused["message"].startswith("오늘은 터미널을 2번 모두 연장했어요")
        assert SUPERVISED.playgrounds[alice.pk].playground.expires_at == end
        await screen.close()


async def test_a_class_extension_is_not_counted_and_needs_an_open_terminal(alice, bob, cleanup):
    screen = Screen(alice)
    await screen.open()
    answer = await terminal_time.request_extend_many([alice.pk, bob.pk], bob.pk)
    assert answer == {"extended": 1, "skipped": 0}  # bob has no terminal open
    told = await _extend_event(screen)
    assert told["by_class"] is True and told["extensions_left"] == 4
    assert await terminal_time.left_today(alice.pk) == 4
    again = await terminal_time.request_extend_many([alice.pk], bob.pk)
    assert again == {"extended": 0, "skipped": 1}  # 60 minutes left: not stacked further
    await screen.close()


async def _extend_event(screen: Screen) -> dict:
    message = await screen.next()
    while message["type"] != "extended":
        message = await screen.next()
    return message


async def test_with_the_separate_supervisor_the_supervisor_decides(
    alice,
    cleanup,
    redis_url,  # noqa: F811
    settings,
):
    settings.SANDBOX_SUPERVISOR = "separate"
    settings.SANDBOX_PLAYGROUND_SECONDS = 4
    async with separate_supervisor():
        screen = Screen(alice)
        hello = await screen.open()
        extended = await _extend(screen)
        assert extended["type"] == "extended"
        assert abs(extended["expires_at"] - (hello["expires_at"] + 4)) < 0.01
        refused = await _extend(screen)  # 8 s left > the 4 s lifetime
        assert refused["type"] == "extend_refused"
        await asyncio.sleep(max(0, hello["expires_at"] - timezone.now().timestamp()) + 0.3)
        assert await playgrounds.expire_due() == 0 and alice.pk in SUPERVISED.playgrounds
        await screen.close()
