"""The only module that talks to the Docker Engine.

Everything else in the project sees plain functions and two exceptions: EngineUnavailable (the
engine cannot be reached, say so plainly and try again later) and EngineError (it answered, but
refused). Every call has a timeout, so a hung engine cannot hang a request or a consumer.

Over 400 lines for a reason: it is the one module allowed to import `docker` (a contract and a
ruff rule), so everything the engine is asked lives here. The next step (issue 14) makes it a
`sandbox/engine/` package (containers, exec, networks, images, swarm) under the same contract.
"""

from __future__ import annotations

import contextvars
import functools
import io
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import docker
import requests
from django.conf import settings
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Ulimit
from docker.utils.socket import frames_iter

from sandbox.errors import EngineError, EngineUnavailable

# Every container and network the project makes carries SANDBOX_LABEL, whose value is the
# deployment's namespace (so two servers on one engine never reap each other's containers);
# RUN_LABEL names its run.
SANDBOX_LABEL = "baeum.sandbox"
RUN_LABEL = "baeum.run"
WORKDIR = "/work"
# Files a persistent /work may hold (its tmpfs's inodes); a saved tar of it is at most its bytes
# plus a 512-byte header and up to 511 bytes of padding per file (see workspaces.archive_limit).
WORKSPACE_INODES = 8192


def hardening(
    memory: str | None = None, network: str | None = None, workspace_bytes: int | None = None
) -> dict:
    """The hardening profile: the one place that decides how a sandbox container is confined.

    Every container the project starts is created with exactly these options. `memory` may only
    lower the project's limit for one exercise, never raise it. `network` may only name a run's
    own internal network (create_run_network) or a playground's (create_private_network); the
    one exception is the project's own gate, which runs no student input and forwards one port
    to the API server (kube_gate, on its uplink). Without it there is no network at all.
    `workspace_bytes` (a terminal's persistent /work, SANDBOX_WORKSPACE_BYTES) sizes the /work
    tmpfs, and the memory limit grows by exactly as much: tmpfs pages are charged to the
    container's memory, so a full /work must not leave the shell less than other sandboxes get.
    """
    memory_limit = _smaller_memory(memory, settings.SANDBOX_MEMORY)
    work = "size=16m,nr_inodes=4096"
    if workspace_bytes:
        memory_limit = str(parse_bytes(memory_limit) + workspace_bytes)
        work = f"size={workspace_bytes},nr_inodes={WORKSPACE_INODES}"
    return {
        **({"network": network} if network else {"network_mode": "none"}),
        "mem_limit": memory_limit,
        # Swap equal to memory: with memory alone the engine silently allows as much swap again.
        "memswap_limit": memory_limit,
        "pids_limit": settings.SANDBOX_PIDS,
        "nano_cpus": int(settings.SANDBOX_CPUS * 1e9),
        # nofile and fsize, not nproc: nproc counts per host UID, so every sandbox running as the
        # same user id would share one budget.
        "ulimits": [
            Ulimit(name="nofile", soft=256, hard=256),
            Ulimit(name="fsize", soft=16 * 2**20, hard=16 * 2**20),
        ],
        # A real PID 1 forwards signals and reaps children (`timeout 2 sleep 10` works).
        "init": True,
        "read_only": True,
        # tmpfs pages count against the memory limit, so these stay well under it.
        "tmpfs": {
            "/tmp": "rw,nosuid,nodev,size=16m,nr_inodes=4096,mode=1777",
            WORKDIR: f"rw,nosuid,nodev,{work},uid=1000,gid=1000,mode=0755",
        },
        "working_dir": WORKDIR,
        "user": "1000:1000",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "privileged": False,
        "log_config": LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
    }


def _smaller_memory(requested: str | None, ceiling: str) -> str:
    if requested is None:
        return ceiling
    return requested if parse_bytes(requested) < parse_bytes(ceiling) else ceiling


def parse_bytes(size: str) -> int:
    """'128m' → 134217728, as the engine reads memory sizes."""
    units = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    text = size.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# Which engine this call goes to: "" is the one DOCKER_HOST names (the default); a run on one of
# several hosts (SANDBOX_ENGINES, see sandbox/supervisor/hosts.py) sets its host's URL for its
# whole task,
# and worker threads started with asyncio.to_thread inherit it.
_ENDPOINT: contextvars.ContextVar[str] = contextvars.ContextVar("engine_endpoint", default="")


