"""Exercise runs → attempts: a finished run of a lesson's exercise is checked against the
exercise's `expect` and recorded. Registered with sandbox's hooks at start-up (apps.py)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from lessons.catalogue import Exercise, catalogue
from lessons.classes import student_changed_sync
from lessons.models import Attempt
from sandbox.models import Run

LABEL_PREFIX = "lesson/"


def run_label(lesson_slug: str, exercise_id: str) -> str:
    return f"{LABEL_PREFIX}{lesson_slug}/{exercise_id}"


def exercise_of(run: Run) -> tuple[str, Exercise] | None:
    if not run.label.startswith(LABEL_PREFIX):
        return None
    slug, _, exercise_id = run.label.removeprefix(LABEL_PREFIX).partition("/")
    lesson = catalogue().get(slug)
    exercise = lesson.exercises.get(exercise_id) if lesson else None
    return (slug, exercise) if exercise else None


def verdict(run: Run, exercise: Exercise) -> tuple[bool, str]:
    if run.state == Run.State.FAILED:
        return False, run.message or _("실행하지 못했어요.")
    if run.state == Run.State.TIMED_OUT and not exercise.expect.oom_killed:
        return False, run.message
    reasons = exercise.expect.failures(run.exit_code, run.transcript, run.oom_killed)
    return not reasons, " ".join(reasons)


def record_attempt(run: Run) -> None:
    """Finish hook: check the run and record the attempt (once per run)."""
    found = exercise_of(run)
    if found is None:
        return
    slug, exercise = found
    passed, reason = verdict(run, exercise)
    if run.state == Run.State.STOPPED:
        # Stopped by the student or an instructor: not a try that failed.
        student_changed_sync(run.owner_id)
        return
    Attempt.objects.update_or_create(
        run=run,
        defaults={
            "student_id": run.owner_id,
            "lesson": slug,
            "block": exercise.id,
            "kind": Attempt.Kind.EXERCISE,
            "passed": passed,
            "reason": reason,
        },
    )
    student_changed_sync(run.owner_id)


def verdict_fragment(run: Run) -> str:
    """End fragment: the verdict, swapped into the run panel when the run ends."""
    attempt = Attempt.objects.filter(run=run).first()
    if attempt is None:
        return ""
    return render_to_string("lessons/verdict.html", {"run": run, "attempt": attempt})
