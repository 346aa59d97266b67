"""kubectl in the student's terminal, on the real engine and the real cluster: it acts as the
student, the terminal reaches the API server and nothing else, and the gate and its network live
and die with the terminal."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from sandbox import engine, kube
from sandbox.supervisor import kube_gate, playgrounds, reaper
from sandbox.supervisor.state import SUPERVISED
from sandbox.tests.test_terminal import Screen

pytestmark = [
    pytest.mark.docker,
    pytest.mark.kubernetes,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
async def kubectl(settings, kubernetes_cluster):
    """Terminals with kubectl (the suite turns it off elsewhere); what the test opened is ended
    and the students' namespaces removed."""
    if not await asyncio.to_thread(engine.image_exists, settings.KUBERNETES_TERMINAL_IMAGE):
        pytest.fail("no baeum/kubectl image: `make kubernetes` builds it", pytrace=False)
    settings.SANDBOX_TERMINAL_KUBECTL = True
    yield
    await playgrounds.end_all()
    await asyncio.to_thread(kube.remove_all)


async def open_terminal(user) -> playgrounds.LivePlayground:
    live = await playgrounds.open_for(user.id)
    await asyncio.wait_for(live.restored.wait(), 60)
    return live


async def sh(user, command: str, timeout: int = 60) -> engine.ExecResult:
    return await playgrounds.run_in(user.id, command, timeout)