@contextmanager
def use(endpoint: str) -> Iterator[None]:
    """Send the engine calls made inside this block to `endpoint` ("" for the default)."""
    token = _ENDPOINT.set(endpoint)
    try:
        yield
    finally:
        _ENDPOINT.reset(token)


def bind(endpoint: str) -> None:
    """Send the rest of the current asyncio task's engine calls to `endpoint`."""
    _ENDPOINT.set(endpoint)


def endpoint() -> str:
    return _ENDPOINT.get()


@functools.cache
def _client_for(endpoint: str) -> docker.DockerClient:
    # As many connections as threads may call at once (sandbox/supervisor/engine_threads.py).
    options = {"timeout": settings.DOCKER_TIMEOUT_SECONDS, "max_pool_size": _pool_size()}
    if endpoint:
        return docker.DockerClient(base_url=endpoint, version="auto", **options)
    # DOCKER_HOST and friends come from the environment, as for the docker CLI.
    return docker.from_env(version="auto", **options)


def _pool_size() -> int:
    return max(10, settings.SANDBOX_ENGINE_THREADS)


def _client() -> docker.DockerClient:
    return _client_for(_ENDPOINT.get())


def forget_client() -> None:
    """Drop the cached clients, e.g. after an engine restarted or DOCKER_HOST changed."""
    _client_for.cache_clear()


@contextmanager
def _engine_call() -> Iterator[docker.DockerClient]:
    try:
        yield _client()
    except APIError as error:
        raise EngineError(error.explanation or str(error)) from error
    except (DockerException, requests.exceptions.RequestException, OSError) as error:
        forget_client()
        raise EngineUnavailable(str(error)) from error


def ping() -> bool:
    try:
        with _engine_call() as client:
            return bool(client.ping())
    except (EngineUnavailable, EngineError):
        return False


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


def _labels(run_id: str) -> dict[str, str]:
    return {SANDBOX_LABEL: settings.SANDBOX_NAMESPACE, RUN_LABEL: run_id}


def create_container(spec: ContainerSpec) -> str:
    """Create (not start) a hardened container that runs `spec.command` under `sh -c`."""
    endpoint = {}
    if spec.network:
        with _engine_call() as client:
            aliases = [spec.hostname] if spec.hostname else []
            endpoint = {
                "networking_config": {
                    spec.network: client.api.create_endpoint_config(aliases=aliases)
                }
            }
    with _engine_call() as client:
        container = client.containers.create(
            spec.image,
            ["sh", "-c", spec.command],
            hostname=spec.hostname,
            labels=_labels(spec.run_id),
            detach=True,
            stdin_open=spec.stdin or spec.tty,
            tty=spec.tty,
            environment=dict(spec.environment),
            mounts=[docker.types.Mount("/data", spec.volume, type="volume")] if spec.volume else [],
            **endpoint,
            **hardening(spec.memory, spec.network, spec.workspace_bytes),
        )
        return container.id


VOLUME_OPTIONS = {
    "type": "tmpfs",
    "device": "tmpfs",
    "o": "size=16m,nr_inodes=4096,uid=1000,gid=1000",
}


def ensure_volume(name: str) -> None:
    """A named volume kept by the engine between containers: tmpfs-backed and size-capped
    (16 MiB, counted against nobody's disk), gone when the engine restarts."""
    with _engine_call() as client:
        try:
            client.volumes.get(name)
        except NotFound:
            client.volumes.create(
                name,
                driver="local",
                driver_opts=VOLUME_OPTIONS,
                labels={SANDBOX_LABEL: settings.SANDBOX_NAMESPACE},
            )


def remove_volumes(namespace: str | None = None) -> int:
    """Remove this deployment's volumes that no container uses (the reaper, tests)."""
    namespace = namespace or settings.SANDBOX_NAMESPACE
    removed = 0
    with _engine_call() as client:
        for volume in client.volumes.list(filters={"label": f"{SANDBOX_LABEL}={namespace}"}):
            with suppress(APIError):
                volume.remove()
                removed += 1
    return removed


def create_run_network(run_id: str) -> str:
    """A private network for one run's containers: internal, so nothing is forwarded out, and
    with no host address on its bridge, so the host's own services cannot be reached either."""
    name = f"baeum-run-{run_id}"
    with _engine_call() as client:
        client.networks.create(
            name,
            driver="bridge",
            internal=True,
            options={"com.docker.network.bridge.inhibit_ipv4": "true"},
            labels=_labels(run_id),
        )
    return name


