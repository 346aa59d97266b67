"""The Kubernetes backend: a namespace of its own for every student, on a real cluster.

Beside `sandbox/engine/` and with the same role: the only module that imports the Kubernetes
client, holding the cluster's admin credentials (settings.KUBERNETES_KUBECONFIG, the file
`make kubernetes` writes, or an operator's k3s/kubeadm cluster). It runs in the supervisor's
process kind, never on behalf of a student's text: a student acts with their own short-lived
ServiceAccount token, and the API server checks every request they make.

What a student's namespace holds, created on first use and idempotently (`provision`):
- the namespace `<deployment>-u<owner>`, labelled with the deployment and the owner (the reaper
  and another deployment's reaper tell theirs apart by these labels) and with Pod Security
  Admission `restricted` enforced (no privileged, no host paths, namespaces or ports, no root,
  capabilities dropped, seccomp on);
- the ServiceAccount `student`, bound by a Role to the namespaced kinds the lessons use — no
  ClusterRole, so nothing cluster-scoped (nodes, namespaces, other namespaces) can be read;
- a ResourceQuota and a LimitRange (defaults, so a pod without requests still fits the quota);
- NetworkPolicies: every pod of the namespace reaches only pods of the same namespace, and is
  reached only from them (no other student, no host, no internet, no control plane: kubectl
  talks to the API server from outside the pods).

Over 400 lines for a reason: it is the one module allowed to import `kubernetes`; like the
engine, it becomes a `sandbox/kube/` package (namespaces, credentials, objects) under the same
contract.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

DEPLOYMENT_LABEL = "baeum.io/deployment"
OWNER_LABEL = "baeum.io/owner"
SERVICE_ACCOUNT = "student"
ROLE = "student"
TOKEN_SECONDS = 3600  # the API server's floor is 10 minutes; an hour covers a lesson
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
} | {"pod-security.kubernetes.io/enforce-version": "latest"}

# What a student may do in their namespace: the kinds the Kubernetes lessons use.
STUDENT_RULES = (
    (
        "",
        ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "endpoints"),
        ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"),
    ),
    ("", ("pods/log", "events"), ("get", "list", "watch")),
    ("", ("pods/exec", "pods/attach", "pods/portforward"), ("get", "create")),
    (
        "apps",
        ("deployments", "replicasets", "statefulsets", "deployments/scale"),
        ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"),
    ),
    ("apps", ("deployments/rollback",), ("create",)),
    (
        "batch",
        ("jobs", "cronjobs"),
        ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"),
    ),
    ("networking.k8s.io", ("networkpolicies",), ("get", "list", "watch")),
    (
        "autoscaling",
        ("horizontalpodautoscalers",),
        ("get", "list", "watch", "create", "update", "patch", "delete"),
    ),
    # Read-only, so that `kubectl get all` (which lists these too) answers instead of Forbidden.
    ("", ("replicationcontrollers",), ("get", "list", "watch")),
    ("apps", ("daemonsets",), ("get", "list", "watch")),
    ("discovery.k8s.io", ("endpointslices",), ("get", "list", "watch")),
)
QUOTA = {
    "pods": "10",
    "requests.cpu": "1",
    "limits.cpu": "2",
    "requests.memory": "512Mi",
    "limits.memory": "1Gi",
    "services": "5",
    "persistentvolumeclaims": "2",
    "requests.storage": "256Mi",
    "configmaps": "20",
    "secrets": "20",
}
CONTAINER_DEFAULTS = {
    "default": {"cpu": "200m", "memory": "64Mi"},
    "defaultRequest": {"cpu": "50m", "memory": "32Mi"},
    "max": {"cpu": "500m", "memory": "256Mi"},
}


# When the student last used their namespace (an opened or closed terminal with kubectl): the
# reaper deletes namespaces unused for SANDBOX_KUBE_IDLE_SECONDS (expire_idle).
USED_AT = "baeum.io/used-at"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ClusterUnavailable(Exception):
    """No cluster is configured, or its API server does not answer."""


@dataclass(frozen=True)
class StudentNamespace:
    name: str
    owner_id: int


def configured() -> bool:
    return bool(settings.KUBERNETES_KUBECONFIG)


@cache
def _api_client(kubeconfig: str) -> client.ApiClient:
    return config.new_client_from_config(config_file=kubeconfig)


def _admin() -> client.ApiClient:
    if not configured():
        raise ClusterUnavailable("no cluster configured (KUBERNETES_KUBECONFIG)")
    try:
        return _api_client(settings.KUBERNETES_KUBECONFIG)
    except (OSError, config.ConfigException) as error:
        raise ClusterUnavailable(f"the admin kubeconfig cannot be read: {error}") from error


def namespace_name(owner_id: int) -> str:
    """`<deployment>-u<owner>`: a DNS label (SANDBOX_NAMESPACE is `baeum-<8 hex>` or a chosen
    short name), unique per deployment and student."""
    return f"{settings.SANDBOX_NAMESPACE}-u{int(owner_id)}"


def _labels(owner_id: int) -> dict[str, str]:
    return {DEPLOYMENT_LABEL: settings.SANDBOX_NAMESPACE, OWNER_LABEL: str(int(owner_id))}


def _create(create, *args) -> None:
    """Create an object; one that exists already is left as it is (provisioning is idempotent)."""
    try:
        create(*args)
    except ApiException as error:
        if error.status != 409:
            raise


def _call(what: str, function, *args, **kwargs):
    """The API's refusal or absence as ClusterUnavailable, for callers that cannot go on."""
    try:
        return function(*args, **kwargs)
    except ApiException as error:
        log.warning("kubernetes: %s: %s %s", what, error.status, error.reason)
        raise ClusterUnavailable(f"{what}: {error.status} {error.reason}") from error
    # The API server away: a refused connection ends as urllib3's MaxRetryError (not an OSError).
    except (OSError, ValueError, urllib3.exceptions.HTTPError) as error:
        raise ClusterUnavailable(f"{what}: {error}") from error


