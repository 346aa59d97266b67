"""The terminal, driven through its websocket as a browser would, on the real engine."""

import asyncio
import json
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from sandbox import engine, hooks
from sandbox.api import playgrounds as api_playgrounds
from sandbox.models import Playground
from sandbox.supervisor import playgrounds
from sandbox.supervisor.state import SUPERVISED
from website.routing import websocket_application

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


class Screen:
    """A terminal socket and everything it has shown."""

    def __init__(self, user, path="/ws/terminal/") -> None:
        self.comm = WebsocketCommunicator(
            websocket_application(), path, headers=[(b"origin", b"http://localhost")]
        )
        self.comm.scope["user"] = user
        self.text = ""
        self.messages: list[dict] = []

    async def open(self) -> dict:
        connected, _ = await self.comm.connect()
        assert connected
        return await self.next()

    async def next(self, timeout: float = 10) -> dict:
        message = await self.comm.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            payload = {"type": "closed", "code": message.get("code")}
        else:
            payload = json.loads(message["text"])
        self.messages.append(payload)
        if payload["type"] == "output":
            self.text += payload["data"]
        if payload["type"] == "hello":
            self.text += payload["scrollback"]
        return payload

    async def type(self, keys: str) -> None:
        await self.comm.send_to(text_data=json.dumps({"type": "input", "data": keys}))

    async def wait_for(self, needle: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            await self.next(timeout=max(0.1, deadline - time.monotonic()))

    async def close(self) -> None:
        await self.comm.disconnect()


@pytest.fixture
async def cleanup():
    yield
    await playgrounds.end_all()


async def test_a_student_types_and_sees_the_answer(alice, cleanup):
    screen = Screen(alice)
    hello = await screen.open()
    assert hello["type"] == "hello" and hello["read_only"] is False
    await screen.wait_for("$ ")
    await screen.type("echo $((6*7))\r")
    await screen.wait_for("42\r\n")
    await screen.close()


async def test_reattaching_finds_the_same_playground_and_its_screen(alice, cleanup):
    first = Screen(alice)
    await first.open()
    await first.type("echo marker-$((1+2))\r")
    await first.wait_for("marker-3")
    await first.close()
    again = Screen(alice)
    hello = await again.open()
    assert "marker-3" in hello["scrollback"]
    assert await Playground.objects.filter(owner=alice).acount() == 1
    await again.close()


async def test_a_screen_that_missed_output_is_redrawn_from_the_scrollback(alice, cleanup):
    from channels.layers import get_channel_layer

    screen = Screen(alice)
    await screen.open()
    await screen.type("echo kept-$((2+3))\r")
    await screen.wait_for("kept-5")
    live = SUPERVISED.playgrounds[alice.pk]
    # A frame numbered past one this screen never got (a dropped event): it redraws.
    await get_channel_layer().group_send(
        api_playgrounds.group_name(alice.pk),
        {"type": "terminal.output", "data": "BOGUS", "seq": live.seq + 2},
    )
    redrawn = await screen.next()
    while redrawn["type"] == "output":  # the shell's own frames may still be on their way
        redrawn = await screen.next()
    assert redrawn["type"] == "hello" and "kept-5" in redrawn["scrollback"]
    assert "BOGUS" not in screen.text
    await screen.close()


async def test_another_user_and_anonymous_are_refused(alice, bob, cleanup):
    mine = Screen(alice)
    await mine.open()
    playground = SUPERVISED.playgrounds[alice.pk].playground
    for intruder in (bob, AnonymousUser()):
        screen = Screen(intruder, f"/ws/terminal/{playground.id}/watch/")
        await screen.open()
        assert screen.messages[-1]["type"] == "error"
        assert (await screen.next())["code"] == 4403
    await mine.close()


async def test_a_watcher_sees_but_cannot_type(alice, bob, cleanup):
    def bob_watches(user, subject) -> bool:
        return user.username == "bob"

    hooks.register_watch_check(bob_watches)
    try:
        mine = Screen(alice)
        await mine.open()
        await mine.wait_for("$ ")
        playground = SUPERVISED.playgrounds[alice.pk].playground
        watcher = Screen(bob, f"/ws/terminal/{playground.id}/watch/")
        hello = await watcher.open()
        assert hello["read_only"] is True
        await watcher.type("echo intruder-$((2+2))\r")
        await mine.type("echo owner-$((3+3))\r")
        await watcher.wait_for("owner-6")
        assert "intruder-4" not in watcher.text and "intruder" not in mine.text
        await watcher.close()
        await mine.close()
    finally:
        hooks._watch_checks.remove(bob_watches)


async def test_oversized_input_is_refused_without_ending_the_session(alice, cleanup):
    screen = Screen(alice)
    await screen.open()
    await screen.type("x" * (api_playgrounds.MAX_INPUT_CHARS + 1))
    while screen.messages[-1]["type"] != "error":
        await screen.next()
    assert "4096" in screen.messages[-1]["message"]
    await screen.type("echo still-$((5*5))\r")
    await screen.wait_for("still-25")
    await screen.close()


async def test_a_fork_bomb_a_memory_hog_a_full_home_and_a_flood_stay_inside(alice, bob, cleanup):
    victim = Screen(alice)
    await victim.open()
    neighbour = Screen(bob)
    await neighbour.open()
    await victim.wait_for("$ ")
    # Each is confined by the playground's limits; each ends, and the shell survives.
    await victim.type("b(){ b|b& }; b 2>/dev/null; sleep 2; echo bomb-$((1+1))-done\r")
    await victim.wait_for("bomb-2-done", timeout=30)
    await victim.type("awk 'BEGIN{s=\"x\"; while(1){s=s s}}'; echo hog-$((2+1))-done\r")
    await victim.wait_for("hog-3-done", timeout=30)
    await victim.type(
        # 15 MiB a file (the fsize limit is 16 MiB), until /work is full at its cap.
        "for i in 1 2 3 4 5; do dd if=/dev/zero of=/work/fill$i bs=1M count=15 2>&1 | tail -1; done; df -h /work | tail -1; echo fill-$((2+2))-done\r"
    )
    await victim.wait_for("fill-4-done", timeout=30)
    assert "100% /work" in victim.text  # the home is full at its cap, nothing past it
    await victim.type("timeout 3 yes flood; echo flood-$((1+4))-done\r")
    await victim.wait_for("flood-5-done", timeout=30)
    await victim.type("wget -q -O- http://example.com/ 2>&1 | head -1; echo net-$((3+3))-done\r")
    await victim.wait_for("net-6-done", timeout=30)
    assert "bad address" in victim.text or "Network is unreachable" in victim.text
    # The neighbour's terminal answered all along.
    started = time.monotonic()
    await neighbour.type("echo fine-$((4+4))\r")
    await neighbour.wait_for("fine-8")
    assert time.monotonic() - started < 5
    await victim.close()
    await neighbour.close()


async def test_an_unused_playground_is_ended_and_its_container_removed(alice, cleanup):
    with override_settings(SANDBOX_PLAYGROUND_IDLE_SECONDS=0):
        screen = Screen(alice)
        await screen.open()
        container = SUPERVISED.playgrounds[alice.pk].playground.container_id
        await screen.close()
        assert await playgrounds.expire_due() == 1
    assert alice.pk not in SUPERVISED.playgrounds
    assert container not in {c.id for c in engine.labelled_containers()}
    playground = await Playground.objects.aget(owner=alice)
    assert playground.ended_at and "오래" in playground.end_reason


async def test_an_expired_playground_tells_its_tab(alice, cleanup):
    with override_settings(SANDBOX_PLAYGROUND_SECONDS=1):
        screen = Screen(alice)
        await screen.open()
        await asyncio.sleep(1.2)
        await playgrounds.expire_due()
        while screen.messages[-1]["type"] not in ("ended", "closed"):
            await screen.next()
        assert "시간" in screen.messages[-1].get("reason", "시간")


async def test_ctrl_c_interrupts_and_a_resize_reaches_the_tty(alice, cleanup):
    screen = Screen(alice)
    await screen.open()
    await screen.wait_for("$ ")
    await screen.type("sleep 100\r")
    await asyncio.sleep(0.5)
    started = time.monotonic()
    await screen.type("\x03")
    await screen.type("echo after-$((1+1))\r")
    await screen.wait_for("after-2")
    assert time.monotonic() - started < 5
    await screen.comm.send_to(text_data=json.dumps({"type": "resize", "rows": 30, "cols": 100}))
    await asyncio.sleep(0.3)
    await screen.type("stty size\r")
    await screen.wait_for("30 100")
    await screen.close()


async def test_a_removed_playground_is_replaced_at_once_from_a_new_tab(alice, cleanup):
    # The container goes behind the server's back (`docker rm -f`, another deployment's reaper,
    # an engine restart): the next open, from any tab, gets a working shell at once.
    old = Screen(alice)
    await old.open()
    await old.type("echo before-$((1+1))\r")
    await old.wait_for("before-2")
    gone = SUPERVISED.playgrounds[alice.pk].playground.container_id
    await asyncio.to_thread(engine.remove, gone)
    fresh = Screen(alice)
    started = time.monotonic()
    hello = await fresh.open()
    assert hello["type"] == "hello", fresh.messages
    await fresh.type("echo after-$((2+3))\r")
    await fresh.wait_for("after-5", timeout=10)
    assert time.monotonic() - started < 5
    assert SUPERVISED.playgrounds[alice.pk].playground.container_id != gone
    # The old tab was told, in words, and nothing of the engine's own text.
    while old.messages[-1]["type"] not in ("ended", "closed"):
        await old.next()
    said = json.dumps(old.messages, ensure_ascii=False)
    assert "터미널" in said or "셸" in said
    for raw in (gone[:12], "No such container", "APIError", "Traceback"):
        assert raw not in said
    await fresh.close()


async def test_a_gone_container_its_relay_has_not_noticed_is_never_handed_to_a_tab(alice, cleanup):
    # The relay may not have seen the end of the stream yet (or never will: an attach kept open
    # by a proxy): the open path asks the engine itself.
    old = Screen(alice)
    await old.open()
    live = SUPERVISED.playgrounds[alice.pk]
    live.relay.cancel()  # deaf: this relay notices nothing any more
    await asyncio.wait([live.relay], timeout=10)  # its clean-up may take a moment under load
    assert live.relay.cancelled(), live.relay
    await asyncio.to_thread(engine.remove, live.playground.container_id)
    fresh = Screen(alice)
    assert (await fresh.open())["type"] == "hello"
    assert SUPERVISED.playgrounds[alice.pk] is not live
    await fresh.type("echo works-$((4+5))\r")
    await fresh.wait_for("works-9", timeout=10)
    ended = await Playground.objects.aget(pk=live.playground.pk)
    assert ended.ended_at and "사라졌어요" in ended.end_reason
    while old.messages[-1]["type"] not in ("ended", "closed"):
        await old.next()
    assert "사라졌어요" in old.messages[-1].get("reason", old.messages[-2].get("reason", ""))
    await fresh.close()


async def test_the_ending_of_an_old_playground_does_not_close_its_replacements_tab(alice, cleanup):
    from channels.layers import get_channel_layer

    screen = Screen(alice)
    await screen.open()
    await get_channel_layer().group_send(
        api_playgrounds.group_name(alice.pk),
        {"type": "terminal.ended", "reason": "셸이 끝났어요.", "id": "an-older-one"},
    )
    await screen.type("echo alive-$((1+6))\r")
    await screen.wait_for("alive-7")
    assert all(m["type"] != "ended" for m in screen.messages)
    await screen.close()