def create_private_network(name: str, run_id: str, subnets: Iterable[str]) -> str:
    """Like create_run_network (internal, no host address), but on the first of `subnets` that
    is free: the engine's default address pools hold only about thirty networks, too few for a
    network per student. Two deployments on one engine simply skip each other's subnets."""
    with _engine_call() as client:
        for subnet in subnets:
            pool = docker.types.IPAMPool(subnet=subnet)
            try:
                client.networks.create(
                    name,
                    driver="bridge",
                    internal=True,
                    options={"com.docker.network.bridge.inhibit_ipv4": "true"},
                    ipam=docker.types.IPAMConfig(pool_configs=[pool]),
                    labels=_labels(run_id),
                )
                return name
            except APIError as error:
                if "overlap" not in str(error).lower():
                    raise
    raise EngineError(f"no free subnet for network {name}")


def ensure_uplink_network(name: str, run_id: str) -> str:
    """A plain bridge (not internal) for the project's own gate containers, which forward to
    one fixed address on the host: never a student's container. Made if missing; its gateway
    address (the host, as the gates see it) is returned."""
    with _engine_call() as client:
        try:
            network = client.networks.get(name)
        except NotFound:
            try:
                network = client.networks.create(name, driver="bridge", labels=_labels(run_id))
            except APIError:  # made meanwhile by another request
                network = client.networks.get(name)
        return network.attrs["IPAM"]["Config"][0]["Gateway"]


def connect_network(name: str, container_id: str, aliases: list[str]) -> None:
    with _engine_call() as client:
        client.api.connect_container_to_network(container_id, name, aliases=aliases)


def bridge_device(name: str) -> str:
    """The host's bridge device of a bridge network (its rules in the host's iptables name it)."""
    with _engine_call() as client:
        network = client.networks.get(name)
    return network.attrs["Options"].get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"


def remove_network(name: str) -> None:
    with _engine_call() as client, suppress(NotFound):
        client.api.remove_network(name)


@dataclass(frozen=True)
class LabelledNetwork:
    name: str
    run_id: str


def labelled_networks(namespace: str | None = None) -> list[LabelledNetwork]:
    namespace = namespace or settings.SANDBOX_NAMESPACE
    label = SANDBOX_LABEL if namespace == "*" else f"{SANDBOX_LABEL}={namespace}"
    with _engine_call() as client:
        found = client.api.networks(filters={"label": label})
        return [
            LabelledNetwork(n["Name"], (n.get("Labels") or {}).get(RUN_LABEL, "")) for n in found
        ]


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
    with _engine_call() as client:
        return OutputStream(client.api.attach_socket(container_id, params=params), tty=tty)


def resize(container_id: str, rows: int, cols: int) -> None:
    with _engine_call() as client:
        client.api.resize(container_id, height=rows, width=cols)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    output: str


def exec_in(container_id: str, command: str, timeout: int) -> ExecResult:
    """Run a command in a running sandbox (as its user, inside its limits), with a time limit
    enforced inside the container, so a hung check cannot hang the caller."""
    with _engine_call() as client:
        created = client.api.exec_create(
            container_id,
            ["timeout", str(timeout), "sh", "-c", command],
            user="1000:1000",
            workdir=WORKDIR,
        )
        output = client.api.exec_start(created["Id"])
        code = client.api.exec_inspect(created["Id"])["ExitCode"]
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
    with _engine_call() as client:
        created = client.api.exec_create(
            container_id,
            ["timeout", str(timeout), *argv],
            user="1000:1000",
            workdir=WORKDIR,
            stdout=True,
            stderr=True,
        )
        out: list[bytes] = []
        err: list[bytes] = []
        size = 0
        for stdout, stderr in client.api.exec_start(created["Id"], stream=True, demux=True):
            if stderr and sum(map(len, err)) < 4096:
                err.append(stderr)
            if stdout:
                size += len(stdout)
                if size > limit:
                    raise OutputTooLarge(limit)
                out.append(stdout)
        code = _exec_exit_code(client, created["Id"])
        if code != 0:
            message = b"".join(err).decode(errors="replace").strip()
            raise EngineError(f"{argv[0]} exited {code}: {message}"[:500])
        return b"".join(out)


