"""The hardening profile: the one place that decides how anything the project starts on the
engine is confined (a sandbox container, a swarm service's tasks, a build's RUN steps), and the
labels that say whose it is.
"""

from __future__ import annotations

import docker
from django.conf import settings
from docker.types import LogConfig, Ulimit

# Every container and network the project makes carries SANDBOX_LABEL, whose value is the
# deployment's namespace (so two servers on one engine never reap each other's containers);
# RUN_LABEL names its run.
SANDBOX_LABEL = "baeum.sandbox"
RUN_LABEL = "baeum.run"
WORKDIR = "/work"
# Files a persistent /work may hold (its tmpfs's inodes); a saved tar of it is at most its bytes
# plus a 512-byte header and up to 511 bytes of padding per file (see workspaces.archive_limit).
WORKSPACE_INODES = 8192
USER = "1000:1000"
LOG_OPTIONS = {"max-size": "1m", "max-file": "1"}
TMP_BYTES = 16 * 2**20


def hardening(
    memory: str | None = None, network: str | None = None, workspace_bytes: int | None = None
) -> dict:
    """The hardening profile: the one place that decides how a sandbox container is confined.

    Every container the project starts is created with exactly these options. `memory` may only
    lower the project's limit for one exercise, never raise it. `network` may only name a run's
    own internal network (create_run_network) or a playground's (create_private_network); the
    one exception is the project's own gate, which runs no student input and forwards one port
    to the API server (kube_gate, on its uplink). Without it there is no network at all.
    `workspace_bytes` (a terminal's persistent /work, SANDBOX_WORKSPACE_BYTES) sizes the /work
    tmpfs, and the memory limit grows by exactly as much: tmpfs pages are charged to the
    container's memory, so a full /work must not leave the shell less than other sandboxes get.
    """
    memory_limit = smaller_memory(memory, settings.SANDBOX_MEMORY)
    work = "size=16m,nr_inodes=4096"
    if workspace_bytes:
        memory_limit = str(parse_bytes(memory_limit) + workspace_bytes)
        work = f"size={workspace_bytes},nr_inodes={WORKSPACE_INODES}"
    return {
        **({"network": network} if network else {"network_mode": "none"}),
        "mem_limit": memory_limit,
        # Swap equal to memory: with memory alone the engine silently allows as much swap again.
        "memswap_limit": memory_limit,
        "pids_limit": settings.SANDBOX_PIDS,
        "nano_cpus": int(settings.SANDBOX_CPUS * 1e9),
        # nofile and fsize, not nproc: nproc counts per host UID, so every sandbox running as the
        # same user id would share one budget.
        "ulimits": [
            Ulimit(name="nofile", soft=256, hard=256),
            Ulimit(name="fsize", soft=16 * 2**20, hard=16 * 2**20),
        ],
        # A real PID 1 forwards signals and reaps children (`timeout 2 sleep 10` works).
        "init": True,
        "read_only": True,
        # tmpfs pages count against the memory limit, so these stay well under it.
        "tmpfs": {
            "/tmp": "rw,nosuid,nodev,size=16m,nr_inodes=4096,mode=1777",
            WORKDIR: f"rw,nosuid,nodev,{work},uid=1000,gid=1000,mode=0755",
        },
        "working_dir": WORKDIR,
        "user": USER,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "privileged": False,
        "log_config": LogConfig(type="json-file", config=LOG_OPTIONS),
    }


def smaller_memory(requested: str | None, ceiling: str) -> str:
    if requested is None:
        return ceiling
    return requested if parse_bytes(requested) < parse_bytes(ceiling) else ceiling


def parse_bytes(size: str) -> int:
    """'128m' → 134217728, as the engine reads memory sizes."""
    units = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    text = size.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# A terminal's Docker gate (sandbox/supervisor/docker_gate.py): the folder of its socket is the
# one thing any container gets from the host, read-only, and only a terminal gets it.
GATE_MOUNT = "/run/baeum"


def gate_mount(folder: str) -> docker.types.Mount:
    return docker.types.Mount(GATE_MOUNT, folder, type="bind", read_only=True)


def student_container(memory: str | None = None) -> tuple[dict, dict]:
    """The hardening profile in the engine API's own form, for a container a student asks for
    through the Docker gate: the Config fields and the HostConfig, the same options hardening()
    gives every other container (no network: the gate's containers get none yet)."""
    options = hardening(memory)
    config = {"User": options.pop("user"), "WorkingDir": options.pop("working_dir")}
    options.pop("network_mode", None)
    host = docker.types.HostConfig(version="1.41", network_mode="none", **options)
    return config, dict(host)


def service_confinement(memory: str, cpus: float) -> dict:
    """The hardening profile's share that the swarm service API accepts (API 1.41), as keyword
    arguments of the SDK's ContainerSpec ("container"), Resources ("resources") and the task's
    log driver ("log_driver"): memory and CPU limits (lowered, never raised), read-only root
    with a tmpfs, no capabilities, a non-root user, an init process, the log cap. Not
    expressible there: pids limit and no-new-privileges (see DESIGN.md)."""
    limit = smaller_memory(memory, settings.SANDBOX_MEMORY)
    tmpfs = docker.types.Mount("/tmp", "", type="tmpfs", tmpfs_size=TMP_BYTES)
    return {
        "container": {
            "user": USER,
            "read_only": True,
            "mounts": [tmpfs],
            "cap_drop": ["ALL"],
            "init": True,
        },
        "resources": {
            "mem_limit": parse_bytes(limit),
            "cpu_limit": int(min(cpus, settings.SANDBOX_CPUS) * 1e9),
        },
        "log_driver": docker.types.DriverConfig("json-file", LOG_OPTIONS),
    }


def object_labels(run_id: str) -> dict[str, str]:
    """The labels of everything made for a run: the deployment's namespace and the run."""
    return {SANDBOX_LABEL: settings.SANDBOX_NAMESPACE, RUN_LABEL: run_id}


def label_filter(namespace: str | None = None) -> str:
    """The label filter of one deployment's objects (default: this one's), or of all ("*")."""
    namespace = namespace or settings.SANDBOX_NAMESPACE
    return SANDBOX_LABEL if namespace == "*" else f"{SANDBOX_LABEL}={namespace}"


# A student's named volume: tmpfs-backed and size-capped (see containers.ensure_volume).
VOLUME_OPTIONS = {
    "type": "tmpfs",
    "device": "tmpfs",
    "o": "size=16m,nr_inodes=4096,uid=1000,gid=1000",
}


# Builds of students' Dockerfiles: the legacy builder's RUN containers get no network and these
# limits (the build API accepts no more: the base images' non-root USER does the rest).
# The cgroup parent of the Docker CLI's builds (docker_images): its pids and memory limits are
# the builds' together, set by scripts/prepare-machine.sh on the engine's host (cgroup v1).
BUILD_CGROUP = "/baeum-builds"
BUILD_CGROUP_PIDS = "/sys/fs/cgroup/pids/baeum-builds/pids.max"


CGROUPS = "/sys/fs/cgroup"


def build_cgroup_ready() -> bool:
    """Whether the builds' cgroup has its pids limit here (the local engine's host)."""
    try:
        with open(BUILD_CGROUP_PIDS) as limit:
            return limit.read().strip() != "max"
    except OSError:
        return False


BUILD_LIMITS = {"memory": 256 * 2**20, "memswap": 256 * 2**20, "cpushares": 512}
