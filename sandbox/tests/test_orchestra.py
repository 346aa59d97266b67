"""Orchestration labs against the engine in swarm mode (`make orchestration`)."""

import asyncio

import pytest

from sandbox import engine, manifests
from sandbox.supervisor import labs as orchestra
from sandbox.supervisor.state import SUPERVISED

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: baeum/web:{version}
          resources:
            limits: {{memory: 64Mi, cpu: 250m}}
          readinessProbe:
            httpGet: {{path: /healthz, port: 8080}}
"""


def manifest(replicas=3, version="v1") -> str:
    return MANIFEST.format(replicas=replicas, version=version)


def running(count, image=None):
    def check(state):
        images = {t["image"] for t in state["cards"] if t["state"] == "running"}
        return state["running"] == count and (image is None or images == {image})

    return check


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            manifest().replace("          resources:", "          bogus: 1\n          resources:"),
            "bogus",
        ),
        (
            manifest().replace("      containers:", "      volumes: []\n      containers:"),
            "spec.template.spec.volumes",
        ),
        (manifest(replicas=6), "1에서 5"),
        (manifest().replace("baeum/web:v1", "nginx:1.27"), "실습 이미지"),
        ("kind: Pod\n", "Deployment"),
        ("a: [", "YAML"),
    ],
)
def test_manifest_errors_name_the_field(text, message):
    with pytest.raises(manifests.ManifestError, match=message):
        manifests.parse(text)


def test_the_supported_subset_is_translated():
    deployment = manifests.parse(manifest(replicas=4, version="v2"))
    assert (deployment.replicas, deployment.image) == (4, "baeum/web:v2")
    assert deployment.memory == "64m" and deployment.cpus == 0.25
    assert deployment.order == "start-first" and deployment.parallelism == 1
    assert "http://127.0.0.1:8080/healthz" in deployment.health_command


async def test_replicas_self_heal_scale_and_answer_in_turn(swarm):
    await asyncio.to_thread(orchestra.apply, 1, manifest(replicas=3))
    state = await orchestra.wait_until(1, running(3))
    info = engine.inspect(state["cards"][0]["container"])
    assert info["HostConfig"]["ReadonlyRootfs"] and info["HostConfig"]["CapDrop"] == ["ALL"]
    assert info["Config"]["User"] == "1000:1000" and info["HostConfig"]["Memory"] == 64 * 2**20

    # Self-healing: kill one replica; the orchestrator replaces it, and the time is measured.
    victim = state["cards"][0]["id"]
    assert await asyncio.to_thread(orchestra.kill_replica, 1, victim)
    healed = await orchestra.wait_until(1, lambda s: s["recovery_seconds"] is not None)
    assert victim not in {t["id"] for t in healed["cards"] if t["state"] == "running"}
    assert 0 < healed["recovery_seconds"] < 30

    # Load balancing: a client on the student's network reaches more than one replica.
    answers = await asyncio.to_thread(orchestra.load_balance, 1, 12)
    assert len(answers) == 12 and all(a.startswith("web v1 · ") for a in answers)
    assert len(set(answers)) > 1

    # Scaling up and down.
    await asyncio.to_thread(orchestra.apply, 1, manifest(replicas=5))
    await orchestra.wait_until(1, running(5))
    await asyncio.to_thread(orchestra.apply, 1, manifest(replicas=1))
    await orchestra.wait_until(1, running(1))


async def test_rolling_update_a_failed_rollout_and_rollback(swarm):
    await asyncio.to_thread(orchestra.apply, 2, manifest(replicas=2, version="v1"))
    await orchestra.wait_until(2, running(2, "baeum/web:v1"))

    # A rolling update, start-first: never fewer running replicas than desired.
    await asyncio.to_thread(orchestra.apply, 2, manifest(replicas=2, version="v2"))
    lowest = 2
    while True:
        state = await asyncio.to_thread(orchestra.state, 2)
        lowest = min(lowest, state["running"])
        if running(2, "baeum/web:v2")(state):
            break
        await asyncio.sleep(0.2)
    assert lowest >= 2

    # A broken v2 fails to start: the rollout pauses and the v2 replicas keep serving.
    await asyncio.to_thread(orchestra.apply, 2, manifest(replicas=2, version="v2-broken"))
    paused = await orchestra.wait_until(2, lambda s: s["update"] == "paused", timeout=90)
    assert {t["image"] for t in paused["cards"] if t["state"] == "running"} == {"baeum/web:v2"}

    # Rollback returns to the previous spec.
    await asyncio.to_thread(orchestra.rollback, 2)
    back = await orchestra.wait_until(2, running(2, "baeum/web:v2"), timeout=90)
    assert back["image"] == "baeum/web:v2"


async def test_students_cannot_touch_each_others_labs_and_nothing_is_left(swarm):
    await asyncio.to_thread(orchestra.apply, 3, manifest(replicas=1))
    await asyncio.to_thread(orchestra.apply, 4, manifest(replicas=1))
    theirs = await orchestra.wait_until(3, running(1))
    await orchestra.wait_until(4, running(1))
    assert SUPERVISED.labs[3].service != SUPERVISED.labs[4].service
    assert SUPERVISED.labs[3].network != SUPERVISED.labs[4].network
    assert not await asyncio.to_thread(orchestra.kill_replica, 4, theirs["cards"][0]["id"])
    for owner in (3, 4):
        await asyncio.to_thread(orchestra.end, owner)
    await asyncio.sleep(2)
    assert engine.labelled_services() == []
    assert [n for n in engine.labelled_networks() if n.name.startswith("baeum-lab-")] == []
