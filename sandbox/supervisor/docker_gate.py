"""The real docker CLI in a student's terminal, through a gate to the shared engine.

Each terminal (playground) gets, for its lifetime, a unix socket of its own served by this
supervisor, in a folder of its own under SANDBOX_DOCKER_GATE_DIR. That folder is the one
thing mounted from the host into the terminal (read-only, at /run/baeum), and the terminal's
DOCKER_HOST names it. The socket is the student's identity: whoever talks on it is that
playground's owner, so the gate needs no secret. The engine's own socket is never reachable from
a student's container; the gate is the only way to it.

The gate reads every request as HTTP (h11), asks docker_policy whether it is on the allow-list,
and rebuilds what it forwards:
- names are the student's own: `web1` is `<deployment>-u<owner>-web1` on the engine, and is shown
  back as `web1`; a container of anyone else answers exactly as a missing one does;
- a container is created only through the hardening profile (engine.profile.student_container),
  labelled with the deployment, the owner and the playground's run label, so it ends with the
  terminal and the reaper treats a leftover like any other;
- images come from the shelf (`busybox` …); a pull of anything else says so at once.
Streams (logs -f, wait) are relayed as they come; an attach or exec upgrades the connection and
is then relayed both ways.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import h11
from django.conf import settings

from sandbox import engine
from sandbox.engine.profile import student_container
from sandbox.supervisor import docker_audit as audit
from sandbox.supervisor import docker_images as images
from sandbox.supervisor import docker_objects as objects
from sandbox.supervisor import docker_policy as policy
from sandbox.supervisor import docker_relay as relay
from sandbox.supervisor import docker_shown as shown
from sandbox.supervisor.docker_policy import SHELF
from sandbox.supervisor.docker_relay import Answer

log = logging.getLogger(__name__)

OWNER_LABEL = "baeum.owner"
# Set by the gate alone on what a student made through it: a container the platform ran from a
# student's image carries the image's owner label, but never this one.
VIA_LABEL = "baeum.via"
VIA = "docker-gate"
MOUNT = "/run/baeum"  # where the terminal sees the gate's folder
ENVIRONMENT = (("DOCKER_HOST", f"unix://{MOUNT}/docker.sock"),)
# One student's CLI at once: connections served, engine calls in flight, exec instances kept, and
# how long a request may take to arrive (an idle kept-alive connection is closed after it too).
MAX_CONNECTIONS = 16
MAX_ENGINE_CALLS = 4
MAX_EXECS = 64
REQUEST_SECONDS = 30


def available() -> bool:
    return bool(settings.SANDBOX_TERMINAL_DOCKER)


def folder(run_id: str) -> Path:
    """The playground's gate folder: named by a digest of the deployment and the playground, as
    a unix socket's whole path must fit in 107 bytes."""
    digest = hashlib.sha256(f"{settings.SANDBOX_NAMESPACE}/{run_id}".encode()).hexdigest()
    return Path(settings.SANDBOX_DOCKER_GATE_DIR) / digest[:20]