def exec_input(container_id: str, argv: list[str], data: bytes, timeout: int = 60) -> ExecResult:
    """Run `argv` in a running sandbox as its user (uid 1000, in /work, inside its limits) with
    `data` on its stdin, then end of file; e.g. `["tar", "-x", "-C", "/work"]` with a tar.

    Returns its exit code and output (stdout and stderr together, decoded). The write half of
    the exec's socket is shut after `data`, which is how the command sees end of file."""
    with _engine_call() as client:
        created = client.api.exec_create(
            container_id,
            ["timeout", str(timeout), *argv],
            user="1000:1000",
            workdir=WORKDIR,
            stdin=True,
            stdout=True,
            stderr=True,
        )
        sock = client.api.exec_start(created["Id"], socket=True)
        raw = getattr(sock, "_sock", sock)
        try:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
            output = b"".join(chunk for _stream, chunk in frames_iter(sock, tty=False))
        finally:
            sock.close()
        return ExecResult(_exec_exit_code(client, created["Id"]), output.decode(errors="replace"))


def _exec_exit_code(client: docker.DockerClient, exec_id: str) -> int | None:
    # The stream can end a moment before the engine records the exit: ask again briefly.
    for _attempt in range(100):
        found = client.api.exec_inspect(exec_id)
        if not found.get("Running"):
            return found.get("ExitCode")
        time.sleep(0.01)
    return None


def start(container_id: str) -> None:
    with _engine_call() as client:
        client.api.start(container_id)


@dataclass(frozen=True)
class ExitState:
    exit_code: int | None
    oom_killed: bool
    running: bool


def wait(container_id: str, timeout: float) -> None:
    with _engine_call() as client, suppress(requests.exceptions.ReadTimeout):
        client.api.wait(container_id, timeout=timeout)


def exit_state(container_id: str) -> ExitState:
    # OOM is read from State.OOMKilled, not guessed from exit code 137: a memory hog under `sh`
    # can end with another code while the engine still reports the kill.
    with _engine_call() as client:
        state = client.api.inspect_container(container_id)["State"]
        return ExitState(
            exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            running=bool(state.get("Running")),
        )


def kill(container_id: str) -> None:
    with _engine_call() as client, suppress(APIError):  # already gone or already stopped
        client.api.kill(container_id)


def remove(container_id: str) -> None:
    with _engine_call() as client:
        try:
            client.api.remove_container(container_id, force=True)
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


def labelled_containers(namespace: str | None = None) -> list[LabelledContainer]:
    """The project's containers: of one namespace (default: this deployment's), or of all ("*")."""
    namespace = namespace or settings.SANDBOX_NAMESPACE
    label = SANDBOX_LABEL if namespace == "*" else f"{SANDBOX_LABEL}={namespace}"
    with _engine_call() as client:
        found = client.api.containers(all=True, filters={"label": label})
        return [
            LabelledContainer(c["Id"], c["Labels"].get(RUN_LABEL, ""), c["State"], c["Created"])
            for c in found
        ]


def is_running(container_id: str) -> bool:
    """The container exists and runs (false for one removed, killed or lost with the engine)."""
    with _engine_call() as client:
        try:
            return bool(client.api.inspect_container(container_id)["State"]["Running"])
        except NotFound:
            return False


def memory_usage(container_id: str) -> int:
    """Bytes of memory the container's cgroup uses now (`docker stats --no-stream`)."""
    with _engine_call() as client:
        stats = client.api.stats(container_id, stream=False)
        return int(stats["memory_stats"].get("usage", 0))


def inspect(container_id: str) -> dict:
    """The engine's full view of a container (tests assert the hardening against it)."""
    with _engine_call() as client:
        return client.api.inspect_container(container_id)


def image_exists(tag: str) -> bool:
    with _engine_call() as client:
        try:
            client.images.get(tag)
            return True
        except ImageNotFound:
            return False


def build_image(
    tag: str, context_dir: str, buildargs: dict[str, str], labels: dict[str, str]
) -> None:
    with _engine_call() as client:
        client.images.build(
            path=context_dir, tag=tag, buildargs=buildargs, labels=labels, rm=True, forcerm=True
        )


def image_label(tag: str, key: str) -> str | None:
    """One label of a local image (None: no such image, or no such label)."""
    with _engine_call() as client:
        try:
            labels = client.api.inspect_image(tag)["Config"].get("Labels") or {}
        except ImageNotFound:
            return None
        return labels.get(key)


