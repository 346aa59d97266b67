"""Warm containers: a few per lab image, already created, attached and started, each waiting
on stdin for the one command it will run. Taking one skips the engine's create-and-start
(about 200 ms here), so the first output can reach the browser sooner than a raw `docker run`.

Each container serves exactly one run and is then removed like any other; the pool refills in
the background on the server's event loop, never past the server-wide quota, and the reaper
spares the containers it holds. A class's warm-up (sandbox/supervisor/warmup.py) raises what a pool
keeps
(`warm_target`) for a while, and lowers it again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings

from sandbox import engine
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger(__name__)

# Containers created side by side while a pool fills (a class's warm-up wants many at once; the
# engine serializes much of the work, so more in flight only queues there).
FILL_AT_ONCE = 4

# Reads one line (the command, base64-encoded so that any text fits on a line), then becomes
# that command, with stdin closed as in a cold run.
# After the engine refused a container (slow under load, restarting, the image not built yet),
# the pool tries again after this long, doubling up to FILL_RETRY_MAX_SECONDS: a refused fill
# otherwise waited for the next press to try again, and that press started cold.
FILL_RETRY_SECONDS = 2.0
FILL_RETRY_MAX_SECONDS = 60.0

WAITING_COMMAND = 'read -r script && exec sh -c "$(echo "$script" | base64 -d)" </dev/null'


@dataclass
class Warm:
    container_id: str
    stream: engine.OutputStream

    def run(self, command: str) -> None:
        """Blocking: hand the command to the waiting shell."""
        self.stream.send(base64.b64encode(command.encode()) + b"\n")


class Pool:
    def __init__(self, image: str) -> None:
        self.image = image
        self.ready: list[Warm] = []
        self.filling: asyncio.Task | None = None
        self.closed = False
        self._closing = asyncio.Event()
        # Raised by a class's warm-up (sandbox/supervisor/warmup.py) while the class is on.
        self.warm_target = 0

    def wanted(self) -> int:
        return max(settings.SANDBOX_POOL_SIZE, self.warm_target)

    def container_ids(self) -> set[str]:
        return {warm.container_id for warm in self.ready}

    async def take(self) -> Warm | None:
        """A ready container that still runs, or None (the caller goes the cold way, in the same
        press). One that vanished (reaped, killed, lost with a restarted engine) is dropped, never
        handed out. Refills in the background."""
        while self.ready:
            warm = self.ready.pop(0)
            try:
                alive = await asyncio.to_thread(engine.is_running, warm.container_id)
            except (engine.EngineUnavailable, engine.EngineError) as error:
                log.warning("pool %s: could not check a warm container (%s)", self.image, error)
                alive = False
            if alive:
                self.refill()
                return warm
            log.info("pool %s: warm container %s was gone; dropped", self.image, warm.container_id)
            await asyncio.to_thread(_discard_quietly, warm)
        self.refill()
        return None

    def refill(self) -> None:
        if self.closed or (self.filling and not self.filling.done()):
            return
        self.filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        from sandbox.models import Run

        retry = FILL_RETRY_SECONDS
        while not self.closed and len(self.ready) < self.wanted():
            # Pool containers count against the server-wide limit, so they never crowd out runs.
            live = await Run.objects.filter(state__in=Run.LIVE_STATES).acount()
            room = settings.SANDBOX_MAX_TOTAL - live - len(_all_ready())
            count = min(room, self.wanted() - len(self.ready), FILL_AT_ONCE)
            if count <= 0:
                return
            made = await asyncio.gather(
                *(asyncio.to_thread(self._make) for _ in range(count)), return_exceptions=True
            )
            failed = [m for m in made if isinstance(m, BaseException)]
            for warm in (m for m in made if not isinstance(m, BaseException)):
                if self.closed:
                    await asyncio.to_thread(_discard, warm)
                else:
                    self.ready.append(warm)
            if failed:
                engine_failures = (engine.EngineUnavailable, engine.EngineError)
                if not all(isinstance(m, engine_failures) for m in failed):
                    raise failed[0]
                log.warning(
                    "pool %s: could not warm a container (again in %.0f s): %s",
                    self.image,
                    retry,
                    failed[0],
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), retry)
                retry = min(retry * 2, FILL_RETRY_MAX_SECONDS)

    async def trim(self) -> int:
        """Remove waiting containers past what is wanted (a warm-up ended); returns how many."""
        extra = len(self.ready) - self.wanted()
        if extra <= 0:
            return 0
        gone, self.ready = self.ready[-extra:], self.ready[:-extra]
        for warm in gone:
            await asyncio.to_thread(_discard_quietly, warm)
        return len(gone)

    def _make(self) -> Warm:
        container_id = engine.create_container(
            engine.ContainerSpec(
                self.image, WAITING_COMMAND, f"pool-{uuid.uuid4().hex[:12]}", stdin=True
            )
        )
        try:
            stream = engine.attach(container_id, stdin=True)
            engine.start(container_id)
        except Exception:
            engine.remove(container_id)
            raise
        return Warm(container_id, stream)

    async def drain(self) -> None:
        """Remove every waiting container (shutdown, tests)."""
        self.closed = True
        self._closing.set()
        if self.filling:
            await asyncio.gather(self.filling, return_exceptions=True)
        ready, self.ready = self.ready, []
        for warm in ready:
            await asyncio.to_thread(_discard, warm)


def _discard(warm: Warm) -> None:
    warm.stream.close()
    engine.remove(warm.container_id)


def _discard_quietly(warm: Warm) -> None:
    with suppress(engine.EngineUnavailable, engine.EngineError):
        _discard(warm)


def pool_for(image: str) -> Pool:
    """The pool of `image` on the current task's engine (see engine.bind)."""
    pools = SUPERVISED.pools.setdefault(asyncio.get_running_loop(), {})
    key = (engine.endpoint(), image)
    if key not in pools:
        pools[key] = Pool(image)
    return pools[key]


def _all_ready() -> list[Warm]:
    return [
        warm
        for pools in list(SUPERVISED.pools.values())
        for p in pools.values()
        for warm in p.ready
    ]


async def drain_all() -> None:
    for pool in list(SUPERVISED.pools.get(asyncio.get_running_loop(), {}).values()):
        await pool.drain()
    SUPERVISED.pools.pop(asyncio.get_running_loop(), None)
