"""What a supervisor process holds, in one object: SUPERVISED (DESIGN.md, "Where state lives").

A deployment has one supervisor, inside the single server or as `manage.py sandbox_supervisor`.
Everything it follows is here: the runs, builds, labs and terminals, the terminals it
re-adopted after a restart, its warm pools, and what it knows of each engine's health. Each
kind is changed only by its own module (runs, builds, labs, playgrounds, pool, hosts), on the
event loop. The reaper runs in a thread of its own: it is given this object and reads it only
through `held()`, a snapshot, so it never reaches into a follower's module.

A web worker holds none of this: what it needs it asks the supervisor (sandbox.seam).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from sandbox.models import Build
    from sandbox.supervisor.docker_gate import Gate as DockerGate
    from sandbox.supervisor.labs import Lab
    from sandbox.supervisor.playgrounds import Adopted, LivePlayground
    from sandbox.supervisor.pool import Pool
    from sandbox.supervisor.runs import LiveRun


@dataclass(frozen=True)
class Held:
    """What the reaper must spare, as it was when asked."""

    run_ids: frozenset[str]  # labels of what is followed (its containers and networks)
    container_ids: frozenset[str]  # containers held apart from their label (warm, handed over)
    services: frozenset[str]  # the labs' swarm services


@dataclass
class Supervised:
    runs: dict[str, LiveRun] = field(default_factory=dict)  # by run id
    builds: dict[str, Build] = field(default_factory=dict)  # by build id
    labs: dict[int, Lab] = field(default_factory=dict)  # by owner
    playgrounds: dict[int, LivePlayground] = field(default_factory=dict)  # by owner
    adopted: dict[int, Adopted] = field(default_factory=dict)  # by owner: found after a restart
    docker_gates: dict[int, DockerGate] = field(default_factory=dict)  # by owner: a terminal's
    # One set of pools per event loop: their containers are attached from, and handed to, that
    # loop (a process has one; the test suite, a loop per test).
    pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], Pool]] = (
        field(default_factory=weakref.WeakKeyDictionary)
    )
    # Engines (SANDBOX_ENGINES) that failed lately, until when; and when each last answered.
    engines_set_aside: dict[str, float] = field(default_factory=dict)
    engines_last_ok: dict[str, float] = field(default_factory=dict)

    def held(self) -> Held:
        """A snapshot, safe from another thread: each collection is copied before it is read
        (the loop may change it meanwhile; what is made after the copy is the reaper's grace
        to spare)."""
        from sandbox.supervisor import docker_registry, kube_gate, playgrounds  # import this

        runs = list(self.runs.items())
        labs = list(self.labs.values())
        terminals = [live.playground for live in list(self.playgrounds.values())]
        terminals += [adopted.playground for adopted in list(self.adopted.values())]
        run_ids = {run_id for run_id, _live in runs} | {f"lab-u{lab.owner_id}" for lab in labs}
        terminal_ids = {playgrounds.run_id(playground) for playground in terminals}
        if terminal_ids or kube_gate.opening():
            terminal_ids.add(kube_gate.UPLINK_RUN_ID)  # the gates' uplink
        if terminal_ids:
            terminal_ids.add(docker_registry.RUN_ID)  # what their students pushed
        containers = {playground.container_id for playground in terminals}
        for _run_id, live in runs:
            containers.update(live.made.containers)  # warm ones carry their pool's label
        for pools in list(self.pools.values()):
            for pool in list(pools.values()):
                containers.update(warm.container_id for warm in list(pool.ready))
        return Held(
            run_ids=frozenset(run_ids | terminal_ids),
            container_ids=frozenset(containers),
            services=frozenset(lab.service for lab in labs),
        )

    def terminal_owners(self) -> set[int]:
        """Owners whose terminal is open (live or adopted)."""
        return set(self.playgrounds) | set(self.adopted)


SUPERVISED = Supervised()
