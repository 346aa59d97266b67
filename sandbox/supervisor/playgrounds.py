"""Terminals: a student's playground is one hardened container with a shell on a TTY, shared by
every tab the student opens, living at most SANDBOX_PLAYGROUND_SECONDS and ended sooner when no
socket has been open for SANDBOX_PLAYGROUND_IDLE_SECONDS.

Like runs, playgrounds are followed by the sandbox supervisor (in the server, or in its own
process when scaled out): a thread reads the TTY into a bounded pipe, a task relays it to the
owner's group `terminal_u<owner>` with a sequence number, and keeps a scrollback for tabs that
(re)attach. Sockets ask through the `request_*` functions below, from any web worker.

Over 400 lines for a reason: a terminal's whole life (open, relay, scrollback, idle and
lifetime limits, save, recover) is one story, told around one table (the supervisor's
`SUPERVISED.playgrounds`, sandbox/supervisor/state.py) and its per-owner lock.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sandbox import engine, hooks, kube
from sandbox.api import workspaces as api_workspaces
from sandbox.api.playgrounds import MAX_INPUT_CHARS, NoPlayground, TooMuchInput, group_name
from sandbox.models import Playground, Workspace
from sandbox.supervisor import docker_gate, docker_objects, docker_registry, kube_gate, workspaces
from sandbox.supervisor.pipe import OutputPipe
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger(__name__)

SCROLLBACK_CHARS = 64 * 1024
FLOOD_BYTES = 16 * 1024
# The shell is not exec'd: when it exits, the container prints EXITED_MARK (an OSC sequence a
# terminal ignores) and stays up a moment, so the relay can save /work before removing it (a
# stopped container's tmpfs is gone). The mark only ever ends the student's own terminal.
EXITED_MARK = "\x1b]777;baeum-shell-exited\x07"
SHELL = "cd /work; sh -i; printf '\\033]777;baeum-shell-exited\\007'; exec sleep 30"
ENVIRONMENT = (("TERM", "xterm-256color"), ("PS1", r"student@baeum:\w$ "), ("HOME", "/work"))


@dataclass
class LivePlayground:
    playground: Playground
    stream: engine.OutputStream
    scrollback: list[str] = field(default_factory=list)
    scrollback_chars: int = 0
    sockets: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    relay: asyncio.Task | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Keystrokes arrive as separate requests; this keeps them in order.
    typing: asyncio.Lock = field(default_factory=asyncio.Lock)
    seq: int = 0  # of the last output frame, so a reattaching tab neither misses nor repeats
    # Typed in since /work was last saved, and when that was (SANDBOX_WORKSPACE_SAVE_SECONDS).
    typed: bool = False
    saved: float = field(default_factory=time.monotonic)
    # Set once /work holds what was saved (and kubectl has its kubeconfig): keystrokes, checks
    # and saves wait for it, so the open itself does not (this runs while the tab draws the
    # first screen).
    restored: asyncio.Event = field(default_factory=asyncio.Event)
    # With kubectl (a gate to the cluster, see kube_gate): when its kubeconfig was last written.
    kubeconfig_at: float | None = None

    @property
    def id(self) -> str:
        return str(self.playground.id)

    def remember(self, text: str) -> None:
        self.scrollback.append(text)
        self.scrollback_chars += len(text)
        while self.scrollback_chars > SCROLLBACK_CHARS and len(self.scrollback) > 1:
            self.scrollback_chars -= len(self.scrollback.pop(0))


# Playgrounds followed by this process, by owner id.
_OPENING: dict[int, asyncio.Lock] = {}


@dataclass
class Adopted:
    """A playground a previous process of this deployment left running (see `recover`): held,
    so the reaper spares its container, until its owner's next open attaches a relay."""

    playground: Playground
    since: float = field(default_factory=time.monotonic)


