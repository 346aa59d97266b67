"""`make bench`, Kubernetes (issue 16): what the cluster adds, against the raw engine in the same
run on the same machine. Runs only when a cluster answers.

- a new student's namespace: `kube.provision` of a fresh owner (namespace, ServiceAccount, Role,
  quota, limits, NetworkPolicy), removed afterwards;
- `kubectl apply` of a 3-replica Deployment until `rollout status` says all 3 are available,
  against `docker run -d` of the same three containers until all three run;
- `kubectl get pods` through the student's path (in a terminal container, through the gate)
  against the admin's kubectl on the host, with the `exec` overhead alone beside it.

    python -m tools.bench_kube     # this section alone
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import django

from tools.bench import _median_p95

ROUNDS = int(os.environ.get("BENCH_KUBE_ROUNDS", "5"))
CALLS = int(os.environ.get("BENCH_KUBE_CALLS", "15"))  # API answers are cheap: more rounds
OWNER_BASE = 990000  # no real user has these ids (they are only namespace names here)
# The build of `make kubernetes`, else whatever kubectl the PATH has.
BUILT_KUBECTL = Path("/var/cache/baeum/kubernetes/v1.34.12/bin/kubectl")
KUBECTL = str(BUILT_KUBECTL) if BUILT_KUBECTL.exists() else shutil.which("kubectl") or "kubectl"
DOCKER = shutil.which("docker") or "docker"

# Pod Security `restricted`, which the student's namespace enforces; the grace period is short
# because `sleep` as PID 1 ignores SIGTERM, and each round waits for the pods to go.
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench}
spec:
  replicas: 3
  selector: {matchLabels: {app: bench}}
  template:
    metadata: {labels: {app: bench}}
    spec:
      terminationGracePeriodSeconds: 1
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: lab
        image: baeum/lab
        imagePullPolicy: Never
        command: [sleep, "3600"]
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
"""


