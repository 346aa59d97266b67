"""Orchestration labs on the engine's swarm mode: a student's Kubernetes Deployment manifest,
validated against the real Kubernetes schemas, becomes a swarm service of replicas on the
student's private overlay network. Swarm mode is the orchestrator at hand on one machine;
DESIGN.md says where it and Kubernetes differ and how a real cluster would slot in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from sandbox import engine
from sandbox.manifests import ManifestError, parse
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger(__name__)

LAB_LABEL = "baeum.lab"


class OrchestrationOff(RuntimeError):
    """The engine is not in swarm mode: say how to switch it on."""


@dataclass
class Lab:
    owner_id: int
    service: str
    network: str
    expires: float
    killed_at: float | None = None
    killed_task: str = ""
    recovery_seconds: float | None = None
    manifest: str = ""
    rolled_back: bool = False
    balanced_replicas: int = 0


def _labels(owner_id: int) -> dict[str, str]:
    return {
        engine.SANDBOX_LABEL: settings.SANDBOX_NAMESPACE,
        engine.RUN_LABEL: f"lab-u{owner_id}",
        LAB_LABEL: str(owner_id),
    }


def ensure_swarm() -> None:
    if not engine.swarm_active():
        raise OrchestrationOff(
            _(
                "도커 엔진이 스웜 모드가 아니에요. "
                "관리자가 `make orchestration`을 한 번 실행해야 해요."
            )
        )


def apply(owner_id: int, text: str) -> Lab:
    """Blocking: validate, then create or update the student's service (one lab per student)."""
    deployment = parse(text)
    ensure_swarm()
    labels = _labels(owner_id)
    network = f"baeum-lab-u{owner_id}-{settings.SANDBOX_NAMESPACE}"[:63]
    service = f"baeum-u{owner_id}-{deployment.name}-{settings.SANDBOX_NAMESPACE}"[:63]
    lab = SUPERVISED.labs.get(owner_id)
    if lab is not None and lab.service != service:
        engine.remove_service(lab.service)  # one lab per student: a new name replaces it
    if network not in {n.name for n in engine.labelled_networks()}:
        engine.create_lab_network(network, labels)
    engine.apply_service(
        engine.ServiceSpec(
            name=service,
            image=deployment.image,
            command=deployment.command,
            replicas=deployment.replicas,
            network=network,
            labels=tuple(labels.items()),
            memory=deployment.memory,
            cpus=deployment.cpus,
            health_command=deployment.health_command,
            parallelism=deployment.parallelism,
            order=deployment.order,
        )
    )
    expires = time.monotonic() + settings.SANDBOX_LAB_SECONDS
    SUPERVISED.labs[owner_id] = Lab(owner_id, service, network, expires, manifest=text)
    return SUPERVISED.labs[owner_id]


def state(owner_id: int) -> dict | None:
    lab = SUPERVISED.labs.get(owner_id)
    if lab is None:
        return None
    found = engine.service_state(lab.service)
    if found is None:
        return None
    running = [t for t in found["tasks"] if t["state"] == "running" and t["desired"] == "running"]
    found["running"] = len(running)
    found["cards"] = sorted(
        (t for t in found["tasks"] if t["desired"] == "running" or t["state"] == "running"),
        key=lambda t: (t["slot"] or 0, t["since"]),
    )
    if lab.killed_at is not None and lab.recovery_seconds is None:
        # Recovered once the killed replica is gone and the count is back where it should be.
        killed_alive = any(t["id"] == lab.killed_task for t in running)
        if not killed_alive and found["running"] >= found["replicas"]:
            lab.recovery_seconds = round(time.monotonic() - lab.killed_at, 1)
    found["recovery_seconds"] = lab.recovery_seconds
    found["recovering"] = lab.killed_at is not None and lab.recovery_seconds is None
    return found


def kill_replica(owner_id: int, task_id: str) -> bool:
    """Kill one replica's container (as a crash would); the orchestrator must notice."""
    lab = SUPERVISED.labs.get(owner_id)
    found = engine.service_state(lab.service) if lab else None
    task = next((t for t in (found or {}).get("tasks", []) if t["id"] == task_id), None)
    if lab is None or task is None or not task["container"]:
        return False  # not this student's replica, or not running
    engine.kill(task["container"])
    lab.killed_at, lab.killed_task, lab.recovery_seconds = time.monotonic(), task_id, None
    return True


def rollback(owner_id: int) -> None:
    lab = SUPERVISED.labs.get(owner_id)
    if lab is not None:
        engine.rollback_service(lab.service)
        lab.rolled_back = True


