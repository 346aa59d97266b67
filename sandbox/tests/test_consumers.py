import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from sandbox import events
from sandbox.api import runs
from sandbox.consumers.runs import REFUSED
from sandbox.supervisor import runs as following
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.helpers import spec
from website.routing import websocket_application

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def communicator(run, user) -> WebsocketCommunicator:
    # The real route and middleware; the session is replaced by the user the test names.
    comm = WebsocketCommunicator(
        websocket_application(), f"/ws/runs/{run.id}/", headers=[(b"origin", b"http://localhost")]
    )
    comm.scope["user"] = user
    return comm


async def receive_all(comm: WebsocketCommunicator) -> tuple[list[str], int | None]:
    frames = []
    while True:
        message = await comm.receive_output(timeout=20)
        if message["type"] == "websocket.close":
            return frames, message.get("code")
        frames.append(message["text"])


async def test_the_owner_gets_the_output_and_the_exit_code(alice):
    run = await runs.start_run(spec(alice, "echo one; sleep 0.3; echo two"))
    comm = communicator(run, alice)
    connected, _ = await comm.connect()
    assert connected
    frames, code = await receive_all(comm)
    await comm.disconnect()
    await following.wait_for_all()
    page = "".join(frames)
    assert "one" in page and "two" in page
    assert page.index("one") < page.index("two")
    assert "종료 코드 0" in frames[-1]
    assert code == 1000


async def test_a_late_listener_gets_what_it_missed(alice):
    run = await runs.start_run(spec(alice, "echo early; sleep 0.6; echo late"))
    await following.wait_for_all()
    comm = communicator(run, alice)
    await comm.connect()
    frames, _ = await receive_all(comm)
    await comm.disconnect()
    page = "".join(frames)
    assert "early\nlate" in page


async def test_another_user_is_refused(alice, bob):
    run = await runs.start_run(spec(alice, "echo secret-output; sleep 0.5"))
    comm = communicator(run, bob)
    await comm.connect()
    frames, code = await receive_all(comm)
    await comm.disconnect()
    await following.wait_for_all()
    assert code == REFUSED
    assert "권한이 없어요" in "".join(frames)
    assert "secret-output" not in "".join(frames)


async def test_an_anonymous_socket_is_refused(alice):
    run = await runs.start_run(spec(alice, "echo secret-output"))
    comm = communicator(run, AnonymousUser())
    await comm.connect()
    frames, code = await receive_all(comm)
    await comm.disconnect()
    await following.wait_for_all()
    assert code == REFUSED
    assert "secret-output" not in "".join(frames)


async def test_a_watch_check_registered_by_another_app_lets_a_viewer_in(alice, bob):
    from sandbox import hooks

    def bob_may_watch(user, run) -> bool:
        return user.username == "bob"

    hooks.register_watch_check(bob_may_watch)
    try:
        run = await runs.start_run(spec(alice, "echo shared"))
        comm = communicator(run, await sync_to_async(lambda: bob)())
        await comm.connect()
        frames, code = await receive_all(comm)
        await comm.disconnect()
    finally:
        hooks._watch_checks.remove(bob_may_watch)
        await following.wait_for_all()
    assert code == 1000
    assert "shared" in "".join(frames)


async def _until(comm: WebsocketCommunicator, text: str) -> list[str]:
    frames = []
    while not any(text in frame for frame in frames):
        frames.append((await comm.receive_output(timeout=20))["text"])
    return frames


async def test_a_socket_that_missed_frames_catches_up_from_the_run_log(alice):
    from channels.layers import get_channel_layer

    run = await runs.start_run(spec(alice, "echo first; sleep 1.5; echo second"))
    comm = communicator(run, alice)
    await comm.connect()
    await _until(comm, "first")
    # An event that says frames came before it that this socket never got (a dropped event):
    # the socket shows the log's copy instead, never a gap.
    seq = SUPERVISED.runs[str(run.id)].seq
    await get_channel_layer().group_send(
        events.run_group(run.id),
        {"type": "run.output", "seq": seq + 3, "pane": 0, "text": "BOGUS", "dropped": 0},
    )
    frames, code = await receive_all(comm)
    await following.wait_for_all()
    page = "".join(frames)
    assert "BOGUS" not in page
    assert 'hx-swap-oob="innerHTML"><span>first\n</span>' in page  # replaced from the log
    assert "second" in page and code == 1000


async def test_a_socket_that_missed_the_end_still_ends(alice, monkeypatch):
    from sandbox.consumers import runs as consumers

    monkeypatch.setattr(consumers, "WATCH_SECONDS", 0.3)
    publish = events.publish_run

    async def dropping_the_end(run_id, event):
        if event["type"] != "run.ended":  # as if the end were dropped on the way
            await publish(run_id, event)

    monkeypatch.setattr(events, "publish_run", dropping_the_end)
    run = await runs.start_run(spec(alice, "echo only; sleep 1"))
    comm = communicator(run, alice)
    await comm.connect()
    await following.wait_for_all()
    frames, code = await receive_all(comm)
    assert code == 1000 and "종료 코드 0" in "".join(frames)
