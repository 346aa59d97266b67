"""Exercise runs → attempts: a finished run of a lesson's exercise is checked against the
exercise's `expect` and recorded. Registered with sandbox's hooks at start-up (apps.py)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from lessons.catalogue import BuildExercise, Exercise, catalogue
from lessons.classes import student_changed_sync
from lessons.models import Attempt
from sandbox.models import Build, Run
from sandbox.specs import Purpose


def run_label(lesson_slug: str, exercise_id: str) -> str:
    """The key of a lesson block's runs and builds (one live run per student and key): opaque
    to sandbox, and never parsed back (what a run is for is its Purpose)."""
    return f"lesson/{lesson_slug}/{exercise_id}"


def purpose(lesson_slug: str, block_id: str) -> Purpose:
    return Purpose(page=lesson_slug, block=block_id)


def exercise_of(run: Run | Build) -> tuple[str, Exercise | BuildExercise] | None:
    """The lesson block a run (or build) was for, from its purpose."""
    lesson = catalogue().get(run.page)
    if lesson is None:
        return None
    block = lesson.exercises.get(run.block) or lesson.builds.get(run.block)
    return (run.page, block) if block else None


def verdict(run: Run, exercise: Exercise | BuildExercise) -> tuple[bool, str]:
    if isinstance(exercise, BuildExercise) and exercise.rollback:
        version = run.image.rpartition(":")[2]
        others = Build.objects.filter(owner_id=run.owner_id, label=run.label, removed=False)
        if not others.exclude(version__in=["", exercise.rollback]).exists():
            return False, _("먼저 다른 버전(예: 고장 난 v2)을 만들어 실행해 본 다음 되돌려 보세요.")
        if version != exercise.rollback:
            return False, _(
                "{want} 버전으로 되돌려서 실행해야 해요 (이번에 실행한 버전: {got})."
            ).format(want=exercise.rollback, got=version)
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
    if run.state in {Run.State.STOPPED, Run.State.FAILED}:
        # Stopped by the student or an instructor, or the platform failed (no engine, a lost
        # container): not a try of the student's that failed. The run panel says what happened.
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
