"""Images: the lab images the project builds, students' builds (no network, the build limits),
their history, tags and removal.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from django.conf import settings
from docker.errors import APIError, ImageNotFound, NotFound

from sandbox.engine.client import call
from sandbox.engine.profile import BUILD_LIMITS, CGROUPS


def image_exists(tag: str) -> bool:
    with call() as client:
        try:
            client.images.get(tag)
            return True
        except ImageNotFound:
            return False


def build_image(
    tag: str, context_dir: str, buildargs: dict[str, str], labels: dict[str, str]
) -> None:
    with call() as client:
        client.images.build(
            path=context_dir, tag=tag, buildargs=buildargs, labels=labels, rm=True, forcerm=True
        )


def image_label(tag: str, key: str) -> str | None:
    """One label of a local image (None: no such image, or no such label)."""
    with call() as client:
        try:
            labels = client.api.inspect_image(tag)["Config"].get("Labels") or {}
        except ImageNotFound:
            return None
        return labels.get(key)


def build_stream(context: bytes, tag: str, labels: dict[str, str]) -> Iterator[dict]:
    """Build from a tar context, yielding the engine's progress messages as they come."""
    with call() as client:
        yield from client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
            container_limits=BUILD_LIMITS,
            labels=labels,
            decode=True,
            timeout=settings.SANDBOX_BUILD_SECONDS,
        )


def image_history(tag: str) -> list[dict]:
    with call() as client:
        return client.api.history(tag)


def image_info(tag: str) -> dict:
    with call() as client:
        return client.api.inspect_image(tag)


def tag_image(source: str, repository: str, tag: str) -> None:
    with call() as client:
        client.api.tag(source, repository, tag)


def remove_image(reference: str) -> None:
    with call() as client, suppress(NotFound):
        client.api.remove_image(reference, force=True, noprune=False)


def labelled_images(label: str) -> list[dict]:
    with call() as client:
        return client.api.images(filters={"label": label})


def images_labelled(*labels: str) -> list[dict]:
    """The engine's listing of the images that carry every one of `labels` ("key=value")."""
    with call() as client:
        return client.api.images(filters={"label": list(labels)})


def remove_image_forced(reference: str) -> None:
    """Remove an image and every tag of it (a terminal's end takes its student's images)."""
    with call() as client, suppress(NotFound):
        client.api.remove_image(reference, force=True)


def end_build_steps(cgroup: str, settle_seconds: float = 2.0, at_most: float = 30.0) -> int:
    """Kill what a cancelled build still runs (blocking): the engine's classic builder goes on
    with a build whose client has gone, so every container in the build's own cgroup (under
    BUILD_CGROUP, on the local engine's host) is killed until none has come for
    `settle_seconds`; then the build's cgroup folders go. Returns how many were killed."""
    pids = Path(CGROUPS) / "pids" / cgroup.lstrip("/")
    killed, quiet_since, began = 0, time.monotonic(), time.monotonic()
    while time.monotonic() - began < at_most:
        steps = [step.name for step in pids.iterdir() if step.is_dir()] if pids.is_dir() else []
        for step in steps:
            with call() as client, suppress(APIError, NotFound):
                client.api.kill(step)
                killed += 1
        if steps:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle_seconds:
            break
        time.sleep(0.25)
    for controller in Path(CGROUPS).iterdir():
        with suppress(OSError):
            (controller / cgroup.lstrip("/")).rmdir()
    return killed
