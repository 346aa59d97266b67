"""kubectl in a student's terminal: the terminal's only way out is a gate to the API server.

A terminal has no network of its own. When a cluster is configured (settings.KUBERNETES_KUBECONFIG)
and the terminal image with kubectl exists (settings.KUBERNETES_TERMINAL_IMAGE, built by
`make kubernetes`), a playground gets, for its lifetime:

- a private network of its own (internal, no host address on its bridge, on a small subnet of
  SANDBOX_KUBE_SUBNETS): the terminal and the gate, nothing else;
- the gate: a hardened container of the project's own (the lab image, its busybox `nc`), on that
  network under the name `kubernetes` and on the deployment's uplink bridge, that forwards TCP
  port 6443 to the API server's address and nowhere else. It runs no student input; the student
  can reach its one port, and through it only the API server;
- a kubeconfig in the terminal's /tmp with a short-lived token of the student's ServiceAccount
  (sandbox/kube.py), renewed while the terminal lives. TLS goes end to end through the gate,
  so the API server itself authenticates and authorizes every request (RBAC to the student's
  namespace, Pod Security `restricted`, the quota): the gate needs no secret and decides nothing.

Every object carries the playground's run label (`pg-<id>`), so the reaper removes a gate and a
network that no live terminal holds.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from sandbox import engine, kube

log = logging.getLogger(__name__)

PORT = 6443
ALIAS = "kubernetes"  # in the API server's certificate (every conformant cluster's)
SERVER = f"https://{ALIAS}:{PORT}"
KUBE_DIR = "/tmp/.kube"
ENVIRONMENT = (("KUBECONFIG", f"{KUBE_DIR}/config"), ("KUBECACHEDIR", f"{KUBE_DIR}/cache"))
UPLINK_RUN_ID = "kube-uplink"
# The token's life; it is renewed when half of it has passed (see playgrounds.renew_kubeconfigs).
TOKEN_SECONDS = 3600
SUBNET_PREFIX = 29  # the network's gateway address (unused), the terminal and the gate


@dataclass(frozen=True)
class Gate:
    network: str
    container_id: str


def available() -> bool:
    """kubectl is wanted (SANDBOX_TERMINAL_KUBECTL), a cluster is configured and the terminal
    image with kubectl exists."""
    if not (settings.SANDBOX_TERMINAL_KUBECTL and kube.configured()):
        return False
    try:
        return engine.image_exists(settings.KUBERNETES_TERMINAL_IMAGE)
    except engine.EngineUnavailable:
        return False


def network_name(run_id: str) -> str:
    return f"{settings.SANDBOX_NAMESPACE}-{run_id}-kube"


def uplink_name() -> str:
    return f"{settings.SANDBOX_NAMESPACE}-kube-uplink"


def subnets(run_id: str) -> Iterator[str]:
    """Every /29 of SANDBOX_KUBE_SUBNETS, starting at one derived from the deployment and the
    playground, so that concurrent opens rarely try the same one first."""
    whole = ipaddress.ip_network(settings.SANDBOX_KUBE_SUBNETS)
    pieces = list(whole.subnets(new_prefix=SUBNET_PREFIX))
    seed = hashlib.sha256(f"{settings.SANDBOX_NAMESPACE}/{run_id}".encode()).digest()
    start = int.from_bytes(seed[:4], "big") % len(pieces)
    for index in range(len(pieces)):
        yield str(pieces[(start + index) % len(pieces)])


def api_target(host_address: str) -> tuple[str, int]:
    """Where the gate forwards: the admin kubeconfig's API server, as an address a container
    reaches. A loopback address is the host itself, which a container on the uplink reaches at
    the bridge's gateway (`host_address`); a name is resolved here, once."""
    url = urlsplit(kube.api_server())
    host, port = url.hostname or "", url.port or 443
    if host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback):
        return host_address, port
    return (host if _is_ip(host) else socket.gethostbyname(host)), port


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# Gates being opened right now: while any is, the uplink is held (the reaper, in its own thread,
# must not remove it between its making and the gate's joining it).
_opening = 0
_opening_lock = threading.Lock()


