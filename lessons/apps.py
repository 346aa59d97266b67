from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "레슨"

    def ready(self) -> None:
        from lessons import build_views, checks, classes
        from sandbox import hooks

        hooks.register_start_hook(lambda run: classes.student_changed_sync(run.owner_id))
        hooks.register_terminal_hook(classes.student_changed_sync)
        hooks.register_finish_hook(checks.record_attempt)
        hooks.register_end_fragment(checks.verdict_fragment)
        hooks.register_build_end_fragment(build_views.build_after)
        # An instructor may watch (and stop) the runs of the students in their classes.
        hooks.register_watch_check(lambda user, run: classes.teaches_student(user, run.owner_id))
