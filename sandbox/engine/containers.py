"""Containers: made (always through the hardening profile), attached, started, waited for,
removed, and listed by the deployment's labels; the tmpfs-backed volumes students keep.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass

import docker
import requests
from django.conf import settings
from docker.errors import APIError, NotFound
from docker.types import Ulimit
from docker.utils.socket import frames_iter

from sandbox.engine.client import call
from sandbox.engine.profile import (
    RUN_LABEL,
    SANDBOX_LABEL,
    VOLUME_OPTIONS,
    gate_mount,
    hardening,
    label_filter,
    object_labels,
)


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: str
    run_id: str
    memory: str | None = None
    # With a network: the run's internal network, where the others reach this one by `hostname`.
    network: str | None = None
    hostname: str | None = None
    # Keep stdin open: a warm pool container waits there for the command it will run.
    stdin: bool = False
    # A named volume mounted at /data (a student's own, see ensure_volume): the one kind of
    # storage that outlives a container. Never a host path.
    volume: str | None = None
    # A terminal: stdin open, a TTY, and an environment for an interactive shell.
    tty: bool = False
    environment: tuple[tuple[str, str], ...] = ()
    # A terminal's persistent /work: the tmpfs's size in bytes (see hardening).
    workspace_bytes: int | None = None
    # A terminal's Docker gate: the host folder of its socket (profile.gate_mount).
    docker_gate: str | None = None


def create_container(spec: ContainerSpec) -> str:
    """Create (not start) a hardened container that runs `spec.command` under `sh -c`."""
    endpoint = {}
    if spec.network:
        with call() as client:
            aliases = [spec.hostname] if spec.hostname else []
            endpoint = {
                "networking_config": {
                    spec.network: client.api.create_endpoint_config(aliases=aliases)
                }
            }
    with call() as client:
        container = client.containers.create(
            spec.image,
            ["sh", "-c", spec.command],
            hostname=spec.hostname,
            labels=object_labels(spec.run_id),
            detach=True,
            stdin_open=spec.stdin or spec.tty,
            tty=spec.tty,
            environment=dict(spec.environment),
            mounts=[
                *([docker.types.Mount("/data", spec.volume, type="volume")] if spec.volume else []),
                *([gate_mount(spec.docker_gate)] if spec.docker_gate else []),
            ],
            **endpoint,
            **hardening(spec.memory, spec.network, spec.workspace_bytes),
        )
        return container.id


def run_service(
    name: str, image: str, network: str, run_id: str, port: int, workspace_bytes: int
) -> int:
    """The project's own service container `name` (no student input runs in it), started if it
    is not running, under the hardening profile on `network` with a /work of
    `workspace_bytes`, its `port` published on the host's 127.0.0.1 alone, at a port the engine
    picks: which is returned. One file may fill its /work (a registry's blob is one file): the
    profile's `fsize` limit is raised to the tmpfs's size, which caps it anyway."""
    options = hardening(None, network, workspace_bytes)
    options["ulimits"] = [
        limit
        if limit.name != "fsize"
        else Ulimit(name="fsize", soft=workspace_bytes, hard=workspace_bytes)
        for limit in options["ulimits"]
    ]
    with call() as client:
        try:
            container = client.containers.get(name)
        except NotFound:
            container = client.containers.create(
                image,
                name=name,
                labels=object_labels(run_id),
                detach=True,
                ports={f"{port}/tcp": ("127.0.0.1", None)},
                **options,
            )
        if container.status != "running":
            container.start()
        container.reload()
        return int(container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])


def ensure_volume(name: str, labels: dict[str, str] | None = None) -> None:
    """A named volume kept by the engine between containers: tmpfs-backed and size-capped
    (16 MiB, counted against nobody's disk), gone when the engine restarts. A tmpfs keeps its
    files only while some container has it mounted: whoever needs them kept holds it with a
    keeper container (runs._keep_volume, docker_volumes). `labels` go beside the deployment's."""
    with call() as client:
        try:
            client.volumes.get(name)
        except NotFound:
            client.volumes.create(
                name,
                driver="local",
                driver_opts=VOLUME_OPTIONS,
                labels={**(labels or {}), SANDBOX_LABEL: settings.SANDBOX_NAMESPACE},
            )


def volumes_labelled(*labels: str) -> list[dict]:
    """The engine's listing of the volumes that carry every one of `labels` ("key=value")."""
    with call() as client:
        return client.api.volumes(filters={"label": list(labels)}).get("Volumes") or []


def remove_volume(name: str) -> None:
    with call() as client, suppress(NotFound):
        client.api.remove_volume(name)


def remove_volumes(namespace: str | None = None, spared_runs: frozenset[str] = frozenset()) -> int:
    """Remove this deployment's volumes that no container uses (the reaper, tests), but those
    labelled with one of `spared_runs`."""
    removed = 0
    with call() as client:
        for volume in client.volumes.list(filters={"label": label_filter(namespace)}):
            if (volume.attrs.get("Labels") or {}).get(RUN_LABEL) in spared_runs:
                continue
            with suppress(APIError):
                volume.remove()
                removed += 1
    return removed


class OutputStream:
    """A container's attach stream: stdout and stderr interleaved as they were written.

    Read from the attach stream, not from `logs(follow=True)`: log following stops when the
    json-file log rotates (moby#39235).
    """

    def __init__(self, sock, tty: bool = False) -> None:
        self._sock = sock
        self._tty = tty
        self._closed = threading.Event()

    def send(self, data: bytes) -> None:
        """Write to the container's stdin (a stream attached with stdin=True)."""
        raw = getattr(self._sock, "_sock", self._sock)
        raw.sendall(data)

    def chunks(self) -> Iterator[bytes]:
        try:
            for _stream, data in frames_iter(self._sock, tty=self._tty):
                yield data
        except (OSError, ValueError):  # ValueError: read on a socket closed meanwhile
            if not self._closed.is_set():
                raise

    def close(self) -> None:
        """Close from any thread; a reader blocked in chunks() wakes up and ends."""
        if self._closed.is_set():
            return
        self._closed.set()
        raw = getattr(self._sock, "_sock", self._sock)
        with suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def attach(container_id: str, stdin: bool = False, tty: bool = False) -> OutputStream:
    """Attach to a container that has not started yet (every caller attaches first, then
    starts), so the live stream is all its output. Not `logs=1`: the engine replays the log
    file in the background after answering, and under load a first line written meanwhile
    arrived twice, once from the log and once live (found by `make bench-load`)."""
    params = {"stdout": 1, "stderr": 1, "stream": 1}
    if stdin or tty:
        params["stdin"] = 1
    with call() as client:
        return OutputStream(client.api.attach_socket(container_id, params=params), tty=tty)


def resize(container_id: str, rows: int, cols: int) -> None:
    with call() as client:
        client.api.resize(container_id, height=rows, width=cols)


def start(container_id: str) -> None:
    with call() as client:
        client.api.start(container_id)


@dataclass(frozen=True)
class ExitState:
    exit_code: int | None
    oom_killed: bool
    running: bool


def wait(container_id: str, timeout: float) -> None:
    with call() as client, suppress(requests.exceptions.ReadTimeout):
        client.api.wait(container_id, timeout=timeout)


def exit_state(container_id: str) -> ExitState:
    # OOM is read from State.OOMKilled, not guessed from exit code 137: a memory hog under `sh`
    # can end with another code while the engine still reports the kill.
    with call() as client:
        state = client.api.inspect_container(container_id)["State"]
        return ExitState(
            exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            running=bool(state.get("Running")),
        )


def kill(container_id: str) -> None:
    with call() as client, suppress(APIError):  # already gone or already stopped
        client.api.kill(container_id)


def remove(container_id: str) -> None:
    with call() as client:
        try:
            # v: the anonymous volumes an image's VOLUME made go too (a named one never does).
            client.api.remove_container(container_id, force=True, v=True)
        except NotFound:
            pass
        except APIError as error:
            # Someone else (the reaper, the engine's own cleanup) is removing it already.
            if "already in progress" not in str(error.explanation):
                raise


@dataclass(frozen=True)
class LabelledContainer:
    id: str
    run_id: str
    status: str
    created: float = 0.0  # seconds since the epoch
    name: str = ""  # the engine's, without its leading slash
    volumes: tuple[str, ...] = ()  # the named volumes it mounts
    image: str = ""


def labelled_containers(
    namespace: str | None = None, also: str | None = None
) -> list[LabelledContainer]:
    """The project's containers: of one namespace (default: this deployment's), or of all ("*");
    with `also`, only those with that label too (`key=value`)."""
    labels = [label_filter(namespace), *([also] if also else [])]
    with call() as client:
        found = client.api.containers(all=True, filters={"label": labels})
        return [
            LabelledContainer(
                c["Id"],
                c["Labels"].get(RUN_LABEL, ""),
                c["State"],
                c["Created"],
                (c.get("Names") or ["/"])[0].lstrip("/"),
                tuple(m["Name"] for m in c.get("Mounts") or [] if m.get("Type") == "volume"),
                c.get("Image", ""),
            )
            for c in found
        ]


def is_running(container_id: str) -> bool:
    """The container exists and runs (false for one removed, killed or lost with the engine)."""
    with call() as client:
        try:
            return bool(client.api.inspect_container(container_id)["State"]["Running"])
        except NotFound:
            return False


def memory_usage(container_id: str) -> int:
    """Bytes of memory the container's cgroup uses now (`docker stats --no-stream`)."""
    with call() as client:
        stats = client.api.stats(container_id, stream=False)
        return int(stats["memory_stats"].get("usage", 0))


def inspect(container_id: str) -> dict:
    """The engine's full view of a container (tests assert the hardening against it)."""
    with call() as client:
        return client.api.inspect_container(container_id)
