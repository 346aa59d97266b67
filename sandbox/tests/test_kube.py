"""A namespace per student on the real cluster (`make kubernetes`): what the student's own token
may and may not do, what Pod Security refuses, what the quota holds, who reaches whose pods."""

from __future__ import annotations

import os
import time
from contextlib import suppress

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox import engine, kube
from sandbox.shelf import SHELF

pytestmark = pytest.mark.kubernetes

ALICE, BOB = 910001, 910002  # owner ids: the backend needs no user rows


def restricted_pod(name: str, command: list[str], labels: dict | None = None, **changes):
    """A pod Pod Security `restricted` admits (the lab image, never pulled), with `changes` to
    its container's security context or its spec (to make it refused)."""
    security = {
        "run_as_non_root": True,
        "run_as_user": 1000,
        "allow_privilege_escalation": False,
        "capabilities": client.V1Capabilities(drop=["ALL"]),
        "seccomp_profile": client.V1SeccompProfile(type="RuntimeDefault"),
    } | changes.pop("security", {})
    container = client.V1Container(
        name="main",
        image="baeum/lab",
        image_pull_policy="Never",
        command=command,
        security_context=client.V1SecurityContext(**security),
    )
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[container], **changes),
    )


def refused(call, *args) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call(*args)
    assert caught.value.status in (403, 422), caught.value.body
    return caught.value


def wait_running(core: client.CoreV1Api, namespace: str, name: str, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase == "Running" and pod.status.pod_ip:
            return pod
        time.sleep(0.5)
    raise AssertionError(f"{namespace}/{name} did not run: {pod.status}")


def exit_code(core: client.CoreV1Api, namespace: str, name: str, seconds: float = 90) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, namespace)
        state = pod.status.container_statuses and pod.status.container_statuses[0].state
        if state and state.terminated:
            return state.terminated.exit_code
        time.sleep(0.5)
    raise AssertionError(f"{namespace}/{name} did not finish: {pod.status}")


@pytest.fixture(scope="module")
def students(kubernetes_cluster):
    made = kube.provision(ALICE), kube.provision(BOB)
    yield made
    kube.remove(ALICE)
    kube.remove(BOB)


def test_a_students_namespace_is_labelled_restricted_and_provisioning_is_idempotent(students):
    alice, _ = students
    assert kube.provision(ALICE) == alice  # again: nothing changes, nothing fails
    core = client.CoreV1Api(kube._admin())
    labels = core.read_namespace(alice.name).metadata.labels
    assert labels[kube.DEPLOYMENT_LABEL] != "" and labels[kube.OWNER_LABEL] == str(ALICE)
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {n.owner_id for n in kube.namespaces()} >= {ALICE, BOB}


def test_the_students_token_reaches_only_their_own_namespace(students):
    alice, bob = students
    core = client.CoreV1Api(kube.student_client(ALICE))
    assert core.list_namespaced_pod(alice.name).items == []
    refused(core.list_namespaced_pod, bob.name)  # another student's pods
    refused(core.list_namespace)  # cluster-scoped reads
    refused(core.list_node)
    refused(core.list_namespaced_secret, "kube-system")
    rbac = client.RbacAuthorizationV1Api(kube.student_client(ALICE))
    role = client.V1Role(
        metadata=client.V1ObjectMeta(name="more"),
        rules=[client.V1PolicyRule(api_groups=["*"], resources=["*"], verbs=["*"])],
    )
    refused(rbac.create_namespaced_role, alice.name, role)  # no granting itself more


@pytest.mark.parametrize(
    "changes",
    [
        {"security": {"privileged": True}},
        {"security": {"run_as_user": 0, "run_as_non_root": False}},
        {"security": {"capabilities": client.V1Capabilities(add=["NET_ADMIN"])}},
        {"host_network": True},
        {"host_pid": True},
        {"volumes": [client.V1Volume(name="h", host_path=client.V1HostPathVolumeSource(path="/"))]},
    ],
    ids=["privileged", "root", "capability", "host-network", "host-pid", "host-path"],
)
def test_pod_security_refuses_what_would_reach_the_node(students, changes):
    alice, _ = students
    core = client.CoreV1Api(kube.student_client(ALICE))
    error = refused(
        core.create_namespaced_pod, alice.name, restricted_pod("bad", ["true"], **changes)
    )
    assert "PodSecurity" in error.body or "Forbidden" in error.body


def plain_pod(name: str, command: list[str], **spec) -> client.V1Pod:
    """A pod as a beginner writes it: nothing about security."""
    container = client.V1Container(name="main", image="baeum/web:v1", command=command)
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(containers=[container], **spec),
    )


def plain_deployment(name: str, replicas: int) -> client.V1Deployment:
    """A Deployment of plain pods (sleeping, gone a second after they are asked to go)."""
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app": name}),
        spec=plain_pod("", ["sleep", "300"], termination_grace_period_seconds=1).spec,
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=template,
        ),
    )