GONE_REASON = gettext_lazy(
    "터미널 컨테이너가 사라졌어요. 터미널 열기를 누르면 새 터미널이 바로 열려요."
)
CLOSED_AFTER_RESTART = gettext_lazy(
    "서버가 다시 시작되는 동안 터미널이 끝났어요. 터미널 열기를 누르면 새로 열려요."
)
READOPTED_NOTE = gettext_lazy(
    "[서버가 다시 시작됐어요. 같은 셸이고 /work의 파일도 그대로예요. Enter를 눌러 주세요.]"
)
RESUMED_NOTE = gettext_lazy(
    "[이어서 열었어요: 새 셸이지만 /work는 지난 세션({saved}에 저장)의 것 그대로예요. "
    "지난 화면은 ‘지난 세션 기록 보기’에서 볼 수 있어요.]"
)
KUBECTL_UNAVAILABLE = gettext_lazy(
    "지금은 이 터미널에서 kubectl을 쓸 수 없어요(클러스터가 응답하지 않아요). "
    "잠시 뒤 터미널을 다시 열거나 선생님께 알려 주세요."
)
RESET_REASON = gettext_lazy(
    "작업 공간(/work)을 비웠어요. 터미널 열기를 누르면 빈 /work로 새로 열려요."
)


def run_id(playground: Playground) -> str:
    """The label of everything a playground made: its container, and its gate and network."""
    return f"pg-{playground.id}"


async def open_for(owner_id: int) -> LivePlayground:
    """The owner's live playground, started if there is none (one per student).

    The container is asked for first: one removed behind the server's back (`docker rm -f`,
    an engine restart) may not have been noticed by its relay yet, and a tab must never be
    attached to it. It is ended (its tabs told) and a new one started, at once."""
    lock = _OPENING.setdefault(owner_id, asyncio.Lock())
    async with lock:
        live = SUPERVISED.playgrounds.get(owner_id)
        if live is None and (adopted := SUPERVISED.adopted.pop(owner_id, None)) is not None:
            live = await _adopt(adopted)
        if live is not None and live.playground.expires_at <= timezone.now():
            await end(live, _("터미널의 시간이 다 됐어요."))
        elif live is not None and await _runs(live.playground):
            return live
        elif live is not None:
            await end(live, str(GONE_REASON))
        return await _start(owner_id)


async def _runs(playground: Playground) -> bool:
    """The playground's container exists and runs (EngineUnavailable if the engine is away)."""
    if not playground.container_id:
        return False
    return await asyncio.to_thread(engine.is_running, playground.container_id)


async def _start(owner_id: int) -> LivePlayground:
    playground = await Playground.objects.acreate(
        owner_id=owner_id,
        expires_at=timezone.now() + timedelta(seconds=settings.SANDBOX_PLAYGROUND_SECONDS),
    )
    image, network, kube_note = "baeum/lab", None, ""
    environment: tuple[tuple[str, str], ...] = ENVIRONMENT
    if await asyncio.to_thread(kube_gate.available):
        try:
            gate = await asyncio.to_thread(kube_gate.open_gate, run_id(playground), owner_id)
        except Exception as error:  # the cluster or the engine refused: a terminal all the same
            log.warning("playground %s: no kubectl (%s)", playground.id, error)
            kube_note = str(KUBECTL_UNAVAILABLE)
        else:
            image, network = settings.KUBERNETES_TERMINAL_IMAGE, gate.network
            environment = ENVIRONMENT + kube_gate.ENVIRONMENT
    gate_folder = None
    if docker_gate.available():
        try:
            docker = await docker_gate.open_gate(
                owner_id, run_id(playground), playground_id=str(playground.pk)
            )
        except Exception as error:  # a terminal all the same, without the docker CLI
            log.warning("playground %s: no docker gate (%s)", playground.id, error)
        else:
            SUPERVISED.docker_gates[owner_id] = docker
            environment = environment + docker_gate.ENVIRONMENT
            gate_folder = str(docker_gate.folder(run_id(playground)))
    spec = engine.ContainerSpec(
        image,
        SHELL,
        run_id(playground),
        tty=True,
        environment=environment,
        workspace_bytes=api_workspaces.cap(),
        network=network,
        docker_gate=gate_folder,
    )
    try:
        container_id = await asyncio.to_thread(engine.create_container, spec)
    except Exception:
        await _close_docker_gate(playground)
        await asyncio.to_thread(kube_gate.close_gate, run_id(playground))
        raise
    playground.container_id = container_id
    await playground.asave(update_fields=["container_id"])
    try:
        stream = await asyncio.to_thread(engine.attach, container_id, True, True)
        await asyncio.to_thread(engine.start, container_id)
        saved = await asyncio.to_thread(workspaces.saved, owner_id)
    except Exception:
        await asyncio.to_thread(_remove, playground)
        raise
    live = LivePlayground(playground, stream)
    if kube_note:
        live.remember(f"\r\n[{kube_note}]\r\n")
    # Before the relay reads anything, so the note comes first in the scrollback.
    if saved.saved_at is not None:
        at = timezone.localtime(saved.saved_at)
        when = f"{at.month}월 {at.day}일 {at:%H:%M}"
        live.remember(f"\r\n{str(RESUMED_NOTE).format(saved=when)}\r\n")
    if saved.message:
        live.remember(f"\r\n[{saved.message}]\r\n")
    SUPERVISED.playgrounds[owner_id] = live
    loop = asyncio.get_running_loop()
    live.relay = loop.create_task(_relay(live))
    if saved.saved_at is not None or network:
        loop.create_task(_prepare(live, restore=saved.saved_at is not None, kubectl=bool(network)))
    else:
        live.restored.set()
    _ensure_supervisor()
    return live


