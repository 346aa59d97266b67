"""The hand-over between a container's reader thread and the relay, when the relay falls behind."""

import asyncio

from sandbox.supervisor.pipe import OutputPipe


async def _fill(keep: str) -> tuple[bytes, int, bool]:
    pipe = OutputPipe(asyncio.get_running_loop(), limit=1000, keep=keep)
    for _ in range(30):
        pipe.put(b"y\n" * 50)  # a flood the relay has not read: 3000 bytes
    pipe.put(b"$ done\n")
    return await pipe.take(timeout=1)


async def test_a_terminal_keeps_the_end_of_a_flood_where_the_prompt_is():
    data, dropped, eof = await _fill("newest")
    assert data.endswith(b"$ done\n") and len(data) == 1000
    assert dropped == 3007 - 1000 and not eof


async def test_a_run_keeps_the_start_of_its_output():
    data, dropped, _ = await _fill("oldest")
    assert data == b"y\n" * 500 and dropped == 3007 - 1000


async def test_what_was_taken_makes_room_again():
    pipe = OutputPipe(asyncio.get_running_loop(), limit=10, keep="newest")
    pipe.put(b"0123456789abc")
    assert await pipe.take(timeout=1) == (b"3456789abc", 3, False)
    pipe.put(b"xy")
    pipe.close()
    assert await pipe.take(timeout=1) == (b"xy", 0, True)
