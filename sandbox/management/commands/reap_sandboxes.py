from django.core.management.base import BaseCommand, CommandError

from sandbox import engine
from sandbox.reaper import abandon_unfollowed_runs, reap_orphans


class Command(BaseCommand):
    help = (
        "Remove this deployment's sandbox containers that no live run owns, and mark runs "
        "nobody follows any more. Use it while the server is stopped."
    )

    def handle(self, *args, **options) -> None:
        try:
            removed = reap_orphans()
        except engine.EngineUnavailable as error:
            raise CommandError(f"Docker Engine unreachable: {error}") from None
        marked = len(abandon_unfollowed_runs())
        self.stdout.write(f"removed {removed} container(s); marked {marked} run(s) as abandoned")