def provision(owner_id: int) -> StudentNamespace:
    """The student's namespace and everything in it, made if missing. Objects that exist are
    left alone, so calling this on every use costs a few 409s, never a change."""
    return _call("provisioning", _provision, owner_id)


def _provision(owner_id: int) -> StudentNamespace:
    api = _admin()
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    networking = client.NetworkingV1Api(api)
    name, labels = namespace_name(owner_id), _labels(owner_id)
    meta = client.V1ObjectMeta(
        name=name, labels=labels | POD_SECURITY, annotations={USED_AT: _now()}
    )
    try:
        core.create_namespace(client.V1Namespace(metadata=meta))
    except ApiException as error:
        if error.status != 409:
            raise
        touch(owner_id)
        if ASLEEP in (core.read_namespace(name).metadata.annotations or {}):
            _wake(name)  # its workloads run again, as the student left them
    _create(
        core.create_namespaced_service_account,
        name,
        client.V1ServiceAccount(
            metadata=client.V1ObjectMeta(name=SERVICE_ACCOUNT, labels=labels),
            # The token is asked for (short-lived), never mounted into the student's pods.
            automount_service_account_token=False,
        ),
    )
    rules = [
        client.V1PolicyRule(api_groups=[group], resources=list(kinds), verbs=list(verbs))
        for group, kinds, verbs in STUDENT_RULES
    ]
    role = client.V1Role(metadata=client.V1ObjectMeta(name=ROLE, labels=labels), rules=rules)
    try:
        rbac.create_namespaced_role(name, role)
    except ApiException as error:
        if error.status != 409:
            raise
        # The one object a newer Baeum may change: an older namespace gets today's rules.
        if rbac.read_namespaced_role(ROLE, name).rules != rules:
            rbac.replace_namespaced_role(ROLE, name, role)
    _create(
        rbac.create_namespaced_role_binding,
        name,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name=ROLE, labels=labels),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name=ROLE
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name=SERVICE_ACCOUNT, namespace=name)
            ],
        ),
    )
    _create(
        core.create_namespaced_resource_quota,
        name,
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="student", labels=labels),
            spec=client.V1ResourceQuotaSpec(hard=QUOTA),
        ),
    )
    _create(
        core.create_namespaced_limit_range,
        name,
        client.V1LimitRange(
            metadata=client.V1ObjectMeta(name="student", labels=labels),
            spec=client.V1LimitRangeSpec(
                limits=[
                    client.V1LimitRangeItem(
                        type="Container",
                        default=CONTAINER_DEFAULTS["default"],
                        default_request=CONTAINER_DEFAULTS["defaultRequest"],
                        max=CONTAINER_DEFAULTS["max"],
                    )
                ]
            ),
        ),
    )
    # Only each other: every pod of the namespace, in and out, to pods of the same namespace.
    same_namespace = [client.V1NetworkPolicyPeer(pod_selector=client.V1LabelSelector())]
    _create(
        networking.create_namespaced_network_policy,
        name,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="only-each-other", labels=labels),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(),
                policy_types=["Ingress", "Egress"],
                ingress=[client.V1NetworkPolicyIngressRule(_from=same_namespace)],
                egress=[client.V1NetworkPolicyEgressRule(to=same_namespace)],
            ),
        ),
    )
    return StudentNamespace(name, int(owner_id))


