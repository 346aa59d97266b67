"""A student's persistent /work on the real engine, through the real terminal socket: saved
when the terminal ends and while it lives, restored (and said so) by the next one, capped,
expired, emptied by the student or their instructor, and never anyone else's."""

import asyncio
import io
import os
import tarfile
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, override_settings
from django.utils import timezone

from sandbox import engine
from sandbox.models import Workspace
from sandbox.supervisor import playgrounds, reaper, workspaces
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.test_terminal import Screen

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def workspace_dir(settings, tmp_path):
    settings.SANDBOX_WORKSPACE_DIR = tmp_path / "workspaces"
    return settings.SANDBOX_WORKSPACE_DIR


@pytest.fixture
async def cleanup():
    yield
    await playgrounds.end_all()


async def write_and_exit(user, line: str) -> None:
    screen = Screen(user)
    await screen.open()
    await screen.wait_for("$ ")
    await screen.type(f"{line}; echo wrote-$((3*3))\r")
    await screen.wait_for("wrote-9")
    await screen.type("exit\r")
    while screen.messages[-1]["type"] != "ended":
        await screen.next()
    assert screen.messages[-1]["reason"] == "셸이 끝났어요."
    await screen.close()


async def read_back(user, command: str, needle: str) -> Screen:
    screen = Screen(user)
    await screen.open()
    await screen.type(f"{command}; echo read-$((2+5))\r")
    await screen.wait_for("read-7")
    assert needle in screen.text, screen.text
    return screen


async def test_work_survives_the_shell_exiting_and_the_next_terminal_says_so(alice, cleanup):
    await write_and_exit(alice, "mkdir -p /work/proj && echo kept-$((6*7)) > /work/proj/notes")
    assert alice.pk not in SUPERVISED.playgrounds
    saved = await Workspace.objects.aget(owner=alice)
    assert saved.bytes > 0 and saved.saved_at and "wrote-9" in saved.scrollback
    assert workspaces.tar_path(alice.pk).exists()
    screen = await read_back(alice, "cat /work/proj/notes", "kept-42")
    assert "이어서 열었어요" in screen.messages[0]["scrollback"]
    await screen.close()


async def test_work_survives_the_idle_end(alice, cleanup):
    screen = Screen(alice)
    await screen.open()
    await screen.type("echo idle-$((2*2)) > /work/idle; echo ok-$((1+1))\r")
    await screen.wait_for("ok-2")
    await screen.close()
    with override_settings(SANDBOX_PLAYGROUND_IDLE_SECONDS=0):
        assert await playgrounds.expire_due() == 1
    screen = await read_back(alice, "cat /work/idle", "idle-4")
    await screen.close()


async def test_a_live_terminal_is_saved_periodically_so_a_lost_container_loses_little(
    alice, cleanup
):
    screen = Screen(alice)
    await screen.open()
    await screen.type("echo periodic-$((5*5)) > /work/p; echo ok-$((1+2))\r")
    await screen.wait_for("ok-3")
    with override_settings(SANDBOX_WORKSPACE_SAVE_SECONDS=0):
        assert await playgrounds.save_due() == 1
        assert await playgrounds.save_due() == 0  # nothing typed since
    # The container is taken away behind the server's back: the periodic save is what is left.
    await asyncio.to_thread(engine.remove, SUPERVISED.playgrounds[alice.pk].playground.container_id)
    while screen.messages[-1]["type"] != "ended":
        await screen.next()
    await screen.close()
    screen = await read_back(alice, "cat /work/p", "periodic-25")
    await screen.close()


async def test_a_clean_shutdown_saves_every_terminal(alice, bob, cleanup):
    screens = []
    for user, word in ((alice, "alpha"), (bob, "bravo")):
        screen = Screen(user)
        await screen.open()
        await screen.type(f"echo {word} > /work/w; echo ok-$((4+4))\r")
        await screen.wait_for("ok-8")
        screens.append(screen)
    await playgrounds.save_all()
    for user, word in ((alice, "alpha"), (bob, "bravo")):
        with tarfile.open(workspaces.tar_path(user.pk)) as tar:
            assert tar.extractfile("./w").read() == f"{word}\n".encode()
    for screen in screens:
        await screen.close()


async def test_a_failed_save_keeps_the_previous_tar_and_says_so(alice, cleanup):
    await write_and_exit(alice, "echo first > /work/f")
    before = workspaces.tar_path(alice.pk).read_bytes()
    # The engine does not answer at all:
    with engine.use("unix:///nonexistent/docker.sock"):
        message = await workspaces.save(alice.pk, "f" * 64, None, "screen")
    assert "그대로" in message
    # The engine answers, but the container is gone:
    message = await workspaces.save(alice.pk, "f" * 64, None, "screen")
    assert "그대로" in message
    assert workspaces.tar_path(alice.pk).read_bytes() == before
    assert not list(workspaces.directory().glob(".*.tmp"))
    saved = await Workspace.objects.aget(owner=alice)
    assert saved.message and saved.bytes == len(before)


