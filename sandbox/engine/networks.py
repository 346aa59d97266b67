"""Networks: a run's internal one, a playground's private one on a subnet of its own, the
gates' uplink; listed by the deployment's labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass

import docker
from docker.errors import APIError, NotFound

from sandbox.engine.client import call
from sandbox.engine.profile import RUN_LABEL, label_filter, object_labels
from sandbox.errors import EngineError


def create_run_network(run_id: str) -> str:
    """A private network for one run's containers: internal, so nothing is forwarded out, and
    with no host address on its bridge, so the host's own services cannot be reached either."""
    name = f"baeum-run-{run_id}"
    with call() as client:
        client.networks.create(
            name,
            driver="bridge",
            internal=True,
            options={"com.docker.network.bridge.inhibit_ipv4": "true"},
            labels=object_labels(run_id),
        )
    return name


def create_private_network(
    name: str, run_id: str, subnets: Iterable[str], labels: dict[str, str] | None = None
) -> str:
    """Like create_run_network (internal, no host address), but on the first of `subnets` that
    is free: the engine's default address pools hold only about thirty networks, too few for a
    network per student. Two deployments on one engine simply skip each other's subnets.
    `labels` go beside the run's (a student's network through the Docker gate: its owner)."""
    with call() as client:
        for subnet in subnets:
            pool = docker.types.IPAMPool(subnet=subnet)
            try:
                client.networks.create(
                    name,
                    driver="bridge",
                    internal=True,
                    options={"com.docker.network.bridge.inhibit_ipv4": "true"},
                    ipam=docker.types.IPAMConfig(pool_configs=[pool]),
                    labels={**(labels or {}), **object_labels(run_id)},
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
    with call() as client:
        try:
            network = client.networks.get(name)
        except NotFound:
            try:
                network = client.networks.create(
                    name, driver="bridge", labels=object_labels(run_id)
                )
            except APIError:  # made meanwhile by another request
                network = client.networks.get(name)
        return network.attrs["IPAM"]["Config"][0]["Gateway"]


def connect_network(name: str, container_id: str, aliases: list[str]) -> None:
    with call() as client:
        client.api.connect_container_to_network(container_id, name, aliases=aliases)


def leave_no_network(container_id: str) -> None:
    """Take a container off the engine's `none` network, which it cannot share with another:
    before it is connected to a network of its own."""
    with call() as client:
        networks = client.api.inspect_container(container_id)["NetworkSettings"]["Networks"]
        if "none" in (networks or {}):
            client.api.disconnect_container_from_network(container_id, "none")


def networks_labelled(*labels: str) -> list[dict]:
    """The engine's listing of the networks that carry every one of `labels` ("key=value")."""
    with call() as client:
        return client.api.networks(filters={"label": list(labels)})


def bridge_device(name: str) -> str:
    """The host's bridge device of a bridge network (its rules in the host's iptables name it)."""
    with call() as client:
        network = client.networks.get(name)
    return network.attrs["Options"].get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"


def remove_network(name: str) -> None:
    with call() as client, suppress(NotFound):
        client.api.remove_network(name)


@dataclass(frozen=True)
class LabelledNetwork:
    name: str
    run_id: str


def labelled_networks(namespace: str | None = None) -> list[LabelledNetwork]:
    label = label_filter(namespace)
    with call() as client:
        found = client.api.networks(filters={"label": label})
        return [
            LabelledNetwork(n["Name"], (n.get("Labels") or {}).get(RUN_LABEL, "")) for n in found
        ]