async def _prepare(live: LivePlayground, restore: bool, kubectl: bool) -> None:
    """The saved /work into the new playground, and kubectl's kubeconfig, while its first
    screen is drawn."""
    messages = []
    try:
        if kubectl and not await _write_kubeconfig(live):
            messages.append(str(KUBECTL_UNAVAILABLE))
        if restore:
            message = await workspaces.restore(
                live.playground.owner_id, live.playground.container_id
            )
            if message:
                messages.append(message)
    except Exception as error:  # the engine away: the tar is kept for the next open
        log.warning("playground %s: workspace not restored (%s)", live.id, error)
        messages.append(
            _("/work를 되살리지 못했어요. 저장된 /work는 그대로 있어요. 터미널을 다시 열어 주세요.")
        )
    finally:
        live.restored.set()
    for message in messages:
        await _say(live, message)


async def _write_kubeconfig(live: LivePlayground) -> bool:
    """A fresh token in the terminal's kubeconfig; False (logged) if the cluster or the engine
    refused."""
    playground = live.playground
    try:
        await asyncio.to_thread(
            kube_gate.write_kubeconfig, playground.container_id, playground.owner_id
        )
    except Exception as error:
        log.warning("playground %s: kubeconfig not written (%s)", live.id, error)
        return False
    live.kubeconfig_at = time.monotonic()
    return True


async def renew_kubeconfigs() -> int:
    """Renew the token of every live terminal with kubectl once half of its life has passed."""
    renewed = 0
    for live in list(SUPERVISED.playgrounds.values()):
        age = time.monotonic() - (live.kubeconfig_at or time.monotonic())
        if live.kubeconfig_at is not None and age >= kube_gate.TOKEN_SECONDS / 2:
            renewed += await _write_kubeconfig(live)
    return renewed


async def _adopt(adopted: Adopted) -> LivePlayground | None:
    """Attach a new relay to a playground a previous process left running: the same shell and
    its /work. None (and the playground closed) if its container is gone meanwhile."""
    playground = adopted.playground
    if playground.expires_at > timezone.now() and await _runs(playground):
        try:
            stream = await asyncio.to_thread(engine.attach, playground.container_id, True, True)
        except engine.EngineError as error:
            log.warning("playground %s: could not reattach (%s)", playground.id, error)
        else:
            live = LivePlayground(playground, stream)
            if docker_gate.available():  # its socket again, in the folder the container mounts
                with suppress(Exception):
                    docker = await docker_gate.open_gate(
                        playground.owner_id,
                        run_id(playground),
                        fresh=False,
                        playground_id=str(playground.pk),
                    )
                    SUPERVISED.docker_gates[playground.owner_id] = docker
            live.restored.set()  # the same container: its /work never went
            live.remember(f"\r\n{READOPTED_NOTE}\r\n")
            SUPERVISED.playgrounds[playground.owner_id] = live
            live.relay = asyncio.get_running_loop().create_task(_relay(live))
            _ensure_supervisor()
            log.info("playground %s: re-adopted after a restart", playground.id)
            return live
    await _close(playground, str(GONE_REASON))
    return None