def load_balance(owner_id: int, requests: int = 12) -> list[str]:
    """From a client container on the student's network, call the service name `requests`
    times; return which replica answered each."""
    lab = SUPERVISED.labs.get(owner_id)
    if lab is None:
        return []
    service = lab.service
    command = (
        f"for i in $(seq {requests}); do timeout 2 wget -qO- http://{service}:8080/ "
        "|| echo '응답 없음'; done"
    )
    container_id = engine.create_container(
        engine.ContainerSpec("baeum/lab", command, f"lab-u{owner_id}", network=lab.network)
    )
    try:
        stream = engine.attach(container_id)
        engine.start(container_id)
        output = b"".join(stream.chunks()).decode(errors="replace")
        stream.close()
    finally:
        engine.remove(container_id)
    answers = [line for line in output.splitlines() if line.strip()]
    lab.balanced_replicas = len({a for a in answers if a.startswith("web ")})
    return answers


def end(owner_id: int) -> None:
    """Remove the student's service, wait for its replicas to go, then its network."""
    lab = SUPERVISED.labs.pop(owner_id, None)
    if lab is None:
        return
    engine.remove_service(lab.service)
    run_label = f"lab-u{owner_id}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not any(c.run_id == run_label for c in engine.labelled_containers()):
            break
        time.sleep(0.3)
    while time.monotonic() < deadline:
        try:
            engine.remove_network(lab.network)
            return
        except engine.EngineError:
            time.sleep(0.3)  # the last task is still leaving the network


def expire_due() -> int:
    ended = 0
    for owner_id, lab in list(SUPERVISED.labs.items()):
        if lab.expires <= time.monotonic():
            end(owner_id)
            ended += 1
    return ended


def recover() -> list[int]:
    """Blocking, at start-up, before the first reap: re-adopt the labs a previous process of
    this deployment left running, from their services' labels (owner, namespace) and the
    engine's view of them (created: the lab's time left; an update status of rollback: rolled
    back), so the reaper holds them instead of removing them with the student's work. What lived
    only in the old process's memory (the measured healing time, the balancing count) is not
    known; the student's passed checks are attempts in the database. Returns the owners."""
    try:
        if not engine.swarm_active():
            return []
        services = engine.labelled_service_details()
    except (engine.EngineUnavailable, engine.EngineError) as error:
        log.warning("labs not recovered: %s", error)
        return []
    adopted = []
    for service in sorted(services, key=lambda s: s["created"], reverse=True):
        try:
            owner_id = int(service["labels"].get(LAB_LABEL, ""))
        except ValueError:
            continue
        if owner_id in SUPERVISED.labs:
            continue  # followed already, or an older service of the same student (reaped)
        age = max(0.0, time.time() - service["created"]) if service["created"] else 0.0
        SUPERVISED.labs[owner_id] = Lab(
            owner_id,
            service["name"],
            f"baeum-lab-u{owner_id}-{settings.SANDBOX_NAMESPACE}"[:63],
            time.monotonic() + settings.SANDBOX_LAB_SECONDS - age,
            rolled_back=service["update"].startswith("rollback"),
        )
        adopted.append(owner_id)
    if adopted:
        log.info("re-adopted %d lab(s) after a restart", len(adopted))
    return adopted


async def wait_until(owner_id: int, predicate, timeout: float = 60) -> dict:
    """Poll the lab's state until `predicate(state)` holds (tests, the lab socket)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(state, owner_id)
        if found is not None and predicate(found):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"lab state never matched: {found}")
        await asyncio.sleep(0.3)


# What web code asks the sandbox supervisor (sandbox/api/labs.py asks; these answer). Labs are
# held by the supervisor (SUPERVISED.labs above), so any web worker sees the same lab.


async def on_apply(owner_id: int, text: str) -> str:
    try:
        await asyncio.to_thread(apply, owner_id, text)
    except (ManifestError, OrchestrationOff) as error:
        return str(error)  # refused, in words for the student
    return ""


async def on_state(owner_id: int) -> dict | None:
    found = await asyncio.to_thread(state, owner_id)
    lab = SUPERVISED.labs.get(owner_id)
    if found is None or lab is None:
        return None
    return {
        **found,
        "rolled_back": lab.rolled_back,
        "balanced_replicas": lab.balanced_replicas,
        "manifest": lab.manifest,
    }


async def on_kill(owner_id: int, task_id: str) -> bool:
    return await asyncio.to_thread(kill_replica, owner_id, task_id)


async def on_rollback(owner_id: int) -> None:
    await asyncio.to_thread(rollback, owner_id)


async def on_balance(owner_id: int, requests: int) -> list[str] | None:
    if owner_id not in SUPERVISED.labs:
        return None
    return await asyncio.to_thread(load_balance, owner_id, requests)
