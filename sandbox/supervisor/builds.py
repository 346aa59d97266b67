"""Image builds of students' Dockerfiles, on the real engine, streamed step by step (the web side,
sandbox/api/builds.py, checks and records them first).

Safety before anything is sent: size caps on the Dockerfile and its files, then the Dockerfile
evaluated as the builder will and judged (`dockerfile_rules`: FROM only the lab images, never
root, nothing fetched from outside the context). During the build: no network for RUN steps,
the build API's memory and CPU limits, a time limit. Afterwards: images are namespaced per
deployment and student (`baeum-build/<namespace>-u<id>-<label>`), at most SANDBOX_BUILD_IMAGES
per student (oldest removed), and removed when they expire.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import tarfile
import threading
import time
from contextlib import suppress
from datetime import timedelta

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import engine
from sandbox.api.builds import ENGINE_DOWN, BuildRefused, BuildSpec, group_name
from sandbox.models import Build
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger(__name__)

MAX_LOG_CHARS = 128 * 1024
VERSION = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
OWNER_LABEL = "baeum.owner"
# The builder adds the labels as LABEL steps of its own; students are not shown them.
HIDDEN_STEP = "LABEL baeum."


def context_tar(spec: BuildSpec) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in {"Dockerfile": spec.dockerfile, **spec.files}.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_TASKS: set[asyncio.Task] = set()


async def on_start(build_id: str, spec: dict) -> None:
    """Supervisor side: follow a build the web side recorded."""
    build = await Build.objects.filter(pk=build_id, state=Build.State.BUILDING).afirst()
    if build is None or build_id in SUPERVISED.builds:
        return
    SUPERVISED.builds[build_id] = build
    task = asyncio.get_running_loop().create_task(_follow(build, BuildSpec.from_data(spec)))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def on_tag(build_id: str, version: str) -> str:
    build = await Build.objects.aget(pk=build_id)
    try:
        await asyncio.to_thread(tag_version, build, version)
    except BuildRefused as error:
        return str(error)
    return ""


async def on_layers(build_id: str) -> list[dict]:
    return await asyncio.to_thread(layers, await Build.objects.aget(pk=build_id))


async def _publish(build: Build, event: dict) -> None:
    # Saved first: a socket that opens on any worker reads steps and log from the database,
    # then skips frames it already has (by the log's length; see sandbox/consumers/builds.py).
    await build.asave(update_fields=["steps", "log", "image_id"])
    try:
        await get_channel_layer().group_send(group_name(build.id), event)
    except Exception as error:  # the channel layer (Redis) is away: the build goes on
        log.warning("build %s: could not publish (%s)", build.id, error)


async def _follow(build: Build, spec: BuildSpec) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    # The same labels for every build of a student, so an unchanged Dockerfile is all cache.
    labels = {engine.SANDBOX_LABEL: settings.SANDBOX_NAMESPACE, OWNER_LABEL: str(spec.owner_id)}

    def hand_over(message) -> None:
        with suppress(RuntimeError):  # the loop is gone (shutdown): nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, message)

    def pump() -> None:
        try:
            for message in engine.build_stream(context_tar(spec), build.reference, labels):
                hand_over(message)
                if stop.is_set():
                    break  # dropping the stream closes the connection: the engine cancels
        except Exception as error:  # noqa: BLE001 — any failure ends the build, said plainly
            hand_over({"failure": error})
        finally:
            hand_over(None)

    threading.Thread(target=pump, daemon=True, name=f"build-{build.id}").start()
    deadline = time.monotonic() + settings.SANDBOX_BUILD_SECONDS
    step_began = time.monotonic()
    hidden = False
    try:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), deadline - time.monotonic())
            except TimeoutError:
                stop.set()
                build.state = Build.State.FAILED
                build.message = _("빌드 시간 제한({n}초)을 넘겨서 멈췄어요.").format(
                    n=settings.SANDBOX_BUILD_SECONDS
                )
                break
            if message is None:
                break
            if "failure" in message:
                error = message["failure"]
                build.state = Build.State.FAILED
                log.warning("build %s: %s", build.id, error)
                build.message = str(
                    ENGINE_DOWN
                    if isinstance(error, engine.EngineUnavailable)
                    else _(
                        "빌드를 끝내지 못했어요. 다시 빌드해 주세요. 계속되면 선생님께 알려 주세요."
                    )
                )
                continue
            if "error" in message:
                build.state = Build.State.FAILED
                build.message = _("빌드가 실패했어요: {e}").format(e=message["error"].strip())[:300]
                await _log(build, message["error"])
                continue
            if "aux" in message and "ID" in message["aux"]:
                build.image_id = message["aux"]["ID"]
            text = message.get("stream", "")
            for line in text.splitlines():
                step = STEP.match(line)
                if step and step.group(3).startswith(HIDDEN_STEP):
                    await _close_step(build, step_began)
                    hidden = True
                    continue
                if step:
                    hidden = False
                    await _close_step(build, step_began)
                    step_began = time.monotonic()
                    build.steps.append(
                        {
                            "index": int(step.group(1)),
                            "instruction": step.group(3),
                            "cached": False,
                            "seconds": None,
                        }
                    )
                    await _publish(build, {"type": "build.step"})
                elif line.strip() == "---> Using cache" and build.steps and not hidden:
                    build.steps[-1]["cached"] = True
            if text:
                await _log(build, text)
        await _close_step(build, step_began)
        if build.state == Build.State.BUILDING:
            build.state = Build.State.BUILT if build.image_id else Build.State.FAILED
            if build.image_id:
                info = await asyncio.to_thread(engine.image_info, build.image_id)
                build.size_bytes = info.get("Size")
            else:
                build.message = build.message or _("이미지가 만들어지지 않았어요.")
    finally:
        build.ended_at = timezone.now()
        await build.asave()
        SUPERVISED.builds.pop(str(build.id), None)
        await _publish(build, {"type": "build.ended"})
        await asyncio.to_thread(keep_latest, spec.owner_id)


async def _close_step(build: Build, began: float) -> None:
    if build.steps and build.steps[-1]["seconds"] is None:
        build.steps[-1]["seconds"] = round(time.monotonic() - began, 2)
        await _publish(build, {"type": "build.step"})


async def _log(build: Build, text: str) -> None:
    if len(build.log) < MAX_LOG_CHARS:
        text = text[: MAX_LOG_CHARS - len(build.log)]
        build.log += text
        await _publish(build, {"type": "build.output", "text": text, "end": len(build.log)})


def layers(build: Build) -> list[dict]:
    """The image's layers, newest last, with the step that made each and whether it was cached
    (`docker history`, matched to the build's steps)."""
    history = [
        entry
        for entry in reversed(engine.image_history(build.image_id))
        if HIDDEN_STEP not in (entry.get("CreatedBy") or "")
    ]
    own = len(build.steps) - 1  # FROM adds no history entry of its own
    base, mine = history[: len(history) - own], history[len(history) - own :]
    rows = [
        {
            "instruction": _("기반 이미지 ({n}개 계층)").format(n=len(base)),
            "base": True,
            "size": sum(h["Size"] for h in base),
            "created": None,
            "cached": True,
        }
    ]
    for step, entry in zip(build.steps[1:], mine, strict=False):
        rows.append(
            {
                "instruction": step["instruction"],
                "base": False,
                "size": entry["Size"],
                "created": entry["Created"],
                "cached": step["cached"],
            }
        )
    return rows


def tag_version(build: Build, version: str) -> None:
    """Give a build a version tag (v1, v2 …); another build of the same lesson loses it."""
    if not VERSION.match(version):
        raise BuildRefused(_("버전 이름은 v1처럼 소문자, 숫자, 점, -로 써 주세요."))
    engine.tag_image(build.image_id, build.repository, version)
    Build.objects.filter(owner_id=build.owner_id, label=build.label, version=version).exclude(
        pk=build.pk
    ).update(version="")
    build.version = version
    build.save(update_fields=["version"])


def keep_latest(owner_id: int) -> int:
    """At most SANDBOX_BUILD_IMAGES images per student; the oldest go first."""
    kept = Build.objects.filter(owner_id=owner_id, state=Build.State.BUILT, removed=False)
    extra = list(kept.order_by("-created_at")[settings.SANDBOX_BUILD_IMAGES :])
    for build in extra:
        remove_build_image(build)
    return len(extra)


def remove_build_image(build: Build) -> None:
    if build.version:
        engine.remove_image(f"{build.repository}:{build.version}")
    engine.remove_image(build.reference)
    build.removed, build.version = True, ""
    build.save(update_fields=["removed", "version"])


def expire_builds() -> int:
    """Remove images older than SANDBOX_BUILD_TTL_HOURS (called by the reaper)."""
    cutoff = timezone.now() - timedelta(hours=settings.SANDBOX_BUILD_TTL_HOURS)
    old = list(Build.objects.filter(removed=False, created_at__lt=cutoff, state=Build.State.BUILT))
    for build in old:
        remove_build_image(build)
    return len(old)


CUT_OFF_MESSAGE = gettext_lazy(
    "서버가 다시 시작되어 빌드가 중간에 끊겼어요. 빌드 버튼을 다시 눌러 주세요."
)


def recover() -> list[str]:
    """Blocking, at start-up: builds still marked «building» that no follower of this process
    holds were cut off with a previous process. Mark them failed, in words, so the student can
    build again (start_build refuses while one is building); return their ids."""
    cut_off = Build.objects.filter(state=Build.State.BUILDING).exclude(
        pk__in=list(SUPERVISED.builds)
    )
    ids = [str(pk) for pk in cut_off.values_list("pk", flat=True)]
    Build.objects.filter(pk__in=ids).update(
        state=Build.State.FAILED, message=str(CUT_OFF_MESSAGE), ended_at=timezone.now()
    )
    if ids:
        log.info("marked %d build(s) cut off by a restart as failed", len(ids))
    return ids


async def tell_cut_off(build_ids: list[str]) -> None:
    """Sockets still showing a cut-off build (on web workers that outlived the supervisor)
    learn that it ended."""
    for build_id in build_ids:
        with suppress(Exception):
            await get_channel_layer().group_send(group_name(build_id), {"type": "build.ended"})


async def wait_for_all() -> None:
    while _TASKS:
        await asyncio.gather(*list(_TASKS), return_exceptions=True)
