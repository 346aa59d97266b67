"""What the Docker gate lets through, decided on the request the engine would act on (pure).

The gate (sandbox/supervisor/docker_gate.py) parses each HTTP request of a student's docker CLI
and asks `route` what it is: an endpoint on the allow-list, at an allowed API version, or a
refusal. A container's creation is then rebuilt by `container_create`: the student's Config and
HostConfig are read field by field, anything asked for beyond what the hardening profile allows
is refused (never silently dropped), and the body sent to the engine is the profile's, with only
the student's harmless fields (command, environment, TTY, --rm …) carried over.

Refusals read as the CLI's own error lines (`Error response from daemon: …`), in Korean, saying
what is not allowed here and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.shelf import SHELF

# The API versions the gate speaks: the engine's (Debian's 20.10: 1.41) and the one before it.
VERSIONS = {"1.40", "1.41"}
_VERSIONED = re.compile(r"^/v(?P<version>\d+\.\d+)(?P<rest>/.*)$")

# The allow-list: (method, path pattern) → the endpoint's name. `{ref}` is a container's name or
# id as the student gave it (a network's, a volume's); `{image}` an image's name; `{exec}` an
# exec instance's id.
ENDPOINTS: dict[tuple[str, str], str] = {
    ("GET", "/_ping"): "ping",
    ("HEAD", "/_ping"): "ping",
    ("GET", "/version"): "version",
    ("GET", "/info"): "info",
    ("GET", "/containers/json"): "containers.list",
    ("POST", "/containers/create"): "containers.create",
    ("GET", "/containers/{ref}/json"): "containers.inspect",
    ("GET", "/containers/{ref}/logs"): "containers.logs",
    ("GET", "/containers/{ref}/top"): "containers.top",
    ("GET", "/containers/{ref}/stats"): "containers.stats",
    ("POST", "/containers/{ref}/start"): "containers.start",
    ("POST", "/containers/{ref}/stop"): "containers.stop",
    ("POST", "/containers/{ref}/restart"): "containers.restart",
    ("POST", "/containers/{ref}/kill"): "containers.kill",
    ("POST", "/containers/{ref}/wait"): "containers.wait",
    ("POST", "/containers/{ref}/attach"): "containers.attach",
    ("POST", "/containers/{ref}/resize"): "containers.resize",
    ("POST", "/containers/{ref}/exec"): "exec.create",
    ("DELETE", "/containers/{ref}"): "containers.remove",
    ("POST", "/exec/{exec}/start"): "exec.start",
    ("POST", "/exec/{exec}/resize"): "exec.resize",
    ("GET", "/exec/{exec}/json"): "exec.inspect",
    ("GET", "/images/json"): "images.list",
    ("GET", "/images/{image}/json"): "images.inspect",
    ("GET", "/images/{image}/history"): "images.history",
    ("POST", "/images/{image}/tag"): "images.tag",
    ("POST", "/images/{image}/push"): "images.push",
    ("DELETE", "/images/{image}"): "images.remove",
    ("POST", "/build"): "images.build",
    ("GET", "/networks"): "networks.list",
    ("POST", "/networks/create"): "networks.create",
    ("GET", "/networks/{ref}"): "networks.inspect",
    ("DELETE", "/networks/{ref}"): "networks.remove",
    ("POST", "/networks/{ref}/connect"): "networks.connect",
    ("POST", "/networks/{ref}/disconnect"): "networks.disconnect",
    ("GET", "/volumes"): "volumes.list",
    ("POST", "/volumes/create"): "volumes.create",
    ("GET", "/volumes/{ref}"): "volumes.inspect",
    ("DELETE", "/volumes/{ref}"): "volumes.remove",
    # `docker inspect NAME` tries each kind of object in turn: the kinds the gate has none of
    # answer as missing, so the CLI goes on to the next (a refusal would stop it).
    ("GET", "/plugins/{ref}/json"): "missing",
    ("GET", "/nodes/{ref}"): "missing",
    ("GET", "/services/{ref}"): "missing",
    ("GET", "/tasks/{ref}"): "missing",
    ("GET", "/secrets/{ref}"): "missing",
    ("GET", "/configs/{ref}"): "missing",
    ("POST", "/images/create"): "images.pull",  # answered by the gate: the shelf or "not here"
}
_PATTERNS = [
    (
        method,
        # An image's name may hold a slash (`me/myapp`); every other part of a path may not.
        re.compile(
            "^"
            + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path.replace("{image}", "(?P<ref>.+)"))
            + "$"
        ),
        name,
    )
    for (method, path), name in ENDPOINTS.items()
]

# The shelf (sandbox/shelf.py): what `docker run NAME` and `docker images` offer, by the name a
# student types, and the local image each is.
SHOWN = {local: name for name, local in SHELF.items()}

WHY = "이 서버의 모든 컨테이너는 다른 학생과 서버를 지키는 같은 보안 설정으로만 실행돼요"


class Refused(Exception):
    """A request the gate does not let through; the message is what the CLI prints."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Route:
    name: str  # the endpoint (ENDPOINTS' value)
    version: str  # "" for an unversioned path
    ref: str = ""  # the container named in the path, as the student gave it
    exec_id: str = ""


