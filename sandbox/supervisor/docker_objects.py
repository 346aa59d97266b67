"""A student's networks and named volumes through the Docker gate (docker_gate.py), on the
engine, each under the student's quota and always the student's own.

- A network is an internal bridge (no route out, no host address) on a /28 of
  SANDBOX_DOCKER_SUBNETS, named `<deployment>-u<owner>-<name>` on the engine. A container made
  on it is reached there by its own name and its --network-alias names.
- A volume is a tmpfs of the volume profile's size (engine.profile.VOLUME_OPTIONS): nothing a
  student writes reaches the host's disk. A tmpfs keeps its files only while mounted, so each
  volume has a keeper: a small hardened container that holds it mounted for as long as the
  volume lives, so what one container wrote is there for the next (as on any engine).

Everything carries the deployment's, the playground's and the owner's labels, so it goes with
the terminal (remove_made) and the reaper treats a leftover like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.conf import settings

from sandbox import engine
from sandbox.supervisor import docker_policy as policy
from sandbox.supervisor import docker_shown as shown
from sandbox.supervisor.docker_relay import Answer, Forward

if TYPE_CHECKING:
    from sandbox.supervisor.docker_gate import Gate

SUBNET_PREFIX = 28  # up to 13 containers on one student network
KEEPER_COMMAND = "exec sleep 2147483647"
KEEPER_MEMORY = "16m"


def _network_missing(ref: str) -> Answer:
    return Answer(404, {"message": f"network {ref} not found"})


def _volume_missing(ref: str) -> Answer:
    return Answer(404, {"message": f"get {ref}: no such volume"})


# --- Networks -------------------------------------------------------------------------------


async def own_networks(gate: Gate) -> list[dict]:
    async with gate.engine_calls:
        return await asyncio.to_thread(engine.networks_labelled, *gate.label_filters())


def _resolve(objects: list[dict], prefix: str, ref: str, key: str) -> dict | None:
    """Among the student's own: by their name, a whole id or a unique id prefix (as the engine
    reads a reference); None for anything else, another student's or a missing one alike."""
    for found in objects:
        if found["Name"] == prefix + ref or (key and found.get(key) == ref):
            return found
    matches = [found for found in objects if key and ref and found.get(key, "").startswith(ref)]
    return matches[0] if len(matches) == 1 else None


async def own_network(gate: Gate, ref: str) -> dict | None:
    return _resolve(await own_networks(gate), gate.prefix, ref, "Id")


def subnets(name: str) -> Iterator[str]:
    """Every /28 of SANDBOX_DOCKER_SUBNETS, starting at one derived from the network's name, so
    that networks made at once rarely try the same one first."""
    pieces = list(
        ipaddress.ip_network(settings.SANDBOX_DOCKER_SUBNETS).subnets(new_prefix=SUBNET_PREFIX)
    )
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % len(pieces)
    for index in range(len(pieces)):
        yield str(pieces[(start + index) % len(pieces)])


async def create_network(gate: Gate, body: bytes) -> Answer:
    asked = json.loads(body or b"{}")
    name = policy.network_create(asked)
    async with gate.creating:
        have = await own_networks(gate)
        if any(network["Name"] == gate.prefix + name for network in have):
            return Answer(409, {"message": f"network with name {name} already exists"})
        limit = settings.SANDBOX_DOCKER_MAX_NETWORKS
        if len(have) >= limit:
            raise policy.Refused(
                f"네트워크는 한 사람에 {limit}개까지 만들 수 있어요 (지금 {len(have)}개). "
                "`docker network ls`로 보고 `docker network rm`으로 지운 다음 다시 해 보세요.",
                409,
            )
        labels = {**policy.own_labels(asked.get("Labels")), **gate.labels()}
        async with gate.engine_calls:
            made = await asyncio.to_thread(
                engine.create_private_network,
                gate.prefix + name,
                gate.run_id,
                subnets(gate.prefix + name),
                labels,
            )
        network = await own_network(gate, name)
    if network is None:  # removed at once by someone with the same socket: as if never made
        raise engine.EngineError(f"network {made} went away as it was made")
    return Answer(201, {"Id": network["Id"], "Warning": ""})


async def network_call(
    gate: Gate, name: str, ref: str, version: str, body: bytes
) -> Forward | Answer:
    """Inspect, remove, connect and disconnect, on the student's own network only."""
    network = await own_network(gate, ref)
    if network is None:
        return _network_missing(ref)
    target = f"{version}/networks/{network['Id']}"
    if name == "networks.inspect":
        return Forward("GET", target)
    if name == "networks.remove":
        return Forward("DELETE", target)
    asked = json.loads(body or b"{}")
    container_ref = str(asked.get("Container") or "")
    container = await gate.own_container(container_ref)
    if container is None:
        return Answer(404, {"message": f"No such container: {container_ref}"})
    if name == "networks.disconnect":
        forwarded = {"Container": container, "Force": bool(asked.get("Force"))}
        return Forward("POST", f"{target}/disconnect", json.dumps(forwarded).encode())
    aliases = policy.endpoint_aliases(asked.get("EndpointConfig") or {})
    own_name = await gate.shown_name(container)
    endpoint = {"Aliases": [*([own_name] if own_name else []), *aliases]}
    async with gate.engine_calls:
        await asyncio.to_thread(engine.leave_no_network, container)
    connect = {"Container": container, "EndpointConfig": endpoint}
    return Forward("POST", f"{target}/connect", json.dumps(connect).encode())


