from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "레슨"

    def ready(self) -> None:
        from lessons import checks
        from sandbox import hooks

        hooks.register_finish_hook(checks.record_attempt)
        hooks.register_end_fragment(checks.verdict_fragment)