def route(method: str, path: str) -> Route:
    """The endpoint a request is for, or Refused: anything off the allow-list, at any version."""
    version, rest = "", path
    if match := _VERSIONED.match(path):
        version, rest = match["version"], match["rest"]
        if version not in VERSIONS:
            raise Refused(
                f"API 버전 {version}은 여기서 쓸 수 없어요 ({', '.join(sorted(VERSIONS))}만 돼요).",
                400,
            )
    for allowed, pattern, name in _PATTERNS:
        if allowed == method and (found := pattern.match(rest)):
            groups = found.groupdict()
            return Route(name, version, groups.get("ref", ""), groups.get("exec", ""))
    raise Refused(f"`{method} {rest}`는 이 실습 서버에서 쓸 수 없는 명령이에요.")


# --- Creating a container -------------------------------------------------------------------

# The options a student may not ask for, by the HostConfig field that carries them, with the flag
# the CLI spells them as. Any other field that carries a value is refused too (fail closed).
FLAGS = {
    "Privileged": "--privileged",
    "CapAdd": "--cap-add",
    "Devices": "--device",
    "DeviceRequests": "--gpus",
    "DeviceCgroupRules": "--device-cgroup-rule",
    "Binds": "-v (호스트 경로)",
    "Mounts": "--mount",
    "VolumesFrom": "--volumes-from",
    "Tmpfs": "--tmpfs",
    "PortBindings": "-p",
    "PublishAllPorts": "-P",
    "PidMode": "--pid",
    "IpcMode": "--ipc",
    "UTSMode": "--uts",
    "UsernsMode": "--userns",
    "CgroupnsMode": "--cgroupns",
    "Cgroup": "--cgroup",
    "CgroupParent": "--cgroup-parent",
    "SecurityOpt": "--security-opt",
    "Runtime": "--runtime",
    "Sysctls": "--sysctl",
    "OomKillDisable": "--oom-kill-disable",
    "Links": "--link",
    "GroupAdd": "--group-add",
    "LogConfig": "--log-driver",
    "ShmSize": "--shm-size",
    "Ulimits": "--ulimit",
    "MaskedPaths": "--security-opt systempaths",
    "ReadonlyPaths": "--security-opt systempaths",
    "VolumeDriver": "--volume-driver",
    "Isolation": "--isolation",
    "NetworkMode": "--network",
    "ExtraHosts": "--add-host",
    "Dns": "--dns",
    "DnsOptions": "--dns-option",
    "DnsSearch": "--dns-search",
    "OomScoreAdj": "--oom-score-adj",
    "BlkioWeight": "--blkio-weight",
    "CpusetCpus": "--cpuset-cpus",
    "CpusetMems": "--cpuset-mems",
    "CpuPeriod": "--cpu-period",
    "CpuQuota": "--cpu-quota",
    "KernelMemory": "--kernel-memory",
    "MemoryReservation": "--memory-reservation",
}
# HostConfig fields the student may set, carried over as they are (or checked below).
CARRIED = {"AutoRemove", "Init", "ConsoleSize", "ReadonlyRootfs"}  # the last: ours is on
# Values a CLI sends for an option nobody asked for.
UNSET: tuple[object, ...] = (
    None,
    "",
    0,
    False,
    [],
    {},
    "default",
    "private",
    "host-default",
    [0, 0],
)
# Config fields carried over from the student's request; the rest of Config is the profile's.
CONFIG_FIELDS = (
    "Cmd",
    "Entrypoint",
    "Env",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Hostname",
    "WorkingDir",
    "Labels",
    "ExposedPorts",
)
# Stopping: the signals a program may ask for, and at most this long a wait before the kill.
STOP_SIGNALS = {"", "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL"}
MAX_STOP_SECONDS = 30
# Listing filters that narrow to the student's own (the gate adds theirs): `before`/`since` name
# another container, which the engine would look up among everyone's.
FILTERS = {"name", "id", "status", "exited", "health", "ancestor", "label", "volume", "network"}
NETWORK_FILTERS = {"name", "id", "label", "driver", "type", "scope", "dangling"}
VOLUME_FILTERS = {"name", "label", "driver", "dangling"}
NON_ROOT = {"", "1000", "1000:1000"}
NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}")  # as the engine takes one (fullmatch)


