"""A supervisor that dies and stays dead (website/cluster.py's scaled-out shape, a cluster of its
own): the open run socket notices within 10 s, by the heartbeat, and tells the page in Korean,
ending the spinner; when a supervisor is back, the run ends in words and the socket closes."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import websockets

from tests.e2e.test_scale_out_faults import SLUG, run_apart, watch_a_counting_run
from website.cluster import Cluster

pytestmark = [pytest.mark.docker]

STOPPED = "실습 서버(supervisor)가 멈췄어요"
# The bound: noticed within 10 s of the kill (the heartbeat lives 6 s; sockets look
# every second).
NOTICED_WITHIN = 10.0


@pytest.fixture
def cluster(tmp_path):
    started = Cluster(tmp_path / "cluster").start()
    yield started
    started.stop()


def test_a_killed_supervisor_is_said_in_the_open_run_socket_within_ten_seconds(cluster):
    async def scenario():
        student, result, reading, _ = await watch_a_counting_run(cluster, "choi", 300)
        reading.cancel()  # read the socket here instead, frame by frame
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in student.http.cookies.items())}
        url = student.socket_url(f"/ws/runs/{result.run_id}/")
        async with websockets.connect(url, additional_headers=headers, origin=student.base) as ws:
            first = await asyncio.wait_for(ws.recv(), 10)
            assert "line 1" in first  # the snapshot: the run is live and shown
            await asyncio.to_thread(cluster.stop_process, "supervisor", signal.SIGKILL)
            killed = time.monotonic()

            frames: list[str] = []

            async def told() -> str:
                while True:
                    frame = await ws.recv()
                    frames.append(frame)
                    if STOPPED in frame:
                        return frame

            try:
                frame = await asyncio.wait_for(told(), NOTICED_WITHIN)
            except TimeoutError:
                pytest.fail(f"not told within {NOTICED_WITHIN} s of the kill; got {frames[-3:]}")
            noticed = time.monotonic() - killed
            print(f"the page was told {noticed:.1f} s after the kill")
            # It replaces the run's status line: the spinner and the stop button are gone.
            assert f'id="run-{result.run_id}-status"' in frame
            assert "spinner" not in frame and "멈추기" not in frame
            assert "관리자" in frame and "다시" in frame
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
