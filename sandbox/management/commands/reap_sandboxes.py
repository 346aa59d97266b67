from django.core.management.base import BaseCommand, CommandError

from sandbox import engine
from sandbox.supervisor import deployment
from sandbox.supervisor.reaper import abandon_unfollowed_runs, reap_orphans


class Command(BaseCommand):
    help = (
        "Remove this deployment's sandbox containers, networks and unused volumes that no live "
        "run owns, and mark runs nobody follows any more. Refuses while its server runs."
    )

    def handle(self, *args, **options) -> None:
        try:
            # Its server holds what it follows in memory: reaping beside it would take it all.
            deployment.claim()
        except deployment.DeploymentTaken as taken:
            raise CommandError(f"{taken}\n  (먼저 그 서버를 멈춘 뒤에 정리해 주세요.)") from None
        try:
            removed = reap_orphans()
            engine.remove_volumes()
        except engine.EngineUnavailable as error:
            raise CommandError(f"Docker Engine unreachable: {error}") from None
        marked = len(abandon_unfollowed_runs())
        self.stdout.write(f"removed {removed} container(s); marked {marked} run(s) as abandoned")