def opening() -> bool:
    return _opening > 0


def open_gate(run_id: str, owner_id: int) -> Gate:
    """Blocking (the supervisor's thread): the student's namespace, the playground's private
    network and its gate, started. On any failure what was made is removed and the error
    raised (kube.ClusterUnavailable or the engine's): the terminal then opens without kubectl."""
    global _opening
    with _opening_lock:
        _opening += 1
    try:
        return _open_gate(run_id, owner_id)
    finally:
        with _opening_lock:
            _opening -= 1


# How often a gate is made again when the uplink went between its making and the gate's joining.
UPLINK_TRIES = 3


def _open_gate(run_id: str, owner_id: int) -> Gate:
    kube.provision(owner_id)
    network = engine.create_private_network(network_name(run_id), run_id, subnets(run_id))
    try:
        container_id = _start_gate(run_id, network)
    except Exception:
        close_gate(run_id)
        raise
    return Gate(network, container_id)


def _start_gate(run_id: str, network: str) -> str:
    """The gate's container, on the deployment's uplink and the playground's network, started.

    The uplink can go between its making and the gate's joining it: removed by another process
    of the deployment (its start-up reap, its shutdown), or by the engine finishing a removal a
    client had given up waiting for. The engine then refuses the gate when it is made or when it
    starts (CI met `network …-kube-uplink not found`); the gate is made again, a few times."""
    attempt = 1
    while True:
        host_address = engine.ensure_uplink_network(uplink_name(), UPLINK_RUN_ID)
        address, port = api_target(host_address)
        spec = engine.ContainerSpec(
            "baeum/lab",
            # One forked nc per connection, each relaying to the one address; the gate's pids
            # limit (the hardening profile's) bounds a student's concurrent connections.
            f"exec nc -ll -p {PORT} -e nc {address} {port}",
            run_id,
            network=uplink_name(),
        )
        container_id = ""
        try:
            container_id = engine.create_container(spec)
            engine.connect_network(network, container_id, [ALIAS])
            engine.start(container_id)
            return container_id
        except engine.EngineError as error:
            if container_id:
                engine.remove(container_id)
            if attempt == UPLINK_TRIES or uplink_name() not in str(error):
                raise
            log.info("gate of %s: the uplink went (%s); making it again", run_id, error)
            attempt += 1


def write_kubeconfig(container_id: str, owner_id: int) -> None:
    """The student's kubeconfig (a fresh token) into the terminal's /tmp, as the student's user.
    Blocking."""
    text = kube.student_kubeconfig(owner_id, server=SERVER, seconds=TOKEN_SECONDS)
    script = f"mkdir -p {KUBE_DIR} && umask 077 && cat > {KUBE_DIR}/config.new && "
    script += f"mv {KUBE_DIR}/config.new {KUBE_DIR}/config"
    done = engine.exec_input(container_id, ["sh", "-c", script], text.encode())
    if done.exit_code != 0:
        raise engine.EngineError(f"writing the kubeconfig failed: {done.output[-200:]}")


def close_gate(run_id: str) -> None:
    """Remove the playground's gate and network (blocking; what is already gone is fine, and
    what cannot be removed now is left to the reaper). Called once the terminal is removed, so
    whatever still carries the playground's label is its gate."""
    try:
        for container in engine.labelled_containers():
            if container.run_id == run_id:
                engine.remove(container.id)
        engine.remove_network(network_name(run_id))
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.warning("gate of %s left for the reaper (%s)", run_id, error)


def remove_uplink() -> None:
    """Remove the deployment's uplink (no terminal is left: the server's shutdown). One still in
    use, or being joined, stays."""
    if opening():
        return
    try:
        engine.remove_network(uplink_name())
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.info("uplink left (%s)", error)
