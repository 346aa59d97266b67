"""The Docker gate's HTTP plumbing (h11), knowing nothing of students: a request read from the
CLI within its limits, an answer of the gate's own, and a request relayed to the engine over a
raw connection with its answer back (whole and rewritten, streamed, or upgraded and piped both
ways). What is allowed and how it is rewritten is docker_gate's and docker_policy's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

import h11

from sandbox.engine import passthrough

MAX_BODY = 64 * 1024  # a request's JSON body
MAX_BUILD_BODY = 1024 * 1024 + 64 * 1024  # a build's context (docker_images.MAX_CONTEXT_BYTES)
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"upgrade"}


@dataclass(frozen=True)
class Forward:
    """A request relayed to the engine, as the gate rebuilt it."""

    method: str
    path: str  # with the query
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()  # the gate's own (a push's X-Registry-Auth)


@dataclass(frozen=True)
class Answer:
    """What the gate answers itself (a refusal with the engine's own words, a summary)."""

    status: int
    body: object


async def read_request(
    client: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes] | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            client.receive_data(data)
            if not data and head is None:
                return None
            continue
        if isinstance(event, h11.ConnectionClosed):
            return None
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            limit = (
                MAX_BUILD_BODY
                if head and head.target.split(b"?")[0].endswith(b"/build")
                else MAX_BODY
            )
            if len(body) > limit:
                raise h11.ProtocolError("body too large")
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return head, bytes(body)


async def send_json(
    client: h11.Connection, writer: asyncio.StreamWriter, status: int, body: object
) -> None:
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    writer.write(client.send(h11.Response(status_code=status, headers=headers)))
    writer.write(client.send(h11.Data(data=data)) if data else b"")
    writer.write(client.send(h11.EndOfMessage()))
    await writer.drain()


async def relay(
    client: h11.Connection,
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    forward: Forward,
    upgrade: bool,
    rewrite: Callable[[int, bytes], bytes],
    whole: bool,
    each: Callable[[bytes], bytes] | None = None,
    deadline: float | None = None,
    past_deadline: bytes = b"",
) -> bool:
    """Send `forward` to the engine and its answer to the CLI; True when the connection was
    upgraded (an attach or exec: relayed both ways, and then over). An answer that is `whole`,
    or an error, is read to its end and passed through `rewrite(status, body)`; any other is
    streamed as it comes (logs -f, wait, a build's progress), each piece through `each`; one
    still streaming at `deadline` (the loop's clock) ends with `past_deadline`, and the engine's
    connection closes (a build is cancelled with it)."""
    engine_reader, engine_writer = await passthrough.open_api()
    try:
        headers = [("Host", "docker"), ("Content-Length", str(len(forward.body)))]
        if forward.body:
            headers.append(("Content-Type", forward.content_type))
        headers += forward.headers
        headers += (
            [("Connection", "Upgrade"), ("Upgrade", "tcp")]
            if upgrade
            else [("Connection", "close")]
        )
        upstream = h11.Connection(h11.CLIENT)
        engine_writer.write(
            upstream.send(h11.Request(method=forward.method, target=forward.path, headers=headers))
        )
        engine_writer.write(upstream.send(h11.Data(data=forward.body)) if forward.body else b"")
        engine_writer.write(upstream.send(h11.EndOfMessage()))
        await engine_writer.drain()
        response = await _next(upstream, engine_reader)
        if isinstance(response, h11.InformationalResponse) and response.status_code == 101:
            upgraded = [("Connection", "Upgrade"), ("Upgrade", "tcp")]
            writer.write(client.send(h11.InformationalResponse(status_code=101, headers=upgraded)))
            await writer.drain()
            await _pipe_both(
                reader,
                writer,
                client.trailing_data[0],
                engine_reader,
                engine_writer,
                upstream.trailing_data[0],
            )
            return True
        if not isinstance(response, h11.Response):
            raise h11.ProtocolError(f"the engine answered {type(response).__name__}")
        if whole or response.status_code >= 400:
            data = rewrite(response.status_code, await _whole_body(upstream, engine_reader))
            length = (b"content-length", b"%d" % len(data))
            status = response.status_code
            writer.write(
                client.send(
                    h11.Response(status_code=status, headers=[*_kept(response.headers), length])
                )
            )
            writer.write(client.send(h11.Data(data=data)) if data else b"")
            writer.write(client.send(h11.EndOfMessage()))
            await writer.drain()
            return False
        writer.write(
            client.send(
                h11.Response(status_code=response.status_code, headers=_kept(response.headers))
            )
        )
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    event = await _next(upstream, engine_reader)
            except TimeoutError:
                writer.write(client.send(h11.Data(data=past_deadline)) if past_deadline else b"")
                writer.write(client.send(h11.EndOfMessage()))
                await writer.drain()
                return False
            if isinstance(event, h11.Data):
                data = each(event.data) if each else event.data
                writer.write(client.send(h11.Data(data=data)))
                await writer.drain()
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                writer.write(client.send(h11.EndOfMessage()))
                await writer.drain()
                return False
    finally:
        engine_writer.close()


async def _next(connection: h11.Connection, reader: asyncio.StreamReader):
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
            continue
        return event


async def _whole_body(connection: h11.Connection, reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        event = await _next(connection, reader)
        if isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            return bytes(body)


def _kept(headers) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    client_early: bytes,
    engine_reader: asyncio.StreamReader,
    engine_writer: asyncio.StreamWriter,
    engine_early: bytes,
) -> None:
    """An upgraded attach or exec: bytes both ways until either side ends."""
    if engine_early:
        writer.write(engine_early)
    if client_early:
        engine_writer.write(client_early)

    async def pump(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, half_close: bool
    ) -> None:
        with suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            if half_close and sink.can_write_eof():
                sink.write_eof()

    to_engine = asyncio.ensure_future(pump(reader, engine_writer, True))
    try:
        await pump(engine_reader, writer, False)
    finally:
        to_engine.cancel()
        with suppress(asyncio.CancelledError):
            await to_engine
