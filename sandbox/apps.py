from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "샌드박스"

    def ready(self) -> None:
        # Modules that answer the supervisor's requests register their handlers on import; this
        # one is asked only by views, which the supervisor process never imports.
        from sandbox import kube_objects, terminal_time, workspace_files  # noqa: F401
