"""Where a student stands: per block, per lesson, per track."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from lessons.catalogue import Lesson, by_track
from lessons.classes import student_changed_sync
from lessons.models import Attempt

NOT_STARTED, IN_PROGRESS, DONE = "not_started", "in_progress", "done"
STATE_NAMES = {
    NOT_STARTED: gettext_lazy("시작 전"),
    IN_PROGRESS: gettext_lazy("진행 중"),
    DONE: gettext_lazy("완료"),
}


def record(student, lesson: str, block: str, kind: str, passed: bool, **details) -> Attempt:
    """Record an answer or a check (synchronous) and tell the student's class dashboards.
    Runs are recorded by `checks.record_attempt`, once per run."""
    attempt = Attempt.objects.create(
        student=student, lesson=lesson, block=block, kind=kind, passed=passed, **details
    )
    student_changed_sync(attempt.student_id)
    return attempt


def blocks_of(lesson: Lesson) -> set[str]:
    return (
        set(lesson.exercises)
        | set(lesson.questions)
        | set(lesson.checks)
        | set(lesson.builds)
        | set(lesson.labs)
    )


@dataclass(frozen=True)
class LessonProgress:
    lesson: Lesson
    passed: frozenset[str]
    attempted: frozenset[str]

    @property
    def state(self) -> str:
        blocks = blocks_of(self.lesson)
        if blocks and blocks <= self.passed:
            return DONE
        return IN_PROGRESS if self.attempted else NOT_STARTED

    @property
    def state_name(self) -> str:
        return str(STATE_NAMES[self.state])

    @property
    def done_count(self) -> int:
        return len(blocks_of(self.lesson) & self.passed)

    @property
    def total(self) -> int:
        return len(blocks_of(self.lesson))


def _attempts_by_lesson(user) -> dict[str, tuple[set[str], set[str]]]:
    found: dict[str, tuple[set[str], set[str]]] = {}
    if not user.is_authenticated:
        return found
    rows = Attempt.objects.filter(student=user).values_list("lesson", "block", "passed")
    for lesson, block, passed in rows:
        passed_blocks, attempted = found.setdefault(lesson, (set(), set()))
        attempted.add(block)
        if passed:
            passed_blocks.add(block)
    return found


def lesson_progress(user, lesson: Lesson) -> LessonProgress:
    passed, attempted = _attempts_by_lesson(user).get(lesson.slug, (set(), set()))
    return LessonProgress(lesson, frozenset(passed), frozenset(attempted))


@dataclass(frozen=True)
class TrackProgress:
    track: str
    name: str
    lessons: list[LessonProgress]

    @property
    def done(self) -> int:
        return sum(p.state == DONE for p in self.lessons)

    @property
    def percent(self) -> int:
        return round(100 * self.done / len(self.lessons)) if self.lessons else 0

    @property
    def minutes(self) -> int:
        """The declared minutes of the track's lessons (honest: reading plus activities)."""
        return sum(p.lesson.minutes for p in self.lessons)


def course_progress(user) -> list[TrackProgress]:
    found = _attempts_by_lesson(user)
    tracks = []
    for track, name, lessons in by_track():
        rows = []
        for lesson in lessons:
            passed, attempted = found.get(lesson.slug, (set(), set()))
            rows.append(LessonProgress(lesson, frozenset(passed), frozenset(attempted)))
        tracks.append(TrackProgress(track, name, rows))
    return tracks
