"""A unix-socket proxy in front of the real Docker Engine that a test can cut: from the
server's side, exactly an engine that died mid-run (connections drop, new ones are refused),
without stopping the engine the rest of the suite uses."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path


class EngineProxy:
    def __init__(self, path: Path, engine_socket: str = "/var/run/docker.sock") -> None:
        self.path = path
        self.engine_socket = engine_socket
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        # The first line of every request that went through ("POST /v1.41/containers/create").
        self.requests: list[str] = []

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def start(self) -> None:
        if self.path.exists():
            self.path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(64)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        """The engine goes away: every connection drops, the socket disappears."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()
        if self.path.exists():
            os.unlink(self.path)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine_socket)
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, a is client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, asking: bool) -> None:
        try:
            while data := source.recv(65536):
                if asking and data[:4] in (b"GET ", b"POST", b"DELE", b"PUT "):
                    self.requests.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
