"""Cleanup that does not depend on any run ending well: a failed start leaves a `created`
container behind, a killed server leaves running ones. The reaper makes cleanup certain."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy

from sandbox import engine, events, kube, runlog
from sandbox.models import Run
from sandbox.supervisor import builds, hosts, kube_gate, playgrounds, workspaces
from sandbox.supervisor import labs as orchestra
from sandbox.supervisor.state import SUPERVISED, Supervised

log = logging.getLogger(__name__)

# Containers younger than this are never reaped by the background reaper (see reap_orphans).
GRACE_SECONDS = 30

RESTARTED_MESSAGE = gettext_lazy(
    "서버가 다시 시작되어 이 실행을 이어서 볼 수 없어요. 다시 실행해 주세요."
)


def reap_orphans(grace_seconds: float = 0, supervised: Supervised = SUPERVISED) -> int:
    """Remove this deployment's containers and networks that nothing `supervised` follows holds.

    The reaper runs in a thread of its own while the event loop makes containers, so it lists
    the engine's first and asks what is held second (a container made in between is not in
    the list); the background reaper also spares containers younger than `grace_seconds`, as a
    warm container being handed to a run is, for a moment, in neither the pool nor the run.
    """
    listed = engine.labelled_containers()
    held = supervised.held()
    followed, containers = held.run_ids, held.container_ids
    removed = 0
    young = time.time() - grace_seconds
    for container in listed:
        if grace_seconds and container.created > young:
            continue
        if container.run_id not in followed and container.id not in containers:
            engine.remove(container.id)
            removed += 1
    # Services of labs nobody holds (a restarted server, an expired lab), then networks: a
    # network with containers attached cannot be removed.
    if engine.swarm_active():
        for service in engine.labelled_services():
            if service not in held.services:
                engine.remove_service(service)
                removed += 1
    for network in engine.labelled_networks():
        # The background reaper leaves the gates' uplink alone: it may be made after `followed`
        # was read, for a terminal opening now (the start-up reap and reap_sandboxes take it).
        if grace_seconds and network.run_id == kube_gate.UPLINK_RUN_ID:
            continue
        if network.run_id not in followed:
            try:
                engine.remove_network(network.name)
                removed += 1
            except engine.EngineError:
                pass  # still in use (a service's tasks are leaving): the next round takes it
    if removed:
        log.info("reaper removed %d orphaned container(s) and network(s)", removed)
    return removed


def recover_after_restart() -> dict:
    """At start-up (the single server's and the separate supervisor's), after
    `abandon_unfollowed_runs` and BEFORE the first reap: what a previous process of this
    deployment left behind is recovered or closed, each kind by the module that owns it —
    builds cut off are marked failed, terminals whose container still runs are re-adopted (the
    others closed), labs whose services still run are re-adopted. Re-adopted containers and
    services are then held, so the reap that follows spares them. An engine that does not
    answer leaves what needs it for the next start (the builds are recovered all the same)."""
    recovered: dict = {"builds": builds.recover(), "terminals": {}, "labs": []}
    try:
        recovered["terminals"] = playgrounds.recover()
    except (engine.EngineUnavailable, engine.EngineError) as error:
        log.warning("terminals not recovered: %s", error)
    recovered["labs"] = orchestra.recover()
    return recovered


async def tell_recovered(recovered: dict) -> None:
    """Sockets on web workers that outlived a supervisor: cut-off builds ended; the separate
    supervisor attaches relays to re-adopted terminals at once."""
    await builds.tell_cut_off(recovered.get("builds", []))
    await playgrounds.adopt_all()


def abandon_unfollowed_runs() -> list[str]:
    """At start-up: runs still marked live belonged to a process that is gone. Say so; return
    their ids."""
    abandoned = Run.objects.filter(state__in=Run.LIVE_STATES).exclude(pk__in=list(SUPERVISED.runs))
    ids = [str(pk) for pk in abandoned.values_list("pk", flat=True)]
    Run.objects.filter(pk__in=ids).update(
        state=Run.State.FAILED, message=str(RESTARTED_MESSAGE), ended_at=timezone.now()
    )
    return ids


async def tell_abandoned(run_ids: list[str]) -> None:
    """Abandoned runs keep the output they had (the run log outlives a supervisor when it is in
    Redis), and sockets still watching them, on web workers that outlived the supervisor, learn
    that they ended."""
    for run_id in run_ids:
        with suppress(Exception):
            if snapshot := await runlog.current().snapshot(run_id):
                await Run.objects.filter(pk=run_id).aupdate(
                    panes=snapshot.panes,
                    transcript="".join(pane["transcript"] for pane in snapshot.panes),
                )
            await runlog.current().end(run_id)
        if run := await Run.objects.filter(pk=run_id).afirst():
            await events.run_ended(events.RunEnded.of(run))


def reap_everywhere(grace_seconds: float, supervised: Supervised = SUPERVISED) -> None:
    """One round on every engine: orphaned containers, networks, services, old builds and labs,
    unused volumes; then, once, the saved workspaces past SANDBOX_WORKSPACE_DAYS. An engine that
    does not answer is tried again next round."""
    for endpoint in hosts.reaped_engines():
        try:
            with engine.use(endpoint):
                reap_orphans(grace_seconds, supervised)
                builds.expire_builds()
                orchestra.expire_due()
                # Unused ones only (in-use volumes refuse removal), and never one of a terminal
                # that is followed: its student's volume may be between making and mounting.
                engine.remove_volumes(spared_runs=supervised.held().run_ids)
        except (engine.EngineUnavailable, engine.EngineError) as error:
            log.warning("reaper: engine %r unavailable (%s); will try again", endpoint, error)
    in_use = supervised.terminal_owners()
    try:
        workspaces.expire(in_use=in_use)
    except Exception:  # the database away: the next round tries again
        log.exception("reaper: expiring workspaces failed")
    expire_namespaces(in_use)


_namespaces_checked = 0.0
NAMESPACES_EVERY_SECONDS = 60


def expire_namespaces(in_use: set[int], force: bool = False) -> int:
    """Students' namespaces: unused for SANDBOX_KUBE_IDLE_SECONDS, their pods stopped; unused
    for SANDBOX_WORKSPACE_DAYS (as /work), deleted. At most once a minute (one list call to the
    API server); a cluster that does not answer is tried again. Returns how many changed."""
    global _namespaces_checked
    if not kube.configured():
        return 0
    if not force and time.monotonic() - _namespaces_checked < NAMESPACES_EVERY_SECONDS:
        return 0
    _namespaces_checked = time.monotonic()
    try:
        done = kube.expire_idle(
            settings.SANDBOX_KUBE_IDLE_SECONDS, settings.SANDBOX_WORKSPACE_DAYS * 86400, in_use
        )
        return done.slept + done.removed
    except kube.ClusterUnavailable as error:
        log.warning("reaper: namespaces not expired (%s); will try again", error)
        return 0


def _reap_forever(interval: float, stop: threading.Event, supervised: Supervised) -> None:
    while not stop.wait(interval):
        reap_everywhere(GRACE_SECONDS, supervised)


def start_background_reaper(
    interval: float, supervised: Supervised = SUPERVISED
) -> threading.Event:
    """Reap every `interval` seconds in a daemon thread, sparing what `supervised` holds (the
    thread is given it, and reads it only as Supervised.held's snapshots); set the event to
    stop. Call `reap_everywhere(0)` first, before serving: then nothing can be in flight, so
    nothing needs sparing, and what a previous life left goes at once."""
    stop = threading.Event()
    threading.Thread(
        target=_reap_forever,
        args=(interval, stop, supervised),
        daemon=True,
        name="sandbox-reaper",
    ).start()
    return stop