def recover() -> dict[str, list[str]]:
    """Blocking, at start-up, before the first reap: the playgrounds a previous process of this
    deployment left open. One whose container still runs is adopted (held, so the reaper spares
    it; its owner's next open attaches a relay: the same shell, the same /work); the others are
    closed (recorded, container removed, dashboards told). With the engine away nothing is
    closed: they stay held, and the next open asks the engine again."""
    adopted, closed = [], []
    now = timezone.now()
    for playground in Playground.objects.filter(ended_at__isnull=True).order_by("-created_at"):
        owner_id = playground.owner_id
        keep = (
            owner_id not in SUPERVISED.playgrounds
            and owner_id not in SUPERVISED.adopted
            and playground.expires_at > now
        )
        if keep:
            try:
                keep = bool(playground.container_id) and engine.is_running(playground.container_id)
            except engine.EngineUnavailable:
                keep = True
        if keep:
            SUPERVISED.adopted[owner_id] = Adopted(playground)
            adopted.append(str(playground.id))
            continue
        if (
            owner_id in SUPERVISED.playgrounds
            and SUPERVISED.playgrounds[owner_id].playground.pk == playground.pk
        ):
            continue  # followed by this very process (recovery called twice)
        playground.ended_at, playground.end_reason = now, str(CLOSED_AFTER_RESTART)
        playground.save(update_fields=["ended_at", "end_reason"])
        _remove(playground)
        _tell_dashboards(owner_id)
        closed.append(str(playground.id))
    if adopted or closed:
        log.info("terminals after a restart: %d re-adopted, %d closed", len(adopted), len(closed))
    return {"adopted": adopted, "closed": closed}


async def adopt_all() -> int:
    """Attach relays to every adopted playground now (the separate supervisor, which has its
    loop at start-up; the single server attaches on each owner's next open)."""
    count = 0
    for owner_id in list(SUPERVISED.adopted):
        lock = _OPENING.setdefault(owner_id, asyncio.Lock())
        async with lock:
            if (
                owner_id not in SUPERVISED.playgrounds
                and (adopted := SUPERVISED.adopted.pop(owner_id, None)) is not None
            ):
                count += await _adopt(adopted) is not None
    if SUPERVISED.adopted or SUPERVISED.playgrounds:
        _ensure_supervisor()
    return count


async def _relay(live: LivePlayground) -> None:
    loop = asyncio.get_running_loop()
    pipe = OutputPipe(loop, limit=256 * 1024, keep="newest")

    def pump() -> None:
        try:
            for chunk in live.stream.chunks():
                pipe.put(chunk)
        except Exception:
            log.exception("playground %s: reading the terminal failed", live.id)
        finally:
            pipe.close()

    threading.Thread(target=pump, daemon=True, name=f"pg-{live.id}").start()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    layer = get_channel_layer()
    exited = False
    while True:
        data, dropped, eof = await pipe.take(timeout=3600)
        text = decoder.decode(data, final=eof)
        if EXITED_MARK in text:
            text, exited, eof = text.split(EXITED_MARK, 1)[0], True, True
        if dropped:  # the oldest bytes of a flood went: say so before what is left
            text = f"\r\n[… {dropped}바이트 생략 …]\r\n" + text
        if text:
            live.remember(text)
            live.seq += 1
            event = {"type": "terminal.output", "data": text, "seq": live.seq, "id": live.id}
            try:
                await layer.group_send(group_name(live.playground.owner_id), event)
            except Exception as error:  # the channel layer (Redis) is away; tabs reconnect
                log.warning("playground %s: could not publish (%s)", live.id, error)
            if len(data) >= FLOOD_BYTES:
                # A flood: let it pile up a little, so it travels as few large frames. Typing
                # (a few bytes at a time) is never held back.
                await asyncio.sleep(0.05)
        if eof:
            break
    if SUPERVISED.playgrounds.get(live.playground.owner_id) is live:
        # The mark is the shell ending (`exit`), its container still up to save /work from; a
        # missing container was taken away.
        if exited:
            await end(live, _("셸이 끝났어요."))
        elif await _gone(live.playground):
            await end(live, str(GONE_REASON), save=False)
        else:
            await end(live, _("셸이 끝났어요."), save=False)