def test_a_pod_that_says_nothing_about_security_gets_the_restricted_defaults(students):
    alice, _ = students
    core = client.CoreV1Api(kube.student_client(ALICE))
    core.create_namespaced_pod(alice.name, plain_pod("plain", ["sh", "-c", "id -u; sleep 30"]))
    try:
        pod = wait_running(core, alice.name, "plain")
        assert pod.spec.security_context.run_as_user == 1000
        assert pod.spec.security_context.run_as_non_root is True
        assert pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"
        container = pod.spec.containers[0].security_context
        assert container.allow_privilege_escalation is False
        assert container.capabilities.drop == ["ALL"]
        assert core.read_namespaced_pod_log("plain", alice.name).strip() == "1000"
        # A workload's pod template gets them too (Pod Security's warning then holds its peace).
        apps = client.AppsV1Api(kube.student_client(ALICE))
        made = apps.create_namespaced_deployment(alice.name, plain_deployment("web", 0))
        assert made.spec.template.spec.security_context.run_as_user == 1000
        apps.delete_namespaced_deployment("web", alice.name)
    finally:
        core.delete_namespaced_pod("plain", alice.name, grace_period_seconds=0)


def test_the_docker_shelf_runs_by_its_familiar_names(students):
    """`kubectl run py --image=python` as a beginner types it: no tag (so the pull policy would
    be Always), an image that is only on the node, never on a registry."""
    if not engine.image_exists(SHELF["python"]):
        if os.environ.get("CI") == "true":
            pytest.fail("no shelf: CI runs make shelf before make kubernetes")
        pytest.skip("no shelf here: make shelf, then make kubernetes")
    alice, _ = students
    core = client.CoreV1Api(kube.student_client(ALICE))
    pod = plain_pod("py", ["python", "-c", "print(6 * 7)"], restart_policy="Never")
    pod.spec.containers[0].image = "python"
    made = core.create_namespaced_pod(alice.name, pod)
    try:
        assert made.spec.containers[0].image_pull_policy == "IfNotPresent"
        assert exit_code(core, alice.name, "py") == 0
        assert core.read_namespaced_pod_log("py", alice.name).strip() == "42"
        # One that is on no node still fails to pull, as anywhere.
        missing = plain_pod("missing", ["true"], restart_policy="Never")
        missing.spec.containers[0].image = "no-such-image-here"
        core.create_namespaced_pod(alice.name, missing)
        deadline = time.monotonic() + 60
        reason = ""
        while time.monotonic() < deadline and reason not in {"ErrImagePull", "ImagePullBackOff"}:
            statuses = core.read_namespaced_pod("missing", alice.name).status.container_statuses
            waiting = statuses and statuses[0].state.waiting
            reason = waiting.reason if waiting else ""
            time.sleep(0.5)
        assert reason in {"ErrImagePull", "ImagePullBackOff"}, reason
    finally:
        core.delete_namespaced_pod("py", alice.name, grace_period_seconds=0)
        with suppress(ApiException):
            core.delete_namespaced_pod("missing", alice.name, grace_period_seconds=0)


def test_a_pod_that_says_it_wants_root_is_judged_as_written(students):
    alice, _ = students
    core = client.CoreV1Api(kube.student_client(ALICE))
    root = plain_pod("root", ["id"], security_context=client.V1PodSecurityContext(run_as_user=0))
    error = refused(core.create_namespaced_pod, alice.name, root)
    assert "PodSecurity" in error.body and "runAsUser=0" in error.body


def test_the_quota_and_the_limits_hold(students):
    alice, _ = students
    core = client.CoreV1Api(kube.student_client(ALICE))
    big = restricted_pod("big", ["true"])
    big.spec.containers[0].resources = client.V1ResourceRequirements(limits={"memory": "2Gi"})
    error = refused(core.create_namespaced_pod, alice.name, big)
    assert "memory" in error.body
    # The controller adds one of its own to every namespace (kube-root-ca.crt).
    room = int(kube.QUOTA["configmaps"]) - len(core.list_namespaced_config_map(alice.name).items)
    for index in range(room):
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{index}"))
        core.create_namespaced_config_map(alice.name, body)
    over = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="one-too-many"))
    assert "exceeded quota" in refused(core.create_namespaced_config_map, alice.name, over).body
    core.delete_collection_namespaced_config_map(alice.name)