def _admin_kubectl(*args: str, stdin: str | None = None) -> None:
    from django.conf import settings

    done = subprocess.run(
        [KUBECTL, "--kubeconfig", settings.KUBERNETES_KUBECONFIG, *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr[-300:]}")


def unavailable() -> str | None:
    """Why the section cannot run, or None: a cluster configured, and its API server answering a
    cheap list."""
    from sandbox import kube

    if not kube.configured():
        return "no cluster configured (KUBERNETES_KUBECONFIG)"
    try:
        kube.namespaces()
    # Any failure, not only ClusterUnavailable: an API server that refuses connections ends in
    # urllib3's MaxRetryError, which is no OSError and so passes through kube._call.
    except Exception as error:
        return f"{type(error).__name__}: {str(error)[:160]}"
    return None


def provisioning() -> list[float]:
    """A fresh owner each round, so every round creates everything (none of it a 409)."""
    from sandbox import kube

    samples = []
    for round_ in range(ROUNDS):
        owner = OWNER_BASE + round_
        try:
            began = time.perf_counter()
            kube.provision(owner)
            samples.append(time.perf_counter() - began)
        finally:
            kube.remove(owner)
    return samples


def deployment_rollout(namespace: str) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        try:
            began = time.perf_counter()
            _admin_kubectl("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
            # Returns once the 3 pods are available: Running and Ready (no probe: started).
            _admin_kubectl("rollout", "status", "-n", namespace, "deployment/bench", "--timeout=3m")
            samples.append(time.perf_counter() - began)
        finally:
            # Foreground: returns once the pods are gone, so rounds never overlap (nor the quota).
            _admin_kubectl(
                "delete", "-n", namespace, "deployment/bench", "--ignore-not-found",
                "--cascade=foreground", "--wait", "--timeout=120s",
            )  # fmt: skip
    return samples


def raw_three_containers() -> list[float]:
    """Three `docker run -d` at once (the Deployment's pods start at once too), as confined as a
    restricted pod, until the engine says all three run."""
    from django.conf import settings

    from sandbox import engine

    label = f"{engine.SANDBOX_LABEL}={settings.SANDBOX_NAMESPACE}"  # for the sweep
    run = [
        DOCKER, "run", "-d", "--network", "none", "--user", "1000:1000", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--label", label, "baeum/lab", "sleep", "3600",
    ]  # fmt: skip
    samples = []
    for _ in range(ROUNDS):
        ids: list[str] = []
        try:
            began = time.perf_counter()
            processes = [subprocess.Popen(run, stdout=subprocess.PIPE, text=True) for _ in "abc"]
            ids = [process.communicate()[0].strip() for process in processes]
            while not all(engine.is_running(container_id) for container_id in ids if container_id):
                time.sleep(0.01)
            samples.append(time.perf_counter() - began)
        finally:
            for container_id in ids:
                if container_id:
                    engine.remove(container_id)
    return samples


def _timed(call, rounds: int) -> list[float]:
    call()  # a warm-up: kubectl's discovery cache, the exec path
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


def get_pods(owner: int, namespace: str) -> tuple[list[float], list[float], list[float]]:
    """`kubectl get pods`: in a terminal behind the gate (as the student), `true` through the
    same exec (its overhead), and the admin's kubectl on the host."""
    from django.conf import settings

    from sandbox import engine
    from sandbox.supervisor import kube_gate

    run_id = f"bench-kube-{uuid.uuid4().hex[:8]}"
    terminal = ""
    try:
        gate = kube_gate.open_gate(run_id, owner)
        spec = engine.ContainerSpec(
            settings.KUBERNETES_TERMINAL_IMAGE,
            "sleep 3600",
            run_id,
            network=gate.network,
            environment=kube_gate.ENVIRONMENT,
        )
        terminal = engine.create_container(spec)
        engine.start(terminal)
        kube_gate.write_kubeconfig(terminal, owner)

        def exec_checked(command: str) -> None:
            done = engine.exec_in(terminal, command, 60)
            if done.exit_code != 0:
                raise RuntimeError(f"{command!r} in the terminal: {done.output[-300:]}")

        student = _timed(lambda: exec_checked("kubectl get pods"), CALLS)
        overhead = _timed(lambda: exec_checked("true"), CALLS)
        admin = _timed(lambda: _admin_kubectl("get", "pods", "-n", namespace), CALLS)
    finally:
        if terminal:
            engine.remove(terminal)
        kube_gate.close_gate(run_id)
    return student, overhead, admin


def _sweep() -> None:
    """Whatever this run left (a failed round): by the bench's own labels, never anyone else's."""
    from sandbox import engine, kube
    from sandbox.supervisor import kube_gate

    kube.remove_all()
    for container in engine.labelled_containers():
        engine.remove(container.id)
    for network in engine.labelled_networks():
        engine.remove_network(network.name)
    kube_gate.remove_uplink()


def section() -> None:
    """Measure and print; one line instead when no cluster answers."""
    from sandbox import kube

    reason = unavailable()
    if reason:
        print(f"\nKubernetes: skipped ({reason})")
        return
    owner = OWNER_BASE + 100
    namespace = kube.namespace_name(owner)
    try:
        provision = _median_p95(provisioning())
        kube.provision(owner)
        rollout = _median_p95(deployment_rollout(namespace))
        raw = _median_p95(raw_three_containers())
        student, overhead, admin = (_median_p95(s) for s in get_pods(owner, namespace))
    finally:
        _sweep()

    print(f"\nKubernetes, {ROUNDS} rounds ({CALLS} for `get pods`), concurrency 1 (ms)\n")
    print("| measure | median | p95 | ratio |")
    print("| --- | ---: | ---: | ---: |")
    rows = (
        ("new student's namespace (`kube.provision`)", provision, None),
        ("raw: 3 × `docker run -d` until all run", raw, raw),
        ("`kubectl apply` 3-replica Deployment until rolled out", rollout, raw),
        ("admin: host kubectl `get pods -n`", admin, admin),
        ("student: terminal → gate `kubectl get pods`", student, admin),
        ("the same exec of `true` (exec overhead)", overhead, admin),
    )
    for name, (median, p95), base in rows:
        ratio = f"{median / base[0]:.2f}" if base else ""
        print(f"| {name} | {median * 1000:.0f} | {p95 * 1000:.0f} | {ratio} |")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
    # As tools/bench.py: the bench's own labels, so no server's reaper takes its objects (and the
    # sweep takes nobody else's).
    os.environ["SANDBOX_NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}"
    django.setup()
    section()


if __name__ == "__main__":
    main()