def _asked(value: object) -> bool:
    """Whether a field carries a choice (the CLI sends every field; most say nothing)."""
    if isinstance(value, dict):
        return any(_asked(inner) for inner in value.values())
    return not any(value == unset and type(value) is type(unset) for unset in UNSET)


def _refuse_flag(flag: str) -> Refused:
    return Refused(f"{flag}는 여기서 쓸 수 없어요: {WHY}.")


@dataclass(frozen=True)
class Mount:
    """A named volume a container asks for (`-v data:/d`, `--mount type=volume,…`)."""

    volume: str  # the student's name for it
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Joined:
    """The network a container is made on: the engine's name for the student's network, and
    the names the others on it reach the container by (its own name, its --network-alias)."""

    network: str
    aliases: tuple[str, ...]


# Where a volume may not go: over the container's kernel file systems.
_KERNEL_PATHS = ("/proc", "/sys", "/dev")


def _target(path: object) -> str:
    text = str(path or "")
    if (
        not text.startswith("/")
        or text == "/"
        or ".." in text.split("/")
        or any(text == kernel or text.startswith(kernel + "/") for kernel in _KERNEL_PATHS)
    ):
        raise Refused(
            f"볼륨을 {text or '(빈 경로)'}에 연결할 수 없어요: 컨테이너 안의 절대 경로로 써요.", 400
        )
    return text


def asked_mounts(body: dict) -> list[Mount]:
    """The named volumes a container asks for, or Refused: a host path (`-v /srv:/d`), any other
    kind of mount, or a volume driver's options."""
    host = body.get("HostConfig") or {}
    mounts = []
    for bind in host.get("Binds") or []:
        source, _, rest = str(bind).partition(":")
        target, _, mode = rest.partition(":")
        if source.startswith(("/", ".", "~")) or not NAME.fullmatch(source):
            raise Refused(
                f"-v {source}: 호스트의 경로는 컨테이너에 연결할 수 없어요 (다른 학생과 서버의 "
                "파일을 지켜요). 이름 있는 볼륨을 써요: docker volume create data, "
                "docker run -v data:/data …",
            )
        if mode not in {"", "ro", "rw"}:
            raise Refused(f"-v {bind}: 볼륨의 옵션은 ro나 rw만 돼요.", 400)
        mounts.append(Mount(source, _target(target), mode == "ro"))
    for mount in host.get("Mounts") or []:
        kind = mount.get("Type", "")
        if kind != "volume":
            raise _refuse_flag(f"--mount type={kind}")
        if any(
            _asked(mount.get(extra)) for extra in ("VolumeOptions", "BindOptions", "TmpfsOptions")
        ):
            raise _refuse_flag("--mount의 볼륨 옵션")
        source = str(mount.get("Source") or "")
        if not NAME.fullmatch(source):
            raise Refused("--mount: 이름 있는 볼륨(source=이름)만 연결할 수 있어요.", 400)
        mounts.append(Mount(source, _target(mount.get("Target")), bool(mount.get("ReadOnly"))))
    return mounts


def asked_network(body: dict) -> tuple[str, tuple[str, ...]] | None:
    """The student's network a container asks to be made on, with its --network-alias names, or
    None for the default (no network here). Refused: the host's or another container's."""
    mode = str((body.get("HostConfig") or {}).get("NetworkMode") or "")
    if mode in {"", "default", "bridge", "none"}:
        return None
    if mode == "host" or mode.startswith("container:") or not NAME.fullmatch(mode):
        raise _refuse_flag(f"--network {mode}")
    endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    endpoint = endpoints.get(mode) or {}
    return mode, endpoint_aliases(endpoint)