# Builds of students' Dockerfiles: the legacy builder's RUN containers get no network and these
# limits (the build API accepts no more: the base images' non-root USER does the rest).
BUILD_LIMITS = {"memory": 256 * 2**20, "memswap": 256 * 2**20, "cpushares": 512}


def build_stream(context: bytes, tag: str, labels: dict[str, str]) -> Iterator[dict]:
    """Build from a tar context, yielding the engine's progress messages as they come."""
    with _engine_call() as client:
        yield from client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
            container_limits=BUILD_LIMITS,
            labels=labels,
            decode=True,
            timeout=settings.SANDBOX_BUILD_SECONDS,
        )


def image_history(tag: str) -> list[dict]:
    with _engine_call() as client:
        return client.api.history(tag)


def image_info(tag: str) -> dict:
    with _engine_call() as client:
        return client.api.inspect_image(tag)


def tag_image(source: str, repository: str, tag: str) -> None:
    with _engine_call() as client:
        client.api.tag(source, repository, tag)


def remove_image(reference: str) -> None:
    with _engine_call() as client, suppress(NotFound):
        client.api.remove_image(reference, force=True, noprune=False)


def labelled_images(label: str) -> list[dict]:
    with _engine_call() as client:
        return client.api.images(filters={"label": label})


# --- Orchestration: the engine's swarm mode (services, tasks, rolling updates) ------------


def swarm_active() -> bool:
    with _engine_call() as client:
        return client.info().get("Swarm", {}).get("LocalNodeState") == "active"


def swarm_init() -> None:
    """Switch the engine into single-node swarm mode (an explicit step: it changes the engine)."""
    with _engine_call() as client:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")


def create_lab_network(name: str, labels: dict[str, str]) -> None:
    """A student's private overlay: internal (no route out), attachable (the load-balancing
    client joins it)."""
    with _engine_call() as client:
        client.networks.create(
            name, driver="overlay", internal=True, attachable=True, labels=labels
        )


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    command: str
    replicas: int
    network: str
    labels: tuple[tuple[str, str], ...]
    memory: str
    cpus: float
    health_command: str | None = None
    parallelism: int = 1
    order: str = "stop-first"  # or start-first (maxSurge > 0, maxUnavailable 0)
    failure_action: str = "pause"  # what a rollout does when new tasks fail: pause | rollback


def _service_kwargs(spec: ServiceSpec) -> dict:
    """The hardening profile's share that the service API accepts (API 1.41): memory and CPU
    limits, read-only root with a tmpfs, no capabilities, a non-root user, an init process.
    Not expressible there: pids limit and no-new-privileges (see DESIGN.md)."""
    memory = _smaller_memory(spec.memory, settings.SANDBOX_MEMORY)
    tmpfs = docker.types.Mount("/tmp", "", type="tmpfs", tmpfs_size=16 * 2**20)
    health = None
    if spec.health_command:
        health = docker.types.Healthcheck(
            test=["CMD-SHELL", spec.health_command],
            interval=1_000_000_000,
            timeout=1_000_000_000,
            retries=2,
            start_period=1_000_000_000,
        )
    container = docker.types.ContainerSpec(
        spec.image,
        command=["sh", "-c", spec.command],
        user="1000:1000",
        read_only=True,
        mounts=[tmpfs],
        cap_drop=["ALL"],
        init=True,
        healthcheck=health,
        labels=dict(spec.labels),
    )
    resources = docker.types.Resources(
        mem_limit=parse_bytes(memory), cpu_limit=int(min(spec.cpus, settings.SANDBOX_CPUS) * 1e9)
    )
    update = docker.types.UpdateConfig(
        parallelism=spec.parallelism,
        delay=1_000_000_000,
        failure_action=spec.failure_action,
        monitor=3_000_000_000,
        order=spec.order,
    )
    return {
        "task_template": docker.types.TaskTemplate(
            container_spec=container,
            resources=resources,
            restart_policy=docker.types.RestartPolicy(condition="any", delay=500_000_000),
            networks=[spec.network],
            log_driver=docker.types.DriverConfig("json-file", {"max-size": "1m", "max-file": "1"}),
        ),
        "name": spec.name,
        "labels": dict(spec.labels),
        "mode": docker.types.ServiceMode("replicated", replicas=spec.replicas),
        "update_config": update,
        "rollback_config": docker.types.RollbackConfig(parallelism=0, order="stop-first"),
        # On an internal overlay network the service's virtual IP is unreachable on this
        # engine (20.10), so the name resolves to the replicas in turn (DNS round-robin).
        "endpoint_spec": docker.types.EndpointSpec(mode="dnsrr"),
    }


