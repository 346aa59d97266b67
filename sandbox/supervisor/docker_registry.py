"""The deployment's registry for the students' `docker push` and `docker pull` of
`localhost:5000/…` (docker_images.py maps the names).

One container per deployment, made on first use: Debian's docker-registry (baeum/registry, built
by `build_lab_images` where prepare-machine kept its binary) under the hardening profile, its
storage in a capped /work tmpfs (nothing reaches the host's disk; it goes with the container),
on a plain bridge of its own with port 5000 published on the host's 127.0.0.1 alone, at a port
the engine picks. Only the engine talks to it (a push or pull is the engine's), and it needs no
auth: the gate names every repository after its student (`<deployment>-u<owner>/…`), so a
student reaches no one else's. It lives while any terminal does (SUPERVISED.held spares it)
and the reaper takes it afterwards; what was pushed goes with it.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from sandbox import engine, images

log = logging.getLogger(__name__)

RUN_ID = "docker-registry"  # its label: held while any terminal is
SHOWN = "localhost:5000"  # what a student calls it, as in every tutorial
PORT = 5000
STORAGE_BYTES = 256 * 2**20

_address: str | None = None
_starting: asyncio.Lock | None = None


def name() -> str:
    return f"{settings.SANDBOX_NAMESPACE}-registry"


def available() -> bool:
    return images.REGISTRY_IMAGE in images.service_images()


def known_address() -> str | None:
    """`127.0.0.1:<port>` of the registry this process started, or None (none yet)."""
    return _address


async def address() -> str:
    """The registry's address on the host, started (again) if it is not running."""
    global _address, _starting
    if not available():
        raise engine.EngineError("no registry image on this host")
    if _starting is None:
        _starting = asyncio.Lock()
    async with _starting:
        port = await asyncio.to_thread(_ensure)
        _address = f"127.0.0.1:{port}"
    return _address


def _ensure() -> int:
    network = f"{settings.SANDBOX_NAMESPACE}-registry-net"
    engine.ensure_uplink_network(network, RUN_ID)
    return engine.run_service(name(), images.REGISTRY_IMAGE, network, RUN_ID, PORT, STORAGE_BYTES)


def remove() -> None:
    """Remove the registry and its network (blocking): no terminal is left (the server's
    shutdown). What was pushed goes with it."""
    global _address
    _address = None
    try:
        for container in engine.labelled_containers(None, f"{engine.RUN_LABEL}={RUN_ID}"):
            engine.remove(container.id)
        engine.remove_network(f"{settings.SANDBOX_NAMESPACE}-registry-net")
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.warning("registry left for the reaper (%s)", error)