async def test_work_is_capped_and_the_cap_is_said(alice, cleanup, settings):
    settings.SANDBOX_WORKSPACE_BYTES = 4 * 2**20
    screen = Screen(alice)
    await screen.open()
    await screen.type(
        "dd if=/dev/zero of=/work/big bs=1M count=8 2>&1 | tail -1; df -k /work | tail -1; echo full-$((2+3))\r"
    )
    await screen.wait_for("full-5")
    assert "100% /work" in screen.text  # full at the cap, nothing past it
    # The periodic save says so in the terminal, with the cap.
    with override_settings(SANDBOX_WORKSPACE_SAVE_SECONDS=0):
        assert await playgrounds.save_due() == 1
    await screen.wait_for("거의 가득 찼어요. 4 MiB까지만")
    panel = await (await _client(alice)).get("/terminal/workspace/")
    assert "4 MiB까지만" in panel.content.decode()
    await screen.close()
    await playgrounds.end(SUPERVISED.playgrounds[alice.pk], "test")
    saved = await Workspace.objects.aget(owner=alice)
    assert 4 * 2**20 <= saved.bytes <= workspaces.archive_limit()
    # A stored tar over the cap (put there by hand) is refused, kept, and said so.
    workspaces.tar_path(alice.pk).write_bytes(b"\0" * (workspaces.archive_limit() + 1))
    screen = Screen(alice)
    hello = await screen.open()
    assert "4 MiB보다 커서" in hello["scrollback"]
    assert workspaces.tar_path(alice.pk).stat().st_size == workspaces.archive_limit() + 1
    await screen.close()


async def test_the_memory_limit_leaves_room_for_a_full_work(alice, cleanup, settings):
    screen = Screen(alice)
    await screen.open()
    details = await asyncio.to_thread(
        engine.inspect, SUPERVISED.playgrounds[alice.pk].playground.container_id
    )
    work = details["HostConfig"]["Tmpfs"]["/work"]
    cap = settings.SANDBOX_WORKSPACE_BYTES
    assert f"size={cap}" in work
    assert details["HostConfig"]["Memory"] == engine.parse_bytes(settings.SANDBOX_MEMORY) + cap
    await screen.close()


async def test_expired_workspaces_are_deleted_and_open_ones_kept(alice, bob, cleanup, settings):
    await write_and_exit(alice, "echo old > /work/o")
    await write_and_exit(bob, "echo old > /work/o")
    old = timezone.now() - timedelta(days=settings.SANDBOX_WORKSPACE_DAYS, minutes=1)
    await Workspace.objects.aupdate(last_used_at=old)
    screen = Screen(bob)  # bob has a terminal open: his is in use
    await screen.open()
    await Workspace.objects.filter(owner=bob).aupdate(last_used_at=old)
    # A save cut off by a killed process left its tmp file an hour ago.
    partial = workspaces.directory() / f".u{alice.pk}.tar.cafe.tmp"
    partial.write_bytes(b"half")
    os.utime(partial, (time.time() - 3700, time.time() - 3700))
    await asyncio.to_thread(reaper.reap_everywhere, 0)
    assert not workspaces.tar_path(alice.pk).exists() and not partial.exists()
    assert not await Workspace.objects.filter(owner=alice).aexists()
    assert workspaces.tar_path(bob.pk).exists()
    await screen.close()


async def _client(user) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    return client


async def test_the_student_resets_after_confirming(alice, cleanup):
    await write_and_exit(alice, "echo gone > /work/g")
    client = await _client(alice)
    refused = await client.post("/terminal/workspace/reset/")
    assert refused.status_code == 400 and "확인란" in refused.content.decode()
    assert workspaces.tar_path(alice.pk).exists()
    # With a terminal open: it ends, says why, and the next one starts empty.
    screen = Screen(alice)
    await screen.open()
    done = await client.post("/terminal/workspace/reset/", {"confirm": "yes"})
    assert done.status_code == 200 and "비웠어요" in done.content.decode()
    while screen.messages[-1]["type"] != "ended":
        await screen.next()
    assert "비웠어요" in screen.messages[-1]["reason"]
    await screen.close()
    assert not workspaces.tar_path(alice.pk).exists()
    screen = await read_back(alice, "ls -A /work | wc -l", "0\r\n")
    assert "이어서 열었어요" not in screen.text
    await screen.close()


async def test_another_student_never_reaches_my_workspace(alice, bob, cleanup):
    await write_and_exit(alice, "echo secret-$((7*6)) > /work/s")
    client = await _client(bob)
    # Bob's own pages show Bob's own (nothing); no URL takes an owner.
    page = await client.get("/terminal/last-session/")
    assert page.status_code == 200 and "secret" not in page.content.decode()
    panel = await client.get("/terminal/workspace/")
    assert "secret" not in panel.content.decode() and "마지막 저장" not in panel.content.decode()
    assert (await client.post("/terminal/workspace/reset/", {"confirm": "yes"})).status_code == 200
    assert workspaces.tar_path(alice.pk).exists()
    # Bob's terminal starts with his own (empty) /work, not Alice's.
    screen = await read_back(bob, "ls -A /work | wc -l; cat /work/s 2>&1", "No such file")
    assert "secret-42" not in screen.text and "이어서 열었어요" not in screen.text
    await screen.close()
    # Anonymous: refused.
    anonymous = AsyncClient()
    assert (
        await anonymous.post("/terminal/workspace/reset/", {"confirm": "yes"})
    ).status_code == 403
    assert (await anonymous.get("/terminal/last-session/")).status_code == 302
    # Alice reads her own last session.
    page = await (await _client(alice)).get("/terminal/last-session/")
    assert "echo secret-$((7*6)) &gt; /work/s" in page.content.decode()


async def test_a_hostile_archive_only_touches_its_own_work(alice, bob, cleanup):
    """A tar naming paths outside /work (absolute, ..) is extracted by the student's own user
    in their own container: it cannot write anywhere else."""
    await write_and_exit(alice, "true")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in ("../../etc/evil", "/tmp/../etc/evil2", "./ok"):
            data = b"x\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    workspaces.tar_path(alice.pk).write_bytes(archive.getvalue())
    screen = await read_back(alice, "ls /etc/evil /etc/evil2 2>&1; cat /work/ok", "x\r\n")
    assert "/etc/evil:" in screen.text or "No such file" in screen.text
    await screen.close()