def test_a_students_pods_reach_each_other_and_nobody_elses(students):
    alice, bob = students
    page = (
        "mkdir -p /tmp/www && echo hello > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"
    )
    serve = ["sh", "-c", page]
    as_alice = client.CoreV1Api(kube.student_client(ALICE))
    as_bob = client.CoreV1Api(kube.student_client(BOB))
    as_alice.create_namespaced_pod(alice.name, restricted_pod("web", serve, {"app": "web"}))
    target = wait_running(as_alice, alice.name, "web").status.pod_ip
    # Tried for 15 s: the enforcer learns a new pod's address a moment after it starts, so the
    # allowed path may open late; the denied one must stay shut the whole time.
    fetch = f"wget -q -T 2 -O /dev/null http://{target}:8080/"
    probe = ["sh", "-c", f"for i in $(seq 15); do {fetch} && exit 0; sleep 1; done; exit 1"]
    as_alice.create_namespaced_pod(alice.name, restricted_pod("same", probe))
    as_bob.create_namespaced_pod(bob.name, restricted_pod("other", probe))
    assert exit_code(as_alice, alice.name, "same") == 0  # each other: yes
    assert exit_code(as_bob, bob.name, "other") != 0  # another student: no
    for namespace, name in ((alice.name, "web"), (alice.name, "same"), (bob.name, "other")):
        kube_core = client.CoreV1Api(kube._admin())
        kube_core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


def test_another_deployment_never_lists_or_removes_these_namespaces(students, settings):
    alice, bob = students
    ours = settings.SANDBOX_NAMESPACE
    settings.SANDBOX_NAMESPACE = "another-deployment"
    assert kube.namespaces() == []
    assert kube.remove_all() == 0
    settings.SANDBOX_NAMESPACE = ours
    assert {alice, bob} <= set(kube.namespaces())


def test_idle_namespaces_sleep_then_go_and_no_others(students, settings):
    """Unused for SANDBOX_KUBE_IDLE_SECONDS: the pods stop, the declarations stay, and the next
    use brings them back; unused for SANDBOX_WORKSPACE_DAYS: the namespace goes. Never one with
    a terminal open, never another deployment's."""
    from datetime import UTC, datetime, timedelta

    from sandbox.supervisor import reaper

    alice, bob = students
    carol, dave, erin = 910003, 910004, 910005
    for owner in (carol, dave, erin):
        kube.provision(owner)
    ours = settings.SANDBOX_NAMESPACE
    settings.SANDBOX_NAMESPACE = "another-deployment"
    theirs = kube.provision(carol)  # the same owner id in another deployment
    settings.SANDBOX_NAMESPACE = ours
    core = client.CoreV1Api(kube._admin())
    apps = client.AppsV1Api(kube.student_client(erin))
    erins = kube.namespace_name(erin)
    apps.create_namespaced_deployment(erins, plain_deployment("web", 2))
    client.CoreV1Api(kube.student_client(erin)).create_namespaced_pod(
        erins, plain_pod("bare", ["sleep", "300"], termination_grace_period_seconds=1)
    )

    def used(name: str, hours: float) -> None:
        when = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
        core.patch_namespace(name, {"metadata": {"annotations": {kube.USED_AT: when}}})

    used(kube.namespace_name(carol), 24 * 30)  # a month: past the /work's 14 days
    used(theirs.name, 24 * 30)
    used(kube.namespace_name(dave), 24 * 30)
    used(erins, 3)  # past the two idle hours
    try:
        # dave has a terminal open; alice and bob were used just now (provisioned).
        assert reaper.expire_namespaces(in_use={dave}, force=True) == 2  # carol gone, erin slept
        assert reaper.expire_namespaces(in_use={dave}, force=True) == 0  # nothing more to do
        owners = {n.owner_id for n in kube.namespaces()}
        phase = core.read_namespace(kube.namespace_name(carol)).status.phase
        assert phase == "Terminating" or carol not in owners
        assert {alice.owner_id, bob.owner_id, dave, erin} <= owners
        assert core.read_namespace(theirs.name).status.phase == "Active"
        asleep = apps.read_namespaced_deployment("web", erins)
        assert asleep.spec.replicas == 0
        assert asleep.metadata.annotations[kube.REPLICAS_BEFORE] == "2"
        bare = client.CoreV1Api(kube._admin()).read_namespaced_pod("bare", erins)
        assert bare.metadata.deletion_timestamp is not None
        # Erin comes back: the workload runs as she left it, and the namespace is used now.
        kube.provision(erin)
        awake = apps.read_namespaced_deployment("web", erins)
        assert awake.spec.replicas == 2 and kube.REPLICAS_BEFORE not in (
            awake.metadata.annotations or {}
        )
        marks = core.read_namespace(erins).metadata.annotations
        assert kube.ASLEEP not in marks
        assert datetime.fromisoformat(marks[kube.USED_AT]) > datetime.now(UTC) - timedelta(
            minutes=1
        )
    finally:
        kube.remove(dave)
        kube.remove(erin)
        settings.SANDBOX_NAMESPACE = "another-deployment"
        kube.remove(carol)
        settings.SANDBOX_NAMESPACE = ours
