"""What a student sees of the engine's answers through the Docker gate (pure): their own names
(`web1`, not `<deployment>-u<owner>-web1`), the shelf's image names, and none of the host's
paths or the project's labels. Each function takes the student's name prefix and the engine's
decoded answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandbox.supervisor.docker_policy import SHOWN


def _shown_name(prefix: str, name: str) -> str:
    return "/" + name.lstrip("/").removeprefix(prefix)


def _shown_image(image: str) -> str:
    return SHOWN.get(image, image)


def _unprefixed(prefix: str, value: Any) -> Any:
    """`value` with the student's names as they gave them: every string and key that is an
    engine name of theirs (`<deployment>-u<owner>-web1`, `/…`, `…:/data`) loses the prefix."""
    if isinstance(value, str):
        if value.startswith(prefix):
            return value.removeprefix(prefix)
        if value.startswith("/" + prefix):
            return "/" + value.removeprefix("/" + prefix)
        return value
    if isinstance(value, list):
        return [_unprefixed(prefix, inner) for inner in value]
    if isinstance(value, dict):
        return {_unprefixed(prefix, k): _unprefixed(prefix, v) for k, v in value.items()}
    return value


def _hidden_mounts(mounts: list | None) -> list:
    """A volume's place on the host's disk is not the student's to see."""
    for mount in mounts or []:
        if mount.get("Type") == "volume":
            mount["Source"] = ""
    return mounts or []


def _list(prefix: str, containers: list) -> list:
    for container in containers:
        container["Names"] = [_shown_name(prefix, name) for name in container.get("Names") or []]
        container["Image"] = _shown_image(container.get("Image", ""))
        container["Labels"] = _shown_labels(container.get("Labels"))
        _hidden_mounts(container.get("Mounts"))
    return _unprefixed(prefix, containers)


def _inspected(prefix: str, container: dict) -> dict:
    container["Name"] = _shown_name(prefix, container.get("Name", ""))
    if config := container.get("Config"):
        config["Image"] = _shown_image(config.get("Image", ""))
        config["Labels"] = _shown_labels(config.get("Labels"))
    # Where the engine keeps things on the host is not the student's to see.
    for internal in ("GraphDriver", "LogPath", "ResolvConfPath", "HostnamePath", "HostsPath"):
        container.pop(internal, None)
    (container.get("NetworkSettings") or {}).pop("SandboxKey", None)  # the host's netns path
    if state := container.get("State"):
        state["Pid"] = 0  # the host's process id
    _hidden_mounts(container.get("Mounts"))
    return _unprefixed(prefix, container)


def _network(prefix: str, network: dict) -> dict:
    network["Labels"] = _shown_labels(network.get("Labels"))
    return _unprefixed(prefix, network)


def _networks(prefix: str, networks: list) -> list:
    return [_network(prefix, network) for network in networks]


def _volume(prefix: str, volume: dict) -> dict:
    volume["Labels"] = _shown_labels(volume.get("Labels"))
    volume["Mountpoint"] = ""
    volume.pop("Status", None)
    return _unprefixed(prefix, volume)


def _volumes(prefix: str, listing: dict) -> dict:
    return {"Volumes": [_volume(prefix, v) for v in listing.get("Volumes") or []], "Warnings": []}


def _shown_labels(labels: dict | None) -> dict:
    return {k: v for k, v in (labels or {}).items() if not k.startswith("baeum.")}


def _tags(prefixes: Mapping[str, str], tags: list | None) -> list[str]:
    """An image's tags a student may see: the shelf's names, and their own as they name them
    (`prefixes`: docker_images.shown_prefixes, the engine's prefix → theirs); anybody else's
    are not there."""
    shown = []
    for tag in tags or []:
        if tag in SHOWN:
            shown.append(SHOWN[tag] + ":latest")
        for prefix, instead in prefixes.items():
            if tag.startswith(prefix):
                shown.append(instead + tag.removeprefix(prefix))
    return shown


def _images(prefix: Mapping[str, str], images: list) -> list:
    """`docker images`: the shelf and the student's own."""
    kept = []
    for image in images:
        if tags := _tags(prefix, image.get("RepoTags")):
            kept.append(
                {
                    **image,
                    "RepoTags": tags,
                    "RepoDigests": [],
                    "Labels": _shown_labels(image.get("Labels")),
                }
            )
    return kept


def _as_is(prefix: str, body: object) -> object:
    return body


def _version(prefix: str, version: dict) -> dict:
    """The engine's version and API, not the host's kernel or the runtime's builds."""
    kept = ("Version", "ApiVersion", "MinAPIVersion", "Os", "Arch", "GoVersion", "GitCommit")
    shown = {key: version[key] for key in kept if key in version}
    engine_part = {"Name": "Engine", "Version": version.get("Version", "")}
    return {**shown, "Components": [engine_part], "Platform": {"Name": "배움 실습 서버"}}


def _image(prefix: Mapping[str, str], image: dict) -> dict:
    image["RepoTags"] = _tags(prefix, image.get("RepoTags"))
    image["RepoDigests"] = []
    image.pop("GraphDriver", None)
    for config in (image.get("Config"), image.get("ContainerConfig")):
        if config:
            config["Labels"] = _shown_labels(config.get("Labels"))
    return image


def _history(prefix: Mapping[str, str], layers: list) -> list:
    """`docker history`: the student's steps and the base's, not the project's labels."""
    layers = [layer for layer in layers if "LABEL baeum." not in str(layer.get("CreatedBy"))]
    for layer in layers:
        layer["Tags"] = _tags(prefix, layer.get("Tags"))
        created_by = str(layer.get("CreatedBy") or "")
        for local, name in [*SHOWN.items(), *prefix.items()]:
            created_by = created_by.replace(local, name)
        layer["CreatedBy"] = created_by
    return layers


def _removed(prefixes: Mapping[str, str], removed: list) -> list:
    """`docker rmi`: what went, by the student's names (layers by id, as the engine says)."""
    for item in removed:
        for key, value in item.items():
            for prefix, instead in prefixes.items():
                if str(value).startswith(prefix):
                    item[key] = instead + str(value).removeprefix(prefix)
    return removed


# By endpoint (docker_policy.ENDPOINTS): how its answer is shown to the student.
# Images take the prefixes of docker_images.shown_prefixes, the rest the name prefix.
REWRITTEN: dict[str, Callable[[Any, Any], object]] = {
    "containers.list": _list,
    "containers.inspect": _inspected,
    "images.list": _images,
    "exec.create": _as_is,
    "containers.create": _as_is,  # read whole: the gate keeps the new container's name
    "version": _version,
    "images.inspect": _image,
    "images.history": _history,
    "images.remove": _removed,
    "networks.list": _networks,
    "networks.inspect": _network,
    "volumes.list": _volumes,
    "volumes.inspect": _volume,
}
