"""What a student's docker CLI did, for their instructor: each call that acts, in the CLI's own
words (`run`'s create, `stop web1`, `network create app`), refusals with the gate's reason, and
the containers the student has, as the gate last saw them.

The calls are rows (sandbox.models.DockerCall) the class's terminal page lists; the containers a
snapshot on the playground's row (`docker_containers`) the dashboard's «지금 실행 중» shows,
taken after every call that changes them and, while any runs, every REFRESH_SECONDS (a
container ends by itself too). Both are written by the supervisor and read by the web side, so
they hold in the scaled-out shape; a write that fails (the database away) is logged and the
CLI goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from collections.abc import Coroutine
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from sandbox import engine, hooks
from sandbox.models import DockerCall, Playground
from sandbox.supervisor import docker_policy as policy

if TYPE_CHECKING:
    from sandbox.supervisor.docker_gate import Gate

log = logging.getLogger(__name__)

# The calls that change what a student has: the snapshot is taken again after each.
CHANGING = {
    "containers.create",
    "containers.start",
    "containers.stop",
    "containers.restart",
    "containers.kill",
    "containers.remove",
    "containers.wait",
    "containers.attach",
}
REFRESH_SECONDS = 15
# A gate records at most this many calls (a loop of `docker start` must not fill the database).
MAX_RECORDED = 1000
SUMMARY_CHARS = 300

_VERBS = {
    "containers.start": "start",
    "containers.stop": "stop",
    "containers.restart": "restart",
    "containers.kill": "kill",
    "containers.logs": "logs",
    "networks.remove": "network rm",
    "volumes.remove": "volume rm",
}


def _words(value: object) -> str:
    if isinstance(value, list):
        return shlex.join(str(word) for word in value)
    return str(value or "")


def summary(
    found: policy.Route, query: str, body: bytes, names: dict[str, str] | None = None
) -> str | None:
    """The call in the CLI's words, or None for one that only reads (ps, inspect, images …).
    `names`: the student's names of containers by engine id (`docker run` starts by id). A body
    of the wrong shape is the gate's to refuse, not the record's: it is summarized without."""
    try:
        return _summary(found, query, body, names)
    except (AttributeError, TypeError, KeyError, ValueError):
        return _summary(found, query, b"", names)


def _summary(
    found: policy.Route, query: str, body: bytes, names: dict[str, str] | None
) -> str | None:
    params = {key: values[0] for key, values in parse_qs(query).items()}
    ref = (names or {}).get(found.ref) or (found.ref[:12] if len(found.ref) == 64 else found.ref)
    found = policy.Route(found.name, found.version, ref, found.exec_id)
    try:
        asked = json.loads(body) if body else {}
    except ValueError:
        asked = {}
    if not isinstance(asked, dict):
        asked = {}
    name = found.name
    if name == "containers.create":
        host = asked.get("HostConfig") or {}
        words = ["create"]
        if params.get("name"):
            words += ["--name", params["name"]]
        if host.get("NetworkMode") not in (None, "", "default", "bridge"):
            words += ["--network", str(host["NetworkMode"])]
        for bind in host.get("Binds") or []:
            words += ["-v", str(bind)]
        words.append(str(asked.get("Image", "")))
        return " ".join(words) + (f" {_words(asked['Cmd'])}" if asked.get("Cmd") else "")
    if name == "containers.remove":
        return f"rm {'-f ' if params.get('force') in ('1', 'true') else ''}{found.ref}"
    if name in _VERBS:
        follow = (
            " -f" if name == "containers.logs" and params.get("follow") in ("1", "true") else ""
        )
        return f"{_VERBS[name]}{follow} {found.ref}"
    if name == "exec.create":
        return f"exec {found.ref} {_words(asked.get('Cmd'))}"
    if name == "networks.create":
        return f"network create {asked.get('Name', '')}"
    if name in {"networks.connect", "networks.disconnect"}:
        verb = name.split(".")[1]
        return f"network {verb} {found.ref} {asked.get('Container', '')}"
    if name == "volumes.create":
        return f"volume create {asked.get('Name', '')}".rstrip()
    if name == "images.pull":
        return f"pull {params.get('fromImage', '')}"
    return None


def record(gate: Gate, text: str, refused: bool = False) -> None:
    """Keep one call (in the background: the CLI never waits for the database)."""
    if gate.playground_id is None or gate.recorded >= MAX_RECORDED:
        return
    gate.recorded += 1
    if gate.recorded == MAX_RECORDED:
        text, refused = "… (명령이 너무 많아 이후는 기록하지 않아요)", False
    in_background(gate, _save_call(gate.playground_id, text[:SUMMARY_CHARS], refused))


async def _save_call(playground_id: str, text: str, refused: bool) -> None:
    try:
        await DockerCall.objects.acreate(playground_id=playground_id, summary=text, refused=refused)
    except Exception:
        log.exception("docker gate: recording a call of %s failed", playground_id)


def refresh_soon(gate: Gate) -> None:
    """Take the snapshot of the student's containers again, in the background."""
    if gate.playground_id is not None:
        in_background(gate, refresh(gate))


async def refresh(gate: Gate) -> None:
    """The student's containers as the engine has them now, on the playground's row; the
    dashboards are told when it changed."""
    try:
        containers = await gate.own_containers()
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.info("docker gate of %s: no snapshot (%s)", gate.run_id, error)
        return
    snapshot = [
        {
            "name": container.name.removeprefix(gate.prefix),
            "image": policy.SHOWN.get(container.image, container.image),
            "state": container.status,
            "created": container.created,
        }
        for container in sorted(containers, key=lambda container: container.created)
    ]
    gate.running_seen = any(item["state"] == "running" for item in snapshot)
    if snapshot == gate.snapshot or gate.playground_id is None:
        return
    gate.snapshot = snapshot
    try:
        await Playground.objects.filter(pk=gate.playground_id).aupdate(docker_containers=snapshot)
        await asyncio.to_thread(hooks.terminal_changed, gate.owner_id)
    except Exception:
        log.exception("docker gate of %s: saving the snapshot failed", gate.run_id)


async def refresh_while_running(gate: Gate) -> None:
    """While any of the student's containers runs, look again now and then: one that ends by
    itself (`docker run -d busybox sleep 5`) leaves «지금 실행 중» too."""
    while True:
        await asyncio.sleep(REFRESH_SECONDS)
        if gate.running_seen:
            await refresh(gate)


def in_background(gate: Gate, work: Coroutine) -> None:
    task = asyncio.ensure_future(work)
    gate.background.add(task)
    task.add_done_callback(gate.background.discard)
