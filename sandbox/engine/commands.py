"""Commands run inside a running sandbox (exec): as its user, in /work, with a time limit
enforced inside the container, their output bounded.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import docker
from docker.utils.socket import frames_iter

from sandbox.engine.client import call
from sandbox.engine.profile import USER, WORKDIR
from sandbox.errors import EngineError


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    output: str


def exec_in(container_id: str, command: str, timeout: int) -> ExecResult:
    """Run a command in a running sandbox (as its user, inside its limits), with a time limit
    enforced inside the container, so a hung check cannot hang the caller."""
    with call() as client:
        exec_id = _create(client, container_id, ["sh", "-c", command], timeout)
        output = client.api.exec_start(exec_id)
        code = client.api.exec_inspect(exec_id)["ExitCode"]
        return ExecResult(code, output.decode(errors="replace"))


class OutputTooLarge(EngineError):
    """exec_output: the command wrote more than its limit (nothing of it is returned)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"output over {limit} bytes")
        self.limit = limit


def exec_output(container_id: str, argv: list[str], limit: int, timeout: int = 60) -> bytes:
    """Run `argv` in a running sandbox as its user (uid 1000, in /work, inside its limits) and
    return its stdout as bytes, e.g. `["tar", "-c", "-C", "/work", "."]`.

    The output is streamed, never held beyond `limit` bytes: past it the exec is abandoned and
    OutputTooLarge raised. A non-zero exit raises EngineError with the command's stderr, so a
    half-written tar is never mistaken for a whole one. `timeout` is enforced inside the
    container (coreutils `timeout`), so a hung command cannot hang the caller."""
    with call() as client:
        exec_id = _create(client, container_id, argv, timeout, stdout=True, stderr=True)
        out: list[bytes] = []
        err: list[bytes] = []
        size = 0
        for stdout, stderr in client.api.exec_start(exec_id, stream=True, demux=True):
            if stderr and sum(map(len, err)) < 4096:
                err.append(stderr)
            if stdout:
                size += len(stdout)
                if size > limit:
                    raise OutputTooLarge(limit)
                out.append(stdout)
        code = _exec_exit_code(client, exec_id)
        if code != 0:
            message = b"".join(err).decode(errors="replace").strip()
            raise EngineError(f"{argv[0]} exited {code}: {message}"[:500])
        return b"".join(out)


def exec_input(container_id: str, argv: list[str], data: bytes, timeout: int = 60) -> ExecResult:
    """Run `argv` in a running sandbox as its user (uid 1000, in /work, inside its limits) with
    `data` on its stdin, then end of file; e.g. `["tar", "-x", "-C", "/work"]` with a tar.

    Returns its exit code and output (stdout and stderr together, decoded). The write half of
    the exec's socket is shut after `data`, which is how the command sees end of file."""
    with call() as client:
        exec_id = _create(client, container_id, argv, timeout, stdin=True, stdout=True, stderr=True)
        sock = client.api.exec_start(exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        try:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
            output = b"".join(chunk for _stream, chunk in frames_iter(sock, tty=False))
        finally:
            sock.close()
        return ExecResult(_exec_exit_code(client, exec_id), output.decode(errors="replace"))


def _create(
    client: docker.DockerClient, container_id: str, argv: list[str], timeout: int, **streams: bool
) -> str:
    """An exec as the sandbox's user, in /work, under coreutils `timeout` (enforced inside the
    container, so a hung command cannot hang the caller); its id."""
    argv = ["timeout", str(timeout), *argv]
    return client.api.exec_create(container_id, argv, user=USER, workdir=WORKDIR, **streams)["Id"]


def _exec_exit_code(client: docker.DockerClient, exec_id: str) -> int | None:
    # The stream can end a moment before the engine records the exit: ask again briefly.
    for _attempt in range(100):
        found = client.api.exec_inspect(exec_id)
        if not found.get("Running"):
            return found.get("ExitCode")
        time.sleep(0.01)
    return None