async def _gone(playground: Playground) -> bool:
    try:
        await asyncio.to_thread(engine.inspect, playground.container_id)
    except engine.EngineError:  # No such container
        return True
    except engine.EngineUnavailable:
        return False
    return False


async def send_input(live: LivePlayground, data: str) -> None:
    if len(data) > MAX_INPUT_CHARS:
        raise TooMuchInput(
            _("한 번에 보낼 수 있는 입력은 {n}자까지예요.").format(n=MAX_INPUT_CHARS)
        )
    live.last_seen = time.monotonic()
    live.typed = True
    async with live.typing:
        await live.restored.wait()
        await asyncio.to_thread(live.stream.send, data.encode())


async def resize(live: LivePlayground, rows: int, cols: int) -> None:
    rows, cols = max(2, min(rows, 200)), max(10, min(cols, 400))
    try:
        await asyncio.to_thread(engine.resize, live.playground.container_id, rows, cols)
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.info("playground %s: resize refused: %s", live.id, error)


async def end(live: LivePlayground, reason: str, save: bool = True) -> None:
    """End a playground: save its /work and scrollback (unless `save` is false: a reset, or a
    container already gone, whose scrollback alone is kept), tell every tab, remove the
    container, record why."""
    if SUPERVISED.playgrounds.get(live.playground.owner_id) is live:
        del SUPERVISED.playgrounds[live.playground.owner_id]
    live.stream.close()
    if live.kubeconfig_at is not None:  # its namespace's idle time starts now
        with suppress(Exception):
            await asyncio.to_thread(kube.touch, live.playground.owner_id)
    if save or reason != str(RESET_REASON):
        await _save(live, with_work=save)
    with suppress(Exception):  # the channel layer (Redis) is away: tabs find out on reconnect
        await get_channel_layer().group_send(
            group_name(live.playground.owner_id),
            {"type": "terminal.ended", "reason": reason, "id": live.id},
        )
    await _close(live.playground, reason)


async def _save(live: LivePlayground, with_work: bool = True) -> str:
    """Save the live playground's /work (and its scrollback) as the owner's workspace."""
    if with_work:
        await live.restored.wait()  # never a half-restored /work over the saved one
    live.typed, live.saved = False, time.monotonic()
    playground = live.playground
    container_id = playground.container_id if with_work else None
    try:
        return await workspaces.save(
            playground.owner_id, container_id, playground.pk, "".join(live.scrollback)
        )
    except Exception:  # the database away: the previous tar is kept, the terminal goes on
        log.exception("playground %s: saving the workspace failed", playground.id)
        return workspaces.save_failed_message()


async def _save_adopted(playground: Playground) -> None:
    """An adopted playground's /work (its scrollback died with the previous process)."""
    try:
        await workspaces.save(playground.owner_id, playground.container_id, playground.pk)
    except Exception:
        log.exception("playground %s: saving the workspace failed", playground.id)


async def _close(playground: Playground, reason: str) -> None:
    """Record why the playground ended, remove its container, tell the dashboards."""
    playground.ended_at, playground.end_reason = timezone.now(), str(reason)[:200]
    try:
        await playground.asave(update_fields=["ended_at", "end_reason"])
    except Exception:  # the database away: the container goes all the same (recover() records)
        log.exception("playground %s: recording its end failed", playground.id)
    await _close_docker_gate(playground)
    await asyncio.to_thread(_remove, playground)
    await sync_to_async(_tell_dashboards)(playground.owner_id)