def endpoint_aliases(endpoint: dict) -> tuple[str, ...]:
    """A network endpoint's --network-alias names; Refused: a fixed address, links, options."""
    for field in ("IPAMConfig", "Links", "DriverOpts", "MacAddress", "IPAddress"):
        if _asked(endpoint.get(field)):
            raise _refuse_flag("--ip, --link, --driver-opt")
    aliases = tuple(str(alias) for alias in endpoint.get("Aliases") or [])
    for alias in aliases:
        if not NAME.fullmatch(alias):
            raise Refused(f"--network-alias {alias}은(는) 쓸 수 없어요 (영문자·숫자·_.- 로).", 400)
    return aliases


def container_create(
    body: dict,
    image: str,
    profile: tuple[dict, dict],
    labels: dict[str, str],
    joined: Joined | None = None,
    binds: tuple[str, ...] = (),
) -> dict:
    """The body the engine gets for the student's `POST /containers/create`: `image` (the shelf's
    or the student's own, resolved by the gate), the profile's Config and HostConfig (`profile`,
    engine.profile.student_container), the student's harmless fields, `labels` over theirs.
    The network (`joined`) and the volumes (`binds`, "engine-name:/target[:ro]") are the ones
    the gate resolved from asked_network and asked_mounts, among the student's own."""
    host = body.get("HostConfig") or {}
    for field, value in host.items():
        if field in CARRIED or not _asked(value):
            continue
        if field == "MemorySwappiness" and value == -1:
            continue  # the CLI's "unset"
        if field in {"NetworkMode", "Binds", "Mounts"}:
            continue  # read by asked_network and asked_mounts, resolved by the gate
        if field == "RestartPolicy":
            if (value or {}).get("Name", "") in {"", "no"}:
                continue
            raise _refuse_flag("--restart")
        if field in {"Memory", "MemorySwap", "NanoCpus", "PidsLimit", "CpuShares"}:
            raise Refused(f"자원 한도(--memory, --cpus, --pids-limit …)는 바꿀 수 없어요: {WHY}.")
        raise _refuse_flag(FLAGS.get(field, f"HostConfig.{field}"))
    networks = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if any(name not in {"bridge", "none", host.get("NetworkMode")} for name in networks):
        raise _refuse_flag("--network")
    if body.get("Volumes"):
        raise _refuse_flag("-v (익명 볼륨)")
    if str(body.get("User") or "") not in NON_ROOT:
        raise Refused(
            f"--user {body.get('User')}는 여기서 쓸 수 없어요: 컨테이너는 uid 1000으로만 실행돼요."
        )
    if body.get("Healthcheck"):
        # The engine runs a health check's command on its own schedule, outside the container's
        # limits: at a millisecond's interval it would keep the host busy.
        raise _refuse_flag("--health-cmd")
    if str(body.get("StopSignal") or "") not in STOP_SIGNALS:
        raise _refuse_flag(f"--stop-signal {body.get('StopSignal')}")
    stop_timeout = body.get("StopTimeout")
    if stop_timeout is not None and not 0 <= int(stop_timeout) <= MAX_STOP_SECONDS:
        raise Refused(f"--stop-timeout은 0에서 {MAX_STOP_SECONDS}초 사이로만 돼요.")
    config, confined = profile
    made = {"Image": image, **config}
    for field in ("StopSignal", "StopTimeout"):
        if body.get(field) not in (None, ""):
            made[field] = body[field]
    for field in CONFIG_FIELDS:
        if body.get(field) not in (None, ""):
            made[field] = body[field]
    # The project's own labels (baeum.*) are the gate's to give: a student's are dropped.
    theirs = {k: v for k, v in (body.get("Labels") or {}).items() if not k.startswith("baeum.")}
    made["Labels"] = {**theirs, **labels}
    # The image's own health check too: the engine runs it outside the container's limits.
    made["Healthcheck"] = {"Test": ["NONE"]}
    made["HostConfig"] = {**confined, **{k: host[k] for k in ("AutoRemove",) if k in host}}
    if binds:
        made["HostConfig"]["Binds"] = list(binds)
    if joined is not None:
        made["HostConfig"]["NetworkMode"] = joined.network
        made["NetworkingConfig"] = {
            "EndpointsConfig": {joined.network: {"Aliases": list(joined.aliases)}}
        }
    return made


