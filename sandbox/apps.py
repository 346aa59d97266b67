from django.apps import AppConfig
from django.conf import settings


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "샌드박스"

    def ready(self) -> None:
        # Supervising inside this process (the single-process default): requests run here. A web
        # worker of a scaled-out deployment skips this, so it never loads the supervisor's code,
        # the engine or the Docker SDK; `manage.py sandbox_supervisor` answers from the table.
        if settings.SANDBOX_SUPERVISOR == "inside":
            from sandbox.supervisor import handlers

            handlers.install()