async def _close_docker_gate(playground: Playground) -> None:
    """The playground's Docker gate stops answering (what its student made goes with the
    playground's label, in _remove)."""
    gate = SUPERVISED.docker_gates.get(playground.owner_id)
    if gate is not None and gate.run_id == run_id(playground):
        del SUPERVISED.docker_gates[playground.owner_id]
        await docker_gate.close_gate(gate)


def _remove(playground: Playground) -> None:
    if playground.container_id:
        try:
            engine.remove(playground.container_id)
        except (engine.EngineError, engine.EngineUnavailable) as error:
            log.warning("playground %s: container left for the reaper (%s)", playground.id, error)
    try:  # what its student made through the Docker gate goes with it
        docker_objects.remove_made(run_id(playground))
    except (engine.EngineError, engine.EngineUnavailable) as error:
        log.warning(
            "playground %s: its docker objects left for the reaper (%s)", playground.id, error
        )
    kube_gate.close_gate(run_id(playground))


def _tell_dashboards(owner_id: int) -> None:
    try:
        hooks.terminal_changed(owner_id)
    except Exception:  # a dashboard not told refreshes later; the terminal is closed anyway
        log.exception("terminal of %s: the terminal hooks failed", owner_id)


async def end_all() -> None:
    for live in list(SUPERVISED.playgrounds.values()):
        await end(live, _("서버가 터미널을 정리했어요."))
    for owner_id in list(SUPERVISED.adopted):
        if (adopted := SUPERVISED.adopted.pop(owner_id, None)) is not None:
            await _save_adopted(adopted.playground)
            await _close(adopted.playground, _("서버가 터미널을 정리했어요."))
    if not SUPERVISED.playgrounds and not SUPERVISED.adopted:
        await asyncio.to_thread(kube_gate.remove_uplink)
        await asyncio.to_thread(docker_registry.remove)


async def save_all() -> None:
    """Save every terminal's /work, leaving them running (a clean shutdown of the supervisor:
    the next one re-adopts them, or, if they are gone by then, restores from these tars)."""
    for live in list(SUPERVISED.playgrounds.values()):
        await _save(live)
    for adopted in list(SUPERVISED.adopted.values()):
        await _save_adopted(adopted.playground)


def save_all_blocking() -> None:
    """save_all for a process whose loop has stopped (the single server's exit, atexit)."""
    for live in list(SUPERVISED.playgrounds.values()):
        playground = live.playground
        if not live.restored.is_set():
            continue  # still restoring: the saved tar is the newest there is
        try:
            workspaces.save_blocking(
                playground.owner_id,
                playground.container_id,
                playground.pk,
                "".join(live.scrollback),
            )
        except Exception:
            log.exception("playground %s: saving the workspace at exit failed", playground.id)


async def save_due() -> int:
    """Save the /work of live playgrounds typed in since their last save, once
    SANDBOX_WORKSPACE_SAVE_SECONDS have passed since it (a save costs one tar of /work)."""
    saved = 0
    for live in list(SUPERVISED.playgrounds.values()):
        if live.typed and time.monotonic() - live.saved >= settings.SANDBOX_WORKSPACE_SAVE_SECONDS:
            if message := await _save(live):
                await _say(live, message)
            elif await _nearly_full(live.playground.owner_id):
                await _say(live, api_workspaces.nearly_full_message())
            saved += 1
    return saved


async def _nearly_full(owner_id: int) -> bool:
    row = await Workspace.objects.filter(owner_id=owner_id).only("bytes").afirst()
    return row is not None and api_workspaces.nearly_full(row.bytes)


async def _say(live: LivePlayground, message: str) -> None:
    """A line from the server in the student's terminal (and its scrollback)."""
    text = f"\r\n[{message}]\r\n"
    live.remember(text)
    live.seq += 1
    event = {"type": "terminal.output", "data": text, "seq": live.seq, "id": live.id}
    with suppress(Exception):
        await get_channel_layer().group_send(group_name(live.playground.owner_id), event)


