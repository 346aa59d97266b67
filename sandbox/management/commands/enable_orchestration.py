from django.core.management.base import BaseCommand, CommandError

from sandbox import engine


class Command(BaseCommand):
    help = (
        "Switch the Docker Engine into single-node swarm mode for the orchestration labs. "
        "It changes the engine (undo: `docker swarm leave --force`), so it is never done silently."
    )

    def handle(self, *args, **options) -> None:
        try:
            if engine.swarm_active():
                self.stdout.write("swarm mode is already on")
                return
            engine.swarm_init()
        except (engine.EngineError, engine.EngineUnavailable) as error:
            raise CommandError(f"could not enable swarm mode: {error}") from None
        self.stdout.write("swarm mode is on (undo: docker swarm leave --force)")