# An image's VOLUME would be an anonymous volume on the host's disk, with no cap: each is
# covered by a tmpfs of this size instead (counted in the container's memory), at most a few.
IMAGE_VOLUME_TMPFS = "rw,nosuid,nodev,size=16m,nr_inodes=4096,uid=1000,gid=1000,mode=0755"
MAX_IMAGE_VOLUMES = 4


def cover_image_volumes(made: dict, declared: list[str], bound: set[str]) -> None:
    """Put a capped tmpfs where the image declares a VOLUME (`declared`), but where the
    student mounts a named volume of their own (`bound`)."""
    paths = [path for path in declared if path not in bound]
    if len(paths) > MAX_IMAGE_VOLUMES:
        raise Refused(f"이 이미지는 VOLUME이 너무 많아요 ({MAX_IMAGE_VOLUMES}개까지).", 400)
    tmpfs = made["HostConfig"].setdefault("Tmpfs", {}) or {}
    for path in paths:
        tmpfs.setdefault(_target(path), IMAGE_VOLUME_TMPFS)
    made["HostConfig"]["Tmpfs"] = tmpfs


# --- Networks and volumes -------------------------------------------------------------------


def network_create(body: dict) -> str:
    """`docker network create NAME`: the student's name for it, or Refused. Every network here
    is an internal bridge on an address range the gate picks: no route out, no host."""
    name = str(body.get("Name") or "")
    if not NAME.fullmatch(name):
        raise Refused(
            f"네트워크 이름 {name or '(없음)'}은(는) 쓸 수 없어요 (영문자·숫자·_.- 로).", 400
        )
    if str(body.get("Driver") or "bridge") != "bridge":
        raise Refused(f"--driver {body.get('Driver')}: 여기서는 bridge 네트워크만 만들 수 있어요.")
    ipam = body.get("IPAM") or {}
    if (
        _asked(ipam.get("Config"))
        or _asked(ipam.get("Options"))
        or ipam.get("Driver") not in (None, "", "default")
    ):
        raise _refuse_flag("--subnet, --ip-range, --gateway, --ipam-driver")
    for field, flag in (
        ("Options", "--opt"),
        ("EnableIPv6", "--ipv6"),
        ("Ingress", "--ingress"),
        ("ConfigFrom", "--config-from"),
        ("ConfigOnly", "--config-only"),
        ("Scope", "--scope"),
    ):
        if _asked(body.get(field)) and not (field == "Scope" and body.get(field) == "local"):
            raise _refuse_flag(flag)
    return name


def volume_create(body: dict) -> str:
    """`docker volume create [NAME]`: the name ("" for one the gate makes up), or Refused. Every
    volume here is a tmpfs of a fixed size (engine.profile.VOLUME_OPTIONS)."""
    name = str(body.get("Name") or "")
    if name and not NAME.fullmatch(name):
        raise Refused(f"볼륨 이름 {name}은(는) 쓸 수 없어요 (영문자·숫자·_.- 로).", 400)
    if str(body.get("Driver") or "local") != "local":
        raise Refused(f"--driver {body.get('Driver')}: 여기서는 local 볼륨만 만들 수 있어요.")
    if _asked(body.get("DriverOpts")):
        raise _refuse_flag("--opt")
    return name


def own_labels(labels: object) -> dict[str, str]:
    """A student's own labels on what they make (the project's, baeum.*, are the gate's)."""
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items() if not str(k).startswith("baeum.")}


def check_filters(filters: object, allowed_filters: set[str] = FILTERS) -> None:
    """`docker ps --filter` (and the other listings'): only the kinds that narrow a listing."""
    if not isinstance(filters, dict):
        raise Refused("필터를 읽을 수 없어요.", 400)
    for key in filters:
        if key not in allowed_filters:
            allowed = ", ".join(sorted(allowed_filters))
            raise Refused(f"--filter {key}는 여기서 쓸 수 없어요 ({allowed}만 돼요).", 400)


EXEC_FIELDS = (
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "Cmd",
    "Env",
    "WorkingDir",
    "DetachKeys",
    "ConsoleSize",
)


def exec_create(body: dict) -> dict:
    """`docker exec`: as the container's own user, never privileged."""
    if body.get("Privileged"):
        raise _refuse_flag("--privileged")
    if str(body.get("User") or "") not in NON_ROOT:
        raise Refused(f"--user {body.get('User')}는 여기서 쓸 수 없어요: uid 1000으로만 실행돼요.")
    return {key: body[key] for key in EXEC_FIELDS if key in body}
