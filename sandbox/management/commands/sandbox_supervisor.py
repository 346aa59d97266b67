import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.api import queue as runqueue
from sandbox.supervisor import deployment, playgrounds, pool, serve, warmup
from sandbox.supervisor.reaper import (
    abandon_unfollowed_runs,
    reap_everywhere,
    recover_after_restart,
    start_background_reaper,
    tell_abandoned,
    tell_recovered,
)
from sandbox.supervisor.state import SUPERVISED

log = logging.getLogger("sandbox.supervisor")


class Command(BaseCommand):
    help = (
        "Run the sandbox supervisor: the only process that talks to the Docker Engine when "
        "SANDBOX_SUPERVISOR=separate. Web workers ask it through the channel layer (REDIS_URL)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.REDIS_URL:
            raise CommandError("the supervisor needs REDIS_URL (the web workers reach it there)")
        if settings.SANDBOX_SUPERVISOR != "separate":
            log.warning("SANDBOX_SUPERVISOR is not 'separate': web workers will not ask me")
        try:
            deployment.claim()
        except deployment.DeploymentTaken as taken:
            raise CommandError(str(taken)) from None
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        if await serve.another_is_beating():
            raise CommandError(deployment.taken_message())
        # A previous supervisor's runs cannot be followed: mark them, tell their sockets, and
        # let the reaper remove their containers.
        abandoned = await asyncio.to_thread(abandon_unfollowed_runs)
        await tell_abandoned(abandoned)
        if abandoned:
            log.info("marked %d run(s) of a previous supervisor as abandoned", len(abandoned))
        # Builds cut off, terminals and labs left running: recovered before the first reap, so
        # what is re-adopted is held and spared.
        recovered = await asyncio.to_thread(recover_after_restart)
        await tell_recovered(recovered)
        await asyncio.to_thread(reap_everywhere, 0)  # before listening: nothing in flight yet
        reaper = start_background_reaper(settings.SANDBOX_REAP_SECONDS, SUPERVISED)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # The run queue's safety net: every second, expire old entries and start what free
        # slots allow (a run's end starts the next at once; this catches everything else).
        ticks = runqueue.serve_ticks(stop)
        try:
            await serve.serve(stop)
        finally:
            reaper.set()
            await asyncio.gather(ticks, return_exceptions=True)
            # Terminals stay up for the next supervisor to re-adopt; their /work is saved now,
            # should they be gone by then.
            await playgrounds.save_all()
            await warmup.end_all()
            await pool.drain_all()
