"""The engine's swarm mode, for the orchestration labs: services with rolling updates and
rollbacks, their tasks, a student's private overlay network.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import docker
import requests
from docker.errors import NotFound

from sandbox.engine.client import call
from sandbox.engine.profile import label_filter, service_confinement
from sandbox.errors import EngineError


def swarm_active() -> bool:
    with call() as client:
        return client.info().get("Swarm", {}).get("LocalNodeState") == "active"


def swarm_init() -> None:
    """Switch the engine into single-node swarm mode (an explicit step: it changes the engine)."""
    with call() as client:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")


def create_lab_network(name: str, labels: dict[str, str]) -> None:
    """A student's private overlay: internal (no route out), attachable (the load-balancing
    client joins it)."""
    with call() as client:
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
    """The service as the SDK takes it, confined by the hardening profile's share for services
    (profile.service_confinement)."""
    confinement = service_confinement(spec.memory, spec.cpus)
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
        healthcheck=health,
        labels=dict(spec.labels),
        **confinement["container"],
    )
    resources = docker.types.Resources(**confinement["resources"])
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
            log_driver=confinement["log_driver"],
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
    with call() as client:
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
    with call() as client:
        service = client.api.inspect_service(name)
        # The SDK has no rollback parameter; this is the engine API call `docker service
        # rollback` makes: the current spec, posted with rollback=previous. The SDK's API
        # client is a requests session, so the call goes through its public `post`.
        api = client.api
        response = api.post(
            f"{api.base_url}/v{api.api_version}/services/{service['ID']}/update",
            json=service["Spec"],
            params={"version": service["Version"]["Index"], "rollback": "previous"},
        )
        if not response.ok:
            raise EngineError(_engine_message(response))


def _engine_message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason)
    except ValueError:
        return response.text[:200] or response.reason


def service_state(name: str) -> dict | None:
    """The service as the engine sees it: desired replicas, image, update status, and tasks."""
    with call() as client:
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
    with call() as client, suppress(NotFound):
        client.api.remove_service(name)


def labelled_services(namespace: str | None = None) -> list[str]:
    label = label_filter(namespace)
    with call() as client:
        return [s["Spec"]["Name"] for s in client.api.services(filters={"label": label})]


def labelled_service_details(namespace: str | None = None) -> list[dict]:
    """This deployment's services with what recovery needs: name, labels, when created (seconds
    since the epoch) and the state of their last update (`rollback_completed` …)."""
    label = label_filter(namespace)
    with call() as client:
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