async def joined(gate: Gate, asked: dict, name: str) -> policy.Joined | Answer | None:
    """The network a new container asks for, resolved among the student's own (None: none)."""
    wanted = policy.asked_network(asked)
    if wanted is None:
        return None
    network_ref, aliases = wanted
    network = await own_network(gate, network_ref)
    if network is None:
        return _network_missing(network_ref)
    return policy.Joined(network["Name"], (*([name] if name else []), *aliases))


# --- Volumes --------------------------------------------------------------------------------


async def own_volumes(gate: Gate) -> list[dict]:
    async with gate.engine_calls:
        return await asyncio.to_thread(engine.volumes_labelled, *gate.label_filters())


async def own_volume(gate: Gate, ref: str) -> dict | None:
    return _resolve(await own_volumes(gate), gate.prefix, ref, "")


async def _made_volume(gate: Gate, name: str, labels: dict[str, str]) -> dict:
    """The student's volume `name`, made (with its keeper) if it is not there yet, within the
    quota. Called under gate.creating: counting and making happen together."""
    have = await own_volumes(gate)
    for volume in have:
        if volume["Name"] == gate.prefix + name:
            return volume
    limit = settings.SANDBOX_DOCKER_MAX_VOLUMES
    if len(have) >= limit:
        raise policy.Refused(
            f"볼륨은 한 사람에 {limit}개까지 만들 수 있어요 (지금 {len(have)}개). "
            "`docker volume ls`로 보고 `docker volume rm`으로 지운 다음 다시 해 보세요.",
            409,
        )
    engine_name = gate.prefix + name
    async with gate.engine_calls:
        await asyncio.to_thread(engine.ensure_volume, engine_name, {**labels, **gate.labels()})
        keeper = await asyncio.to_thread(
            engine.create_container,
            engine.ContainerSpec(
                policy.SHELF["busybox"],
                KEEPER_COMMAND,
                gate.run_id,
                memory=KEEPER_MEMORY,
                volume=engine_name,
            ),
        )
        await asyncio.to_thread(engine.start, keeper)
    made = await own_volume(gate, name)
    if made is None:
        raise engine.EngineError(f"volume {engine_name} went away as it was made")
    return made


async def create_volume(gate: Gate, body: bytes) -> Answer:
    asked = json.loads(body or b"{}")
    name = policy.volume_create(asked) or secrets.token_hex(32)
    async with gate.creating:
        volume = await _made_volume(gate, name, policy.own_labels(asked.get("Labels")))
    return Answer(201, shown.REWRITTEN["volumes.inspect"](gate.prefix, volume))


async def binds(gate: Gate, mounts: list[policy.Mount]) -> tuple[str, ...]:
    """The engine's binds for the named volumes a new container asks for: the student's own,
    made now if missing (as the CLI's `-v data:/d` makes `data`), within the quota. Called under
    gate.creating, so nothing removes a volume between this and the container's making."""
    made = []
    for mount in mounts:
        volume = await _made_volume(gate, mount.volume, {})
        made.append(f"{volume['Name']}:{mount.target}" + (":ro" if mount.read_only else ""))
    return tuple(made)


async def volume_call(gate: Gate, name: str, ref: str, version: str) -> Forward | Answer:
    """Inspect and remove, on the student's own volume only."""
    volume = await own_volume(gate, ref)
    if volume is None:
        return _volume_missing(ref)
    if name == "volumes.inspect":
        return Forward("GET", f"{version}/volumes/{volume['Name']}")
    async with gate.creating:
        users = [
            container
            for container in await gate.own_containers()
            if volume["Name"] in container.volumes
        ]
        if users:
            ids = ", ".join(container.id for container in users)
            return Answer(409, {"message": f"remove {ref}: volume is in use - [{ids}]"})
        async with gate.engine_calls:
            await asyncio.to_thread(_remove_with_keeper, gate.run_id, volume["Name"])
    return Answer(204, None)


def _remove_with_keeper(run_id: str, volume: str) -> None:
    for keeper in engine.labelled_containers(None, f"{engine.RUN_LABEL}={run_id}"):
        if volume in keeper.volumes:
            engine.remove(keeper.id)
    engine.remove_volume(volume)


def remove_made(run_id: str) -> None:
    """Everything a playground's student made through its gate, and the volumes' keepers:
    containers first (a network with containers on it, or a volume in use, cannot go), then
    networks, volumes and the images they built (blocking; what cannot go now is left to the
    reaper)."""
    run = f"{engine.RUN_LABEL}={run_id}"
    namespace = f"{engine.SANDBOX_LABEL}={settings.SANDBOX_NAMESPACE}"
    for container in engine.labelled_containers(None, run):
        engine.remove(container.id)
    for network in engine.networks_labelled(namespace, run):
        engine.remove_network(network["Name"])
    for volume in engine.volumes_labelled(namespace, run):
        engine.remove_volume(volume["Name"])
    for image in engine.images_labelled(namespace, run):
        engine.remove_image_forced(image["Id"])