async def expire_due() -> int:
    """End playgrounds past their time, or unused (no open socket) for the idle limit."""
    ended = 0
    now = timezone.now()
    for live in list(SUPERVISED.playgrounds.values()):
        idle = time.monotonic() - live.last_seen
        if live.playground.expires_at <= now:
            await end(live, _("터미널의 시간이 다 됐어요."))
        elif live.sockets == 0 and idle >= settings.SANDBOX_PLAYGROUND_IDLE_SECONDS:
            await end(live, _("오래 쓰지 않아서 터미널을 정리했어요."))
        else:
            continue
        ended += 1
    for owner_id, adopted in list(SUPERVISED.adopted.items()):
        idle = time.monotonic() - adopted.since
        if adopted.playground.expires_at <= now:
            reason = _("터미널의 시간이 다 됐어요.")
        elif idle >= settings.SANDBOX_PLAYGROUND_IDLE_SECONDS:
            reason = _("오래 쓰지 않아서 터미널을 정리했어요.")
        else:
            continue
        if SUPERVISED.adopted.pop(owner_id, None) is adopted:
            await _save_adopted(adopted.playground)
            await _close(adopted.playground, reason)
            ended += 1
    return ended


_SUPERVISORS: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def _ensure_supervisor() -> None:
    loop = asyncio.get_running_loop()
    task = _SUPERVISORS.get(loop)
    if task is None or task.done():
        _SUPERVISORS[loop] = loop.create_task(_supervise())


async def _supervise() -> None:
    while SUPERVISED.playgrounds or SUPERVISED.adopted:
        await asyncio.sleep(min(5, settings.SANDBOX_WORKSPACE_SAVE_SECONDS))
        try:
            await expire_due()
            await save_due()
            await renew_kubeconfigs()
        except Exception:
            log.exception("playground supervisor")


async def run_in(owner_id: int, command: str, timeout: int) -> engine.ExecResult:
    """Run a command (a lesson's check) in the owner's live playground, as the student's user
    and inside its limits."""
    live = SUPERVISED.playgrounds.get(owner_id)
    if live is None:
        raise NoPlayground(owner_id)
    live.last_seen = time.monotonic()
    await live.restored.wait()
    return await asyncio.to_thread(engine.exec_in, live.playground.container_id, command, timeout)


# What sockets and views ask (from any web worker), and the supervisor's answers.


def _view(live: LivePlayground) -> dict:
    return {
        "id": live.id,
        "owner_id": live.playground.owner_id,
        "expires_at": live.playground.expires_at.timestamp(),
        "scrollback": "".join(live.scrollback),
        "seq": live.seq,
    }


async def on_open(owner_id: int) -> dict:
    live = await open_for(owner_id)
    live.sockets += 1
    return _view(live)


async def on_watch(owner_id: int, playground_id: str) -> dict | None:
    live = SUPERVISED.playgrounds.get(owner_id)
    if live is None or live.id != str(playground_id):
        return None
    return _view(live)


async def on_input(owner_id: int, data: str) -> None:
    if (live := SUPERVISED.playgrounds.get(owner_id)) is not None:
        await send_input(live, data)


async def on_resize(owner_id: int, rows: int, cols: int) -> None:
    if (live := SUPERVISED.playgrounds.get(owner_id)) is not None:
        await resize(live, rows, cols)


async def on_left(owner_id: int) -> None:
    if (live := SUPERVISED.playgrounds.get(owner_id)) is not None:
        live.sockets = max(0, live.sockets - 1)
        live.last_seen = time.monotonic()


async def on_check(owner_id: int, command: str, timeout: int) -> dict | None:
    try:
        return asdict(await run_in(owner_id, command, timeout))
    except NoPlayground:
        return None


async def on_reset(owner_id: int) -> None:
    """Empty the owner's workspace: a live terminal ends without saving, the tar goes."""
    lock = _OPENING.setdefault(owner_id, asyncio.Lock())
    async with lock:
        if (live := SUPERVISED.playgrounds.get(owner_id)) is not None:
            await end(live, str(RESET_REASON), save=False)
        if (adopted := SUPERVISED.adopted.pop(owner_id, None)) is not None:
            await _close(adopted.playground, str(RESET_REASON))
        await workspaces.delete(owner_id)