@dataclass
class Gate:
    """One playground's gate: its socket's server and what its student made through it."""

    owner_id: int
    run_id: str
    playground_id: str | None = None  # where its calls and containers are recorded (audit)
    server: asyncio.AbstractServer | None = None
    execs: set[str] = field(default_factory=set)  # exec instances made through this gate
    connections: set[asyncio.Task] = field(default_factory=set)  # the CLI's, being served
    # Counting a student's containers and making one happen under this lock, so that presses
    # at once cannot all pass the quota.
    creating: asyncio.Lock = field(default_factory=asyncio.Lock)
    engine_calls: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_ENGINE_CALLS)
    )
    building: asyncio.Lock = field(default_factory=asyncio.Lock)  # one build at a time
    build_cgroup: str | None = None  # the build's own (docker_images.gate_build_cgroup)
    # What docker_audit keeps: calls recorded, the containers last seen, its background work,
    # and the student's names of the containers made through this gate, by engine id.
    names: dict[str, str] = field(default_factory=dict)
    recorded: int = 0
    snapshot: list[dict] = field(default_factory=list)
    running_seen: bool = False
    background: set[asyncio.Task] = field(default_factory=set)

    @property
    def prefix(self) -> str:
        return f"{settings.SANDBOX_NAMESPACE}-u{self.owner_id}-"

    def labels(self) -> dict[str, str]:
        return {
            engine.SANDBOX_LABEL: settings.SANDBOX_NAMESPACE,
            engine.RUN_LABEL: self.run_id,
            OWNER_LABEL: str(self.owner_id),
            VIA_LABEL: VIA,
        }

    def owner_filter(self) -> str:
        return f"{OWNER_LABEL}={self.owner_id}"

    def label_filters(self) -> list[str]:
        """What everything this student made through a gate carries (in this deployment)."""
        namespace = f"{engine.SANDBOX_LABEL}={settings.SANDBOX_NAMESPACE}"
        run = f"{engine.RUN_LABEL}={self.run_id}"  # this terminal's: all of it goes with it
        return [namespace, run, self.owner_filter(), f"{VIA_LABEL}={VIA}"]

    async def own_containers(self) -> list[engine.LabelledContainer]:
        """The containers this student made through a gate (theirs alone, in this deployment)."""
        async with self.engine_calls:
            through_gates = await asyncio.to_thread(
                engine.labelled_containers, None, f"{VIA_LABEL}={VIA}"
            )
            mine = await asyncio.to_thread(engine.labelled_containers, None, self.owner_filter())
        ids = {container.id for container in mine}
        return [container for container in through_gates if container.id in ids]

    async def own_container(self, ref: str) -> str | None:
        """The engine id of the student's container named `ref` (their name, their container's
        id or a unique prefix of it), or None for anything else: another student's and a missing
        one look the same. Resolved among the student's own containers only, never engine-wide."""
        own = await self.own_containers()
        for container in own:
            if ref == container.id or container.name == self.prefix + ref:
                return container.id
        matches = [container.id for container in own if ref and container.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    async def shown_name(self, container_id: str) -> str:
        """The student's name for their container (as `docker ps` shows it)."""
        for container in await self.own_containers():
            if container.id == container_id:
                return container.name.removeprefix(self.prefix)
        return ""


async def open_gate(
    owner_id: int, run_id: str, fresh: bool = True, playground_id: str | None = None
) -> Gate:
    """Serve a playground's socket; the terminal mounts its folder. `fresh`: the folder made
    anew (a new terminal); else kept, the socket alone made again (a terminal re-adopted after
    a restart still mounts that very folder). `playground_id`: whose row the calls and the
    containers are recorded on (docker_audit)."""
    where = folder(run_id)
    await asyncio.to_thread(_fresh_folder if fresh else _same_folder, where)
    gate = Gate(owner_id, run_id, playground_id)
    if playground_id is not None:
        audit.refresh_soon(gate)  # a re-adopted terminal's containers are on the dashboard again
        audit.in_background(gate, audit.refresh_while_running(gate))
    gate.server = await asyncio.start_unix_server(
        lambda reader, writer: _serve(gate, reader, writer), path=str(where / "docker.sock")
    )
    # The terminal's user (uid 1000) must be able to connect; nobody else can see the folder's
    # socket, which is mounted into that one terminal only.
    os.chmod(where / "docker.sock", 0o666)
    return gate


def _fresh_folder(where: Path) -> None:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True, mode=0o755)


def _same_folder(where: Path) -> None:
    where.mkdir(parents=True, mode=0o755, exist_ok=True)
    (where / "docker.sock").unlink(missing_ok=True)


async def close_gate(gate: Gate) -> None:
    """Stop answering: no new connection, and the open ones (a `logs -f`, an attach) cut."""
    if gate.server is not None:
        gate.server.close()
    for task in [*gate.connections, *gate.background]:
        task.cancel()
    if gate.connections:
        await asyncio.wait(list(gate.connections), timeout=5)
    if gate.server is not None:
        with suppress(Exception):
            await asyncio.wait_for(gate.server.wait_closed(), 5)
    await asyncio.to_thread(shutil.rmtree, folder(gate.run_id), True)


# --- One connection of the CLI ------------------------------------------------------------