def apply_service(spec: ServiceSpec) -> None:
    """Create the service, or update it to the spec (a rolling update where the task changes)."""
    kwargs = _service_kwargs(spec)
    with _engine_call() as client:
        existing = client.api.services(filters={"name": spec.name})
        existing = [s for s in existing if s["Spec"]["Name"] == spec.name]
        if not existing:
            client.api.create_service(**kwargs)
            return
        service = existing[0]
        client.api.update_service(
            service["ID"],
            version=service["Version"]["Index"],
            task_template=kwargs["task_template"],
            name=spec.name,
            labels=kwargs["labels"],
            mode=kwargs["mode"],
            update_config=kwargs["update_config"],
            rollback_config=kwargs["rollback_config"],
            endpoint_spec=kwargs["endpoint_spec"],
            fetch_current_spec=False,
        )


def rollback_service(name: str) -> None:
    """Return the service to its previous spec (`docker service rollback`)."""
    with _engine_call() as client:
        service = client.api.inspect_service(name)
        # The SDK has no rollback parameter; this is the engine API call `docker service
        # rollback` makes: the current spec, posted with rollback=previous.
        response = client.api._post_json(
            client.api._url("/services/{0}/update", service["ID"]),
            data=service["Spec"],
            params={"version": service["Version"]["Index"], "rollback": "previous"},
        )
        client.api._raise_for_status(response)


def service_state(name: str) -> dict | None:
    """The service as the engine sees it: desired replicas, image, update status, and tasks."""
    with _engine_call() as client:
        try:
            service = client.api.inspect_service(name)
        except NotFound:
            return None
        tasks = client.api.tasks(filters={"service": name})
        spec = service["Spec"]
        return {
            "replicas": spec["Mode"].get("Replicated", {}).get("Replicas", 0),
            "image": spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0],
            "update": (service.get("UpdateStatus") or {}).get("State", ""),
            "update_message": (service.get("UpdateStatus") or {}).get("Message", ""),
            "tasks": [
                {
                    "id": task["ID"],
                    "slot": task.get("Slot"),
                    "state": task["Status"]["State"],
                    "desired": task["DesiredState"],
                    "since": task["Status"]["Timestamp"],
                    "error": task["Status"].get("Err", ""),
                    "image": task["Spec"]["ContainerSpec"]["Image"].split("@")[0],
                    "container": (task["Status"].get("ContainerStatus") or {}).get(
                        "ContainerID", ""
                    ),
                }
                for task in tasks
            ],
        }


def remove_service(name: str) -> None:
    with _engine_call() as client, suppress(NotFound):
        client.api.remove_service(name)


def labelled_services(namespace: str | None = None) -> list[str]:
    namespace = namespace or settings.SANDBOX_NAMESPACE
    label = SANDBOX_LABEL if namespace == "*" else f"{SANDBOX_LABEL}={namespace}"
    with _engine_call() as client:
        return [s["Spec"]["Name"] for s in client.api.services(filters={"label": label})]


def labelled_service_details(namespace: str | None = None) -> list[dict]:
    """This deployment's services with what recovery needs: name, labels, when created (seconds
    since the epoch) and the state of their last update (`rollback_completed` …)."""
    namespace = namespace or settings.SANDBOX_NAMESPACE
    label = SANDBOX_LABEL if namespace == "*" else f"{SANDBOX_LABEL}={namespace}"
    with _engine_call() as client:
        return [
            {
                "name": s["Spec"]["Name"],
                "labels": s["Spec"].get("Labels") or {},
                "created": _engine_time(s.get("CreatedAt", "")),
                "update": (s.get("UpdateStatus") or {}).get("State", ""),
            }
            for s in client.api.services(filters={"label": label})
        ]


def _engine_time(text: str) -> float:
    """'2026-12-02T06:06:31.123456789Z' (nanoseconds, as the engine writes) → epoch seconds."""
    import datetime
    import re

    text = re.sub(r"(\.\d{6})\d*", r"\1", text).replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0