class Listener:
    """A TCP server on every address of the host, counting who connects: what a terminal must
    never reach (the host's own services)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("0.0.0.0", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.2)
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


async def test_a_student_types_kubectl_and_acts_as_themselves(alice, kubectl):
    screen = Screen(alice)
    await screen.open()
    await screen.wait_for("$ ", timeout=60)
    namespace = kube.namespace_name(alice.id)
    await screen.type("kubectl get pods\r")
    await screen.wait_for(f"No resources found in {namespace} namespace.", timeout=60)
    await screen.close()

    assert (await sh(alice, "kubectl auth can-i create deployments")).output.strip() == "yes"
    everything = await sh(alice, "kubectl get all")
    assert everything.exit_code == 0 and "Forbidden" not in everything.output, everything.output
    nodes = await sh(alice, "kubectl get nodes")
    assert nodes.exit_code != 0 and "Forbidden" in nodes.output
    other = await sh(alice, "kubectl get pods -n kube-system")
    assert other.exit_code != 0 and "Forbidden" in other.output
    # Pod Security `restricted` refuses a pod that asks to run as root, for the student's token.
    root = await sh(
        alice,
        "kubectl run root --image=baeum/web:v1 "
        """--overrides='{"spec":{"securityContext":{"runAsUser":0}}}' -- sleep 60""",
    )
    assert root.exit_code != 0 and "violates PodSecurity" in root.output, root.output


async def test_a_deployment_made_from_the_terminal_rolls_out_without_a_word_on_security(
    alice, kubectl
):
    await open_terminal(alice)
    made = await sh(
        alice,
        "kubectl create deployment web --image=baeum/web:v1 --replicas=2 && "
        "kubectl rollout status deployment/web --timeout=90s",
        timeout=120,
    )
    assert made.exit_code == 0, made.output
    assert "successfully rolled out" in made.output and "Warning" not in made.output
    pods = await sh(alice, "kubectl get pods -l app=web --no-headers | grep -c Running")
    assert pods.output.strip() == "2"
    logs = await sh(alice, "kubectl logs deployment/web")
    assert "web v1 listening on :8080" in logs.output


async def test_kubectl_works_when_the_uplink_goes_while_the_gate_is_made(
    alice, kubectl, monkeypatch
):
    """The uplink removed between its making and the gate's joining it (another process's
    start-up reap, the engine finishing a removal its client gave up on: CI met `network
    …-kube-uplink not found`): the gate is made again and the terminal still has kubectl."""
    ensure = engine.ensure_uplink_network
    made: list[str] = []

    def ensure_then_lose(name: str, run_id: str) -> str:
        address = ensure(name, run_id)
        made.append(name)
        if len(made) == 1:
            engine.remove_network(name)  # on the real engine, as the other remover would
        return address

    monkeypatch.setattr(engine, "ensure_uplink_network", ensure_then_lose)
    await open_terminal(alice)
    answered = await sh(alice, "kubectl get pods")
    assert answered.exit_code == 0, answered.output
    assert made == [kube_gate.uplink_name()] * 2


async def test_the_terminal_reaches_the_api_server_and_nothing_else(alice, kubectl):
    live = await open_terminal(alice)
    node = urlsplit(await asyncio.to_thread(kube.api_server)).hostname
    uplink = await asyncio.to_thread(
        engine.ensure_uplink_network, kube_gate.uplink_name(), kube_gate.UPLINK_RUN_ID
    )
    listener = Listener()
    try:
        # The API server answers through the gate (and so nc works in here).
        reached = await sh(alice, f"echo | nc -w 5 {kube_gate.ALIAS} 6443; echo rc=$?")
        assert "rc=0" in reached.output, reached.output
        for address, port in (
            (node, listener.port),  # the host's own services, at its address
            (uplink, listener.port),  # ... at the gates' bridge's gateway
            ("127.0.0.1", listener.port),
            (node, 10250),  # the kubelet
            (node, 6443),  # the API server itself, not through the gate
            (kube_gate.ALIAS, 10250),  # another port of the gate
        ):
            tried = await sh(alice, f"echo | nc -w 3 {address} {port}; echo rc=$?")
            assert "rc=0" not in tried.output, f"{address}:{port} reached: {tried.output}"
        assert listener.accepted == 0
        names = await sh(alice, "nslookup example.org 2>&1; wget -q -T 3 -O- http://example.org")
        assert names.exit_code != 0
    finally:
        listener.close()
    assert live.playground.container_id


async def test_the_gate_and_its_network_go_with_the_terminal(alice, kubectl):
    live = await open_terminal(alice)
    label = playgrounds.run_id(live.playground)
    mine = [c for c in await asyncio.to_thread(engine.labelled_containers) if c.run_id == label]
    assert len(mine) == 2  # the terminal and its gate
    networks = {n.name for n in await asyncio.to_thread(engine.labelled_networks)}
    assert kube_gate.network_name(label) in networks
    # The reaper spares a live terminal's gate and network.
    await asyncio.to_thread(reaper.reap_orphans)
    after = [c for c in await asyncio.to_thread(engine.labelled_containers) if c.run_id == label]
    assert len(after) == 2
    await playgrounds.end(live, "test")
    left = [c for c in await asyncio.to_thread(engine.labelled_containers) if c.run_id == label]
    assert left == []
    names = {n.name for n in await asyncio.to_thread(engine.labelled_networks)}
    assert kube_gate.network_name(label) not in names


async def test_the_gate_answers_when_the_engines_rule_for_its_network_is_lost(alice, kubectl):
    """kube-router rewrites the whole filter table, and a rule the engine adds meanwhile (the one
    that lets a network's containers talk: -i br-X -o br-X -j ACCEPT) can be lost with it. The
    cluster's guard (cluster.sh, docker_bridges_guard) keeps the terminal reaching its gate."""
    live = await open_terminal(alice)
    network = kube_gate.network_name(playgrounds.run_id(live.playground))
    bridge = await asyncio.to_thread(engine.bridge_device, network)
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    # Gone (a rewrite may have taken it already: CI's rehearsal met exactly that).
    await asyncio.to_thread(subprocess.run, ["iptables", "-D", *rule], capture_output=True)
    still = await asyncio.to_thread(subprocess.run, ["iptables", "-C", *rule], capture_output=True)
    assert still.returncode != 0, "the engine's rule for the network is still there"
    answered = await sh(alice, "kubectl get pods -o name --request-timeout=20s", timeout=90)
    assert answered.exit_code == 0, answered.output


async def test_the_reaper_takes_a_gate_no_terminal_holds(alice, kubectl):
    gate = await asyncio.to_thread(kube_gate.open_gate, "pg-orphaned", alice.id)
    await asyncio.to_thread(reaper.reap_orphans)
    ids = {c.id for c in await asyncio.to_thread(engine.labelled_containers)}
    assert gate.container_id not in ids
    names = {n.name for n in await asyncio.to_thread(engine.labelled_networks)}
    assert gate.network not in names and kube_gate.uplink_name() not in names


async def test_the_token_is_renewed_while_the_terminal_lives(alice, kubectl):
    live = await open_terminal(alice)
    before = (await sh(alice, "grep token: /tmp/.kube/config")).output
    live.kubeconfig_at -= kube_gate.TOKEN_SECONDS  # half its life has long passed
    assert await playgrounds.renew_kubeconfigs() == 1
    after = (await sh(alice, "grep token: /tmp/.kube/config")).output
    assert after != before and "token: " in after
    assert (await sh(alice, "kubectl get pods")).exit_code == 0
    assert await playgrounds.renew_kubeconfigs() == 0  # fresh now


async def test_a_cluster_that_does_not_answer_leaves_a_terminal_without_kubectl(
    alice, kubectl, tmp_path, settings
):
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: x\n  cluster:\n    server: https://127.0.0.1:1\n"
        "users:\n- name: x\n  user:\n    token: x\n"
        "contexts:\n- name: x\n  context: {cluster: x, user: x}\ncurrent-context: x\n"
    )
    with override_settings(KUBERNETES_KUBECONFIG=str(dead)):
        screen = Screen(alice)
        await screen.open()
        await screen.wait_for("kubectl을 쓸 수 없어요", timeout=60)
        await screen.type("echo still-$((2+3))\r")
        await screen.wait_for("still-5")
        await screen.close()
        live = SUPERVISED.playgrounds[alice.id]
        label = playgrounds.run_id(live.playground)
        made = [c for c in await asyncio.to_thread(engine.labelled_containers) if c.run_id == label]
        assert len(made) == 1  # no gate was left behind
        names = {n.name for n in await asyncio.to_thread(engine.labelled_networks)}
        assert kube_gate.network_name(label) not in names
        await playgrounds.end(live, "test")
    assert "Traceback" not in screen.text and "127.0.0.1:1" not in screen.text
