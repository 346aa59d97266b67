"""A supervisor that dies and stays dead (tools/cluster.py's scaled-out shape, a cluster of its
own): an open run socket and an open build socket notice within 10 s, by the heartbeat, and tell
the page in Korean, ending the spinner; when a supervisor is back, the run ends in words and its
socket closes."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import pytest
import websockets

from tests.e2e.test_scale_out_faults import SLUG, run_apart, watch_a_counting_run
from tools.cluster import Cluster

pytestmark = [pytest.mark.docker]

STOPPED = "실습 서버(supervisor)가 멈췄어요"
BUILD_SLUG, BUILD_BLOCK = "docker-08-build-cache", "layer-cache-lab"
SLOW_BUILD = "FROM baeum/lab\nRUN sleep 60\n"
BUILD_SOCKET = re.compile(r'ws-connect="(/ws/builds/([0-9a-f-]{36})/)"')
# The bound: noticed within 10 s of the kill (the heartbeat lives 6 s; sockets look
# every second).
NOTICED_WITHIN = 10.0


@pytest.fixture
def cluster(tmp_path):
    started = Cluster(tmp_path / "cluster").start()
    yield started
    started.stop()


async def start_slow_build(student) -> str:
    """Press 빌드 on a Dockerfile whose RUN step takes a minute; the build's id."""
    response = await student.http.post(
        f"/lessons/{BUILD_SLUG}/builds/{BUILD_BLOCK}/",
        data={"dockerfile": SLOW_BUILD},
        headers={
            "X-CSRFToken": student.http.cookies.get("csrftoken", ""),
            "HX-Request": "true",
            "Referer": f"{student.base}/lessons/{BUILD_SLUG}/",
        },
    )
    response.raise_for_status()
    found = BUILD_SOCKET.search(response.text)
    assert found, response.text[:500]
    return found.group(2)


async def told_within(ws, seconds: float, frames: list[str]) -> str:
    """The first frame saying the supervisor stopped, within `seconds` (else the test fails)."""

    async def told() -> str:
        while True:
            frames.append(await ws.recv())
            if STOPPED in frames[-1]:
                return frames[-1]

    try:
        return await asyncio.wait_for(told(), seconds)
    except TimeoutError:
        pytest.fail(f"not told within {seconds:.1f} s of the kill; got {frames[-3:]}")


def test_a_killed_supervisor_is_said_in_open_run_and_build_sockets_within_ten_seconds(cluster):
    async def scenario():
        student, result, reading, _ = await watch_a_counting_run(cluster, "choi", 300)
        reading.cancel()  # read the socket here instead, frame by frame
        build_id = await start_slow_build(student)
        async with (
            student.connect(f"/ws/runs/{result.run_id}/") as ws,
            student.connect(f"/ws/builds/{build_id}/") as build_ws,
        ):
            first = await asyncio.wait_for(ws.recv(), 10)
            assert "line 1" in first  # the snapshot: the run is live and shown
            await asyncio.wait_for(build_ws.recv(), 10)  # the build's steps so far
            await asyncio.to_thread(cluster.stop_process, "supervisor", signal.SIGKILL)
            killed = time.monotonic()

            frames: list[str] = []
            build_frames: list[str] = []
            frame, build_frame = await asyncio.gather(
                told_within(ws, NOTICED_WITHIN, frames),
                told_within(build_ws, NOTICED_WITHIN, build_frames),
            )
            noticed = time.monotonic() - killed
            print(f"both pages were told {noticed:.1f} s after the kill")
            # It replaces the run's status line: the spinner and the stop button are gone.
            assert f'id="run-{result.run_id}-status"' in frame
            assert "spinner" not in frame and "멈추기" not in frame
            assert "관리자" in frame and "다시" in frame
            assert f'id="build-{build_id}-status"' in build_frame
            assert "spinner" not in build_frame and "빌드를 다시" in build_frame
            assert ws.close_code is None  # still open: it goes on when a supervisor is back

            # A supervisor again: the run it cannot follow ends in words, the socket with it.
            await asyncio.to_thread(cluster.start_supervisor)
            after: list[str] = []
            with pytest.raises(websockets.ConnectionClosedOK):
                while True:
                    after.append(await asyncio.wait_for(ws.recv(), 30))
            assert ws.close_code == 1000
            status = [frame for frame in after if "run-status" in frame][-1]
            assert "다시 시작" in status and "spinner" not in status, after

        again = await student.run_to_end(SLUG, "my-hostname", "echo after")
        assert again.text == "after\n"
        await student.close()

    run_apart(scenario)