def student_token(owner_id: int, seconds: int = TOKEN_SECONDS) -> str:
    """A short-lived token of the student's ServiceAccount (TokenRequest: bound to the account,
    expiring on its own, never stored in a Secret)."""
    core = client.CoreV1Api(_admin())
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=max(600, seconds))
    )
    answer = _call(
        "token",
        core.create_namespaced_service_account_token,
        SERVICE_ACCOUNT,
        namespace_name(owner_id),
        request,
    )
    return answer.status.token


def api_server() -> str:
    """The API server's URL, as the admin kubeconfig names it."""
    return _admin().configuration.host


def student_kubeconfig(
    owner_id: int, server: str | None = None, seconds: int = TOKEN_SECONDS
) -> str:
    """A kubeconfig for the student's ServiceAccount in their namespace: the cluster's CA, the
    API server's address (`server`, or the admin's), a fresh token; the namespace as default."""
    api = _admin()
    server = server or api.configuration.host
    with open(api.configuration.ssl_ca_cert, "rb") as ca_file:
        ca = base64.b64encode(ca_file.read()).decode()
    namespace = namespace_name(owner_id)
    token = student_token(owner_id, seconds)
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: baeum\n  cluster:\n    server: {server}\n"
        f"    certificate-authority-data: {ca}\n"
        f"users:\n- name: student\n  user:\n    token: {token}\n"
        "contexts:\n- name: baeum\n  context:\n    cluster: baeum\n    user: student\n"
        f"    namespace: {namespace}\n"
        "current-context: baeum\n"
    )


def student_client(owner_id: int) -> client.ApiClient:
    """An API client that acts as the student (their token, their rights): what their kubectl
    will be. For the platform's own checks and for tests of the isolation."""
    admin = _admin().configuration
    configuration = client.Configuration()
    configuration.host = admin.host
    configuration.ssl_ca_cert = admin.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {student_token(owner_id)}"}
    return client.ApiClient(configuration)


def namespaces(deployment: str | None = None) -> list[StudentNamespace]:
    """This deployment's student namespaces (another deployment's are never listed)."""
    deployment = deployment or settings.SANDBOX_NAMESPACE
    found = _call(
        "listing namespaces",
        client.CoreV1Api(_admin()).list_namespace,
        label_selector=f"{DEPLOYMENT_LABEL}={deployment}",
    )
    return [
        StudentNamespace(item.metadata.name, int(item.metadata.labels[OWNER_LABEL]))
        for item in found.items
    ]


def remove(owner_id: int) -> bool:
    """Delete a student's namespace (and so everything in it). False if there was none. Only
    a namespace labelled with this deployment and this owner is touched."""
    core = client.CoreV1Api(_admin())
    name = namespace_name(owner_id)
    try:
        found = core.read_namespace(name)
    except ApiException as error:
        if error.status == 404:
            return False
        raise ClusterUnavailable(f"reading {name}: {error.status}") from error
    if (found.metadata.labels or {}) | _labels(owner_id) != (found.metadata.labels or {}):
        log.warning("kubernetes: %s is not this deployment's student namespace; left", name)
        return False
    _call("deleting a namespace", core.delete_namespace, name)
    return True


def touch(owner_id: int) -> None:
    """Mark the student's namespace as used now (expire_idle judges by it)."""
    patch = {"metadata": {"annotations": {USED_AT: _now()}}}
    _call(
        "marking a namespace used",
        client.CoreV1Api(_admin()).patch_namespace,
        namespace_name(owner_id),
        patch,
    )


@dataclass(frozen=True)
class Expired:
    slept: int  # namespaces whose pods were stopped
    removed: int  # namespaces deleted


def expire_idle(sleep_seconds: float, remove_seconds: float, in_use: set[int]) -> Expired:
    """This deployment's student namespaces, never one whose owner has a terminal open now
    (`in_use`): unused for `sleep_seconds`, their pods stop (sleep); unused for `remove_seconds`
    (the /work's lifetime), they are deleted with all they hold. A namespace without the mark
    counts as used now: it gets one, and is judged by it next time."""
    core = client.CoreV1Api(_admin())
    found = _call(
        "listing namespaces",
        core.list_namespace,
        label_selector=f"{DEPLOYMENT_LABEL}={settings.SANDBOX_NAMESPACE}",
    )
    now = datetime.now(UTC)
    slept = removed = 0
    for item in found.items:
        owner = int(item.metadata.labels[OWNER_LABEL])
        if owner in in_use or item.status.phase == "Terminating":
            continue
        annotations = item.metadata.annotations or {}
        if (used := annotations.get(USED_AT)) is None:
            touch(owner)
            continue
        idle = (now - datetime.fromisoformat(used)).total_seconds()
        if idle >= remove_seconds and remove(owner):
            log.info("kubernetes: %s unused since %s, deleted", item.metadata.name, used)
            removed += 1
        elif idle >= sleep_seconds and ASLEEP not in annotations:
            _call("stopping pods", _sleep, item.metadata.name)
            log.info("kubernetes: %s unused since %s, its pods stopped", item.metadata.name, used)
            slept += 1
    return Expired(slept, removed)