async def _serve(gate: Gate, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    client = h11.Connection(h11.SERVER, max_incomplete_event_size=16 * 1024)
    if len(gate.connections) >= MAX_CONNECTIONS:
        writer.close()  # the CLI says it cannot connect; the ones open go on
        return
    if (task := asyncio.current_task()) is not None:
        gate.connections.add(task)
        task.add_done_callback(gate.connections.discard)
    try:
        while True:
            request = await asyncio.wait_for(relay.read_request(client, reader), REQUEST_SECONDS)
            if request is None:
                return
            upgraded = await _answer(gate, client, writer, reader, *request)
            if upgraded or client.our_state is h11.MUST_CLOSE:
                return
            client.start_next_cycle()
    except (h11.ProtocolError, ConnectionError, asyncio.IncompleteReadError, TimeoutError) as error:
        log.info("docker gate of %s: connection ended (%s)", gate.run_id, error)
    except asyncio.CancelledError:
        pass  # the gate closed (close_gate): the connection simply ends
    except Exception:
        log.exception("docker gate of %s: a request failed", gate.run_id)
    finally:
        writer.close()


async def _answer(
    gate: Gate,
    client: h11.Connection,
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    request: h11.Request,
    body: bytes,
) -> bool:
    """Answer one request; True when the connection was upgraded (and is over)."""
    method = request.method.decode()
    said = method  # what it was, for the record, until it is known better
    try:
        try:
            target = urlsplit(request.target.decode("latin-1"))
        except ValueError as error:
            raise policy.Refused("요청의 주소를 읽을 수 없어요.", 400) from error
        said = f"{method} {target.path}"
        found = policy.route(method, target.path)
        said = audit.summary(found, target.query, body, gate.names) or ""
        try:
            upgraded = await _answer_found(gate, client, writer, reader, request, body, found)
        finally:
            if found.name in audit.CHANGING:
                audit.refresh_soon(gate)
        if said:
            audit.record(gate, said)
        return upgraded
    except policy.Refused as refused:
        audit.record(gate, f"{said or method} — {refused}", refused=True)
        await relay.send_json(client, writer, refused.status, {"message": f"배움: {refused}"})
        return False


async def _answer_found(
    gate: Gate,
    client: h11.Connection,
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    request: h11.Request,
    body: bytes,
    found: policy.Route,
) -> bool:
    target = urlsplit(request.target.decode("latin-1"))
    method = request.method.decode()
    try:
        if found.name == "images.build":  # one build at a time a student, from its checks on
            if gate.building.locked():
                raise policy.Refused("이미 빌드 중이에요. 끝나면 다시 빌드해 보세요.", 409)
            async with gate.building:
                forward = await _forwarded(gate, found, method, target.path, target.query, body)
                if isinstance(forward, Answer):
                    await relay.send_json(client, writer, forward.status, forward.body)
                    return False
                return await _relayed(gate, client, writer, reader, found, forward, False)
        if found.name == "containers.create":
            async with gate.creating:  # the quota's count and the engine's create, together
                forward = await _forwarded(gate, found, method, target.path, target.query, body)
                if isinstance(forward, Answer):
                    await relay.send_json(client, writer, forward.status, forward.body)
                    return False
                return await _relayed(gate, client, writer, reader, found, forward, False)
        forward = await _forwarded(gate, found, method, target.path, target.query, body)
    except (ValueError, AttributeError, TypeError, KeyError):  # a body not the JSON it should be
        await relay.send_json(
            client, writer, 400, {"message": "배움: 요청의 내용을 읽을 수 없어요."}
        )
        return False
    except engine.EngineError as error:  # the engine refused what the gate asked of it itself
        log.warning("docker gate of %s: the engine refused (%s)", gate.run_id, error)
        message = "배움: 도커 엔진이 이 요청을 처리하지 못했어요. 잠시 후 다시 해 보세요."
        await relay.send_json(client, writer, 500, {"message": message})
        return False
    except engine.EngineUnavailable:
        message = "배움: 도커 엔진에 연결할 수 없어요. 잠시 후 다시 해 보세요."
        await relay.send_json(client, writer, 503, {"message": message})
        return False
    if isinstance(forward, Answer):
        await relay.send_json(client, writer, forward.status, forward.body)
        return False
    upgrade = any(name.lower() == b"upgrade" for name, _ in request.headers)
    return await _relayed(gate, client, writer, reader, found, forward, upgrade)


async def _relayed(
    gate: Gate,
    client: h11.Connection,
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    found: policy.Route,
    forward: relay.Forward,
    upgrade: bool,
) -> bool:
    transform = shown.REWRITTEN.get(found.name)
    # Images are named apart from containers, networks and volumes (docker_images).
    prefix: object = (
        images.shown_prefixes(gate) if found.name.startswith("images.") else gate.prefix
    )
    # The student's name of a container being made (`docker run --name web1`), for the record.
    name = (parse_qs(urlsplit(forward.path).query).get("name") or [""])[0].removeprefix(gate.prefix)

    def rewrite(status: int, body: bytes) -> bytes:
        if status >= 400:  # the engine's words, with the student's own names
            for engine_prefix, shown_prefix in images.shown_prefixes(gate).items():
                body = body.replace(engine_prefix.encode(), shown_prefix.encode())
            return body.replace(gate.prefix.encode(), b"")
        if transform is None or not body:
            return body
        answer = transform(prefix, json.loads(body))
        if found.name == "exec.create" and isinstance(answer, dict):
            gate.execs.add(str(answer["Id"]))
        if found.name == "containers.create" and isinstance(answer, dict) and name:
            gate.names[str(answer["Id"])] = name
        return json.dumps(answer).encode()

    streamed = {"images.build", "images.push", "images.pull"}
    each = images.shown_stream(gate) if found.name in streamed else None
    if found.name != "images.build":
        return await relay.relay(
            client, writer, reader, forward, upgrade, rewrite, transform is not None, each
        )
    # A few builds at a time in all (one a student: _answer_found), each within its time limit.
    async with images.builds():
        deadline = asyncio.get_running_loop().time() + settings.SANDBOX_BUILD_SECONDS
        try:
            return await relay.relay(
                client,
                writer,
                reader,
                forward,
                upgrade,
                rewrite,
                False,
                each,
                deadline,
                images.past_deadline(),
            )
        finally:
            audit.in_background(gate, images.end_build(gate, gate.build_cgroup))


def _no_such_container(ref: str) -> Answer:
    return Answer(404, {"message": f"No such container: {ref}"})


async def _forwarded(
    gate: Gate, found: policy.Route, method: str, path: str, query: str, body: bytes
) -> relay.Forward | Answer:
    """The request as the engine gets it, or the gate's own answer."""
    version = f"/v{found.version}" if found.version else ""
    if found.name in {"ping", "version"}:
        return relay.Forward(method, path)
    if found.name == "images.pull":
        params = parse_qs(query)
        wanted = (params.get("fromImage") or [""])[0]
        if tag := (params.get("tag") or [""])[0]:
            wanted = f"{wanted}:{tag}"
        if wanted.startswith(images.IN_REGISTRY):
            return await images.pull(gate, wanted, version)
        if await images.local_image(gate, wanted):
            return Answer(200, {"status": f"{wanted}: 이 서버의 선반에 이미 있어요"})
        shelf = ", ".join(sorted(SHELF))
        message = (
            f"배움: 이미지 {wanted}은(는) 이 서버의 선반에 없어요 "
            f"(인터넷에 나가지 않아요). 있는 것: {shelf}"
        )
        return Answer(404, {"message": message})
    if found.name == "missing":
        return Answer(404, {"message": f"No such object: {found.ref}"})
    if found.name in {"images.inspect", "images.history", "images.tag", "images.remove"}:
        return await images.image_call(gate, found.name, found.ref, version, query)
    if found.name == "images.build":
        return await images.build(gate, version, query, body)
    if found.name == "images.push":
        return await images.push(gate, found.ref, version, query)
    if found.name == "info":
        return Answer(200, await _info(gate))
    if found.name in LISTED:
        path, allowed = LISTED[found.name]
        return relay.Forward(method, f"{version}{path}?{_narrowed(gate, query, allowed)}")
    if found.name == "networks.create":
        return await objects.create_network(gate, body)
    if found.name == "volumes.create":
        return await objects.create_volume(gate, body)
    if found.name.startswith("networks."):
        return await objects.network_call(gate, found.name, found.ref, version, body)
    if found.name.startswith("volumes."):
        return await objects.volume_call(gate, found.name, found.ref, version)
    if found.name == "images.list":
        return relay.Forward(method, f"{version}/images/json")
    if found.name == "containers.create":
        return await _create(gate, version, query, body)
    if found.name.startswith("exec.") and found.name != "exec.create":
        if found.exec_id not in gate.execs:
            return Answer(404, {"message": f"No such exec instance: {found.exec_id}"})
        return relay.Forward(method, f"{path}?{query}", body)  # its own: as asked
    container = await gate.own_container(found.ref)
    if container is None:
        return _no_such_container(found.ref)
    rest = path.split(f"/containers/{found.ref}", 1)[1]
    if found.name == "containers.top":
        # Never the student's `ps` options: the engine runs `ps` on the host, and with options
        # of the student's choosing it would list the host's processes (`docker top` shows the
        # container's with the default ones).
        return relay.Forward(method, f"{version}/containers/{container}{rest}")
    if found.name == "exec.create":
        if len(gate.execs) >= MAX_EXECS:
            raise policy.Refused("docker exec를 너무 많이 했어요. 터미널을 다시 열어 주세요.", 429)
        checked = policy.exec_create(json.loads(body or b"{}"))
        return relay.Forward(
            method, f"{version}/containers/{container}{rest}", json.dumps(checked).encode()
        )
    if found.name in {"containers.stop", "containers.restart"}:
        params = parse_qs(query)
        seconds = (params.get("t") or [""])[0]
        if seconds and not (
            seconds.lstrip("-").isdigit() and int(seconds) <= policy.MAX_STOP_SECONDS
        ):
            raise policy.Refused(f"-t는 {policy.MAX_STOP_SECONDS}초까지만 돼요.", 400)
    return relay.Forward(method, f"{version}/containers/{container}{rest}?{query}", body)


# Listings, narrowed to the student's own: the engine's path, and the filters a student may add.
LISTED = {
    "containers.list": ("/containers/json", policy.FILTERS),
    "networks.list": ("/networks", policy.NETWORK_FILTERS),
    "volumes.list": ("/volumes", policy.VOLUME_FILTERS),
}


def _narrowed(gate: Gate, query: str, allowed: set[str]) -> str:
    """A listing's query with the student's own labels added to their filters."""
    params = parse_qs(query)
    filters = json.loads(params.pop("filters", ["{}"])[0] or "{}")
    policy.check_filters(filters, allowed)
    for named in ("network", "volume"):  # a student's own, by their name for it
        if isinstance(values := filters.get(named), dict):
            filters[named] = {gate.prefix + value: True for value in values}
        elif isinstance(values, list):
            filters[named] = [gate.prefix + value for value in values]
    # The CLI writes filters as {"name": {"web1": true}} (older ones as lists): ours in kind.
    labels = filters.get("label") or {}
    if isinstance(labels, list):
        filters["label"] = [*labels, *gate.label_filters()]
    else:
        filters["label"] = {**labels, **dict.fromkeys(gate.label_filters(), True)}
    params["filters"] = [json.dumps(filters)]
    return urlencode(params, doseq=True)


async def _create(gate: Gate, version: str, query: str, body: bytes) -> relay.Forward | Answer:
    asked = json.loads(body or b"{}")
    image = await images.local_image(gate, str(asked.get("Image", "")))
    if image is None:
        return Answer(404, {"message": f"No such image: {asked.get('Image', '')}"})
    params = parse_qs(query)
    name = (params.get("name") or [""])[0]
    if name and not policy.NAME.fullmatch(name):
        raise policy.Refused(f"컨테이너 이름 {name}은(는) 쓸 수 없어요 (영문자·숫자·_.- 로).", 400)
    have = await gate.own_containers()
    if len(have) >= settings.SANDBOX_DOCKER_MAX_CONTAINERS:
        raise policy.Refused(
            f"컨테이너는 한 사람에 {settings.SANDBOX_DOCKER_MAX_CONTAINERS}개까지 둘 수 있어요 "
            f"(지금 {len(have)}개). `docker ps -a`로 보고 `docker rm`으로 지운 다음 "
            "다시 해 보세요.",
            409,
        )
    profile, labels = student_container(), gate.labels()
    policy.container_create(asked, image, profile, labels)  # refused before anything is made
    joined = await objects.joined(gate, asked, name)
    if isinstance(joined, Answer):
        return joined
    binds = await objects.binds(gate, policy.asked_mounts(asked))
    async with gate.engine_calls:
        declared = (await asyncio.to_thread(engine.image_info, image))["Config"].get("Volumes")
    made = policy.container_create(asked, image, profile, labels, joined, binds)
    policy.cover_image_volumes(made, list(declared or {}), {bind.split(":")[1] for bind in binds})
    target = f"{version}/containers/create"
    if name:
        target += f"?name={gate.prefix}{name}"
    return relay.Forward("POST", target, json.dumps(made).encode())


async def _info(gate: Gate) -> dict:
    """A summary of the student's own corner, never the shared engine's whole picture."""
    mine = await gate.own_containers()
    return {
        "ID": "baeum",
        "Name": "baeum",
        "Containers": len(mine),
        "ContainersRunning": sum(c.status == "running" for c in mine),
        "ContainersPaused": 0,
        "ContainersStopped": sum(c.status != "running" for c in mine),
        "Images": len(SHELF),
        "OperatingSystem": "배움 실습 서버 (공유 Docker Engine, 학생마다 자기 것만 보여요)",
        "OSType": "linux",
        "Architecture": "x86_64",
        "ServerVersion": "20.10",
        "Driver": "overlay2",
        "SecurityOptions": ["name=seccomp,profile=default", "name=no-new-privileges"],
        "Warnings": [],
    }