# A namespace whose pods were stopped for idleness, and each workload's replicas before.
ASLEEP = "baeum.io/asleep"
REPLICAS_BEFORE = "baeum.io/replicas-before-sleep"


def _sleep(namespace: str) -> None:
    """Stop the pods, keep what the student declared: Deployments and StatefulSets scaled to 0
    (their replicas kept in an annotation, given back by _wake), pods of their own deleted
    (a bare pod cannot pause), Jobs and everything else left as they are."""
    api = _admin()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    for kind in ("deployment", "stateful_set"):
        for workload in getattr(apps, f"list_namespaced_{kind}")(namespace).items:
            replicas = workload.spec.replicas or 0
            patch = {
                "metadata": {"annotations": {REPLICAS_BEFORE: str(replicas)}},
                "spec": {"replicas": 0},
            }
            if replicas:
                getattr(apps, f"patch_namespaced_{kind}")(workload.metadata.name, namespace, patch)
    for pod in core.list_namespaced_pod(namespace).items:
        if not pod.metadata.owner_references:
            core.delete_namespaced_pod(pod.metadata.name, namespace)
    core.patch_namespace(namespace, {"metadata": {"annotations": {ASLEEP: _now()}}})


def _wake(namespace: str) -> None:
    """Give every workload _sleep scaled down its replicas back."""
    api = _admin()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    for kind in ("deployment", "stateful_set"):
        for workload in getattr(apps, f"list_namespaced_{kind}")(namespace).items:
            before = (workload.metadata.annotations or {}).get(REPLICAS_BEFORE)
            if before is not None:
                patch = {
                    "metadata": {"annotations": {REPLICAS_BEFORE: None}},
                    "spec": {"replicas": int(before)},
                }
                getattr(apps, f"patch_namespaced_{kind}")(workload.metadata.name, namespace, patch)
    core.patch_namespace(namespace, {"metadata": {"annotations": {ASLEEP: None}}})


APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
APPLIED_CHARS = 4000


def student_objects(owner_id: int) -> dict:
    """What the student has on the cluster, in plain data (it travels over the channel layer):
    their pods as `kubectl get pods` shows them, and their Deployments and StatefulSets with
    what was last applied. An empty namespace, or none yet, is empty lists."""
    api = _admin()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    name = namespace_name(owner_id)
    try:
        namespace = core.read_namespace(name)
    except ApiException as error:
        if error.status == 404:
            return {
                "namespace": name,
                "exists": False,
                "asleep": False,
                "pods": [],
                "workloads": [],
            }
        raise ClusterUnavailable(f"reading {name}: {error.status}") from error
    pods = _call("listing pods", core.list_namespaced_pod, name).items
    workloads = [
        *(("Deployment", d) for d in _call("listing", apps.list_namespaced_deployment, name).items),
        *(
            ("StatefulSet", d)
            for d in _call("listing", apps.list_namespaced_stateful_set, name).items
        ),
    ]
    return {
        "namespace": name,
        "exists": True,
        "asleep": ASLEEP in (namespace.metadata.annotations or {}),
        "pods": [_pod_row(pod) for pod in sorted(pods, key=lambda p: p.metadata.name)],
        "workloads": [_workload_row(kind, w) for kind, w in workloads],
    }


def _pod_row(pod) -> dict:
    statuses = pod.status.container_statuses or []
    status = pod.status.phase or "Pending"
    for container in statuses:  # what kubectl's STATUS column says when a container waits
        if container.state and container.state.waiting and container.state.waiting.reason:
            status = container.state.waiting.reason
    if pod.metadata.deletion_timestamp:
        status = "Terminating"
    return {
        "name": pod.metadata.name,
        "status": status,
        "ready": f"{sum(bool(c.ready) for c in statuses)}/{len(pod.spec.containers)}",
        "restarts": sum(c.restart_count or 0 for c in statuses),
        "ip": pod.status.pod_ip or "",
        "node": pod.spec.node_name or "",
    }


def _workload_row(kind: str, workload) -> dict:
    applied = (workload.metadata.annotations or {}).get(APPLIED, "")
    return {
        "kind": kind,
        "name": workload.metadata.name,
        "ready": f"{workload.status.ready_replicas or 0}/{workload.spec.replicas or 0}",
        "images": [c.image for c in workload.spec.template.spec.containers],
        "applied": applied[:APPLIED_CHARS],
    }


def remove_all() -> int:
    """Delete every student namespace of this deployment (tests, maintenance)."""
    return sum(remove(namespace.owner_id) for namespace in namespaces())
