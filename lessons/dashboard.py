"""What an instructor's dashboard shows, computed in a bounded number of queries whatever the
size of the class: students, their attempts (aggregated), live runs, recent activity."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from lessons.catalogue import Lesson, catalogue
from lessons.checks import exercise_of
from lessons.models import Attempt, Classroom
from lessons.progress import DONE, IN_PROGRESS, NOT_STARTED, STATE_NAMES, blocks_of
from sandbox.models import Playground, Run

STUCK_FAILURES = 3  # failed attempts on one block since its last pass
IDLE_MINUTES = 20  # active lately, but nothing passed for this long
ACTIVE_HOURS = 2
ACTIVITY_BINS = 18  # ten-minute bins: the last three hours


@dataclass
class Cell:
    state: str = NOT_STARTED
    attempts: int = 0
    last: datetime | None = None
    passed_blocks: int = 0
    total_blocks: int = 0

    @property
    def state_name(self) -> str:
        return str(STATE_NAMES[self.state])

    def html(self, names: dict[str, str], times: str) -> str:
        """The cell as HTML. Every part is a number, a time or one of our own state names
        (`names`, translated once per page), so escaping the whole once is enough."""
        name = names[self.state]
        title = f"{name} · {self.passed_blocks}/{self.total_blocks}"
        if self.attempts:
            title += " · " + times.format(n=self.attempts)
        if self.last:
            title += " · " + timezone.localtime(self.last).strftime("%H:%M")
        count = self.attempts or ""
        return (
            f'<td class="cell cell--{self.state}" title="{escape(title)}">'
            f'<span class="visually-hidden">{escape(name)}</span>{count}</td>'
        )


@dataclass
class Row:
    student: User
    cells: list[Cell]
    done: int = 0

    @property
    def cells_html(self) -> str:
        """The row's cells, built here rather than in the template: a class of 200 students
        has 3,000 of them, and the template engine took half a second on those alone."""
        names = {state: str(name) for state, name in STATE_NAMES.items()}
        times = _("{n}회")
        return mark_safe("".join(cell.html(names, times) for cell in self.cells))

    @property
    def percent(self) -> int:
        return round(100 * self.done / len(self.cells)) if self.cells else 0


@dataclass
class Stuck:
    student: User
    reason: str
    lesson: Lesson | None = None
    block_title: str = ""
    attempt_id: int | None = None


@dataclass
class Dashboard:
    classroom: Classroom
    lessons: list[Lesson]
    rows: list[Row]
    stuck: list[Stuck]
    running: list[dict]
    terminals: list[Playground]
    recent: list[Attempt]
    per_lesson_done: list[tuple[Lesson, int]] = field(default_factory=list)
    activity: list[int] = field(default_factory=list)

    @property
    def docker_running(self) -> list[dict]:
        """The containers students run with the docker CLI in their terminals, as each gate
        last saw them (sandbox/supervisor/docker_audit.py)."""
        now = time.time()
        return [
            {
                "student": playground.owner,
                "playground": playground,
                "name": container.get("name", ""),
                "image": container.get("image", ""),
                "elapsed": max(0, round(now - float(container.get("created") or now))),
            }
            for playground in self.terminals
            for container in playground.docker_containers or []
            if container.get("state") == "running"
        ]

    @property
    def running_count(self) -> int:
        return len(self.running) + len(self.docker_running)

    @property
    def progress_bars(self) -> list[dict]:
        """Progress per lesson, as bars of a 300-unit track (the SVG chart)."""
        students = len(self.rows) or 1
        return [
            {"lesson": lesson, "done": done, "y": 28 * i, "width": round(300 * done / students)}
            for i, (lesson, done) in enumerate(self.per_lesson_done)
        ]

    @property
    def progress_chart_height(self) -> int:
        return 28 * len(self.per_lesson_done) + 6

    @property
    def activity_bars(self) -> list[dict]:
        """Attempts per ten minutes, as bars up to 100 units tall standing on y=120."""
        peak = max(self.activity, default=0) or 1
        bars = []
        for i, count in enumerate(self.activity):
            height = round(100 * count / peak)
            bars.append({"x": 21 * i, "y": 120 - height, "height": height, "count": count})
        return bars


def block_title(lesson: Lesson, block: str) -> str:
    if block in lesson.exercises:
        return lesson.exercises[block].title
    if block in lesson.questions:
        return lesson.questions[block].ask
    return block


def build(classroom: Classroom, sort: str = "name") -> Dashboard:
    now = timezone.now()
    lessons = list(catalogue().values())
    students = list(get_user_model().objects.filter(classrooms=classroom).order_by("username"))
    ids = [s.pk for s in students]
    # (student, lesson, block) → attempts, passes, last attempt, last pass
    tallies = (
        Attempt.objects.filter(student_id__in=ids)
        .values("student_id", "lesson", "block")
        .annotate(
            n=Count("id"),
            passes=Count("id", filter=Q(passed=True)),
            last=Max("created_at"),
            last_pass=Max("created_at", filter=Q(passed=True)),
        )
    )
    per_student: dict[int, dict[str, list[dict]]] = {}
    for tally in tallies:
        per_student.setdefault(tally["student_id"], {}).setdefault(tally["lesson"], []).append(
            dict(tally)
        )

    rows = []
    for student in students:
        by_lesson = per_student.get(student.pk, {})
        cells = [_cell(lesson, by_lesson.get(lesson.slug, [])) for lesson in lessons]
        rows.append(Row(student, cells, done=sum(c.state == DONE for c in cells)))
    if sort == "progress":
        rows.sort(key=lambda row: (-row.done, -sum(c.passed_blocks for c in row.cells)))

    per_lesson_done = [
        (lesson, sum(row.cells[i].state == DONE for row in rows))
        for i, lesson in enumerate(lessons)
    ]
    return Dashboard(
        classroom=classroom,
        lessons=lessons,
        rows=rows,
        stuck=_stuck(students, ids, now),
        running=_running(ids, now),
        terminals=list(
            Playground.objects.filter(owner_id__in=ids, ended_at__isnull=True)
            .select_related("owner")
            .order_by("created_at")
        ),
        recent=list(
            Attempt.objects.filter(student_id__in=ids)
            .select_related("student", "run")
            .order_by("-created_at")[:15]
        ),
        per_lesson_done=per_lesson_done,
        activity=_activity(ids, now),
    )


def _cell(lesson: Lesson, tallies: list[dict]) -> Cell:
    blocks = blocks_of(lesson)
    passed = {t["block"] for t in tallies if t["passes"]} & blocks
    cell = Cell(
        attempts=sum(t["n"] for t in tallies),
        last=max((t["last"] for t in tallies), default=None),
        passed_blocks=len(passed),
        total_blocks=len(blocks),
    )
    if blocks and passed == blocks:
        cell.state = DONE
    elif tallies:
        cell.state = IN_PROGRESS
    return cell


def _stuck(students, ids, now) -> list[Stuck]:
    by_id = {s.pk: s for s in students}
    found: dict[int, Stuck] = {}
    lessons = catalogue()
    # Repeated failures on one block since its last pass (or ever, if it never passed).
    recent_failures = (
        Attempt.objects.filter(student_id__in=ids, created_at__gte=now - timedelta(hours=6))
        .order_by("student_id", "lesson", "block", "-created_at")
        .values("id", "student_id", "lesson", "block", "passed")
    )
    streaks: dict[tuple, list[int]] = {}
    closed: set[tuple] = set()
    for attempt in recent_failures:
        key = (attempt["student_id"], attempt["lesson"], attempt["block"])
        if key in closed:
            continue
        if attempt["passed"]:
            closed.add(key)
        else:
            streaks.setdefault(key, []).append(attempt["id"])
    for (student_id, slug, block), failures in streaks.items():
        if len(failures) >= STUCK_FAILURES and student_id not in found:
            lesson = lessons.get(slug)
            found[student_id] = Stuck(
                by_id[student_id],
                f"같은 문제에서 {len(failures)}번 연속 통과하지 못했어요",
                lesson,
                block_title(lesson, block) if lesson else block,
                failures[0],
            )
    # Active lately, yet nothing passed for a while.
    activity = (
        Attempt.objects.filter(
            student_id__in=ids, created_at__gte=now - timedelta(hours=ACTIVE_HOURS)
        )
        .values("student_id")
        .annotate(last_pass=Max("created_at", filter=Q(passed=True)), n=Count("id"))
    )
    for row in activity:
        idle = row["last_pass"] is None or row["last_pass"] < now - timedelta(minutes=IDLE_MINUTES)
        if idle and row["student_id"] not in found and row["n"] >= 2:
            found[row["student_id"]] = Stuck(
                by_id[row["student_id"]], f"{IDLE_MINUTES}분 넘게 통과한 것이 없어요"
            )
    return sorted(found.values(), key=lambda s: s.student.username)


def _running(ids, now) -> list[dict]:
    running = []
    for run in (
        Run.objects.filter(owner_id__in=ids, state__in=Run.LIVE_STATES)
        .select_related("owner")
        .order_by("created_at")
    ):
        named = exercise_of(run)
        elapsed = (now - (run.started_at or run.created_at)).total_seconds()
        running.append(
            {
                "run": run,
                "title": named[1].title if named else run.label,
                "lesson": catalogue().get(named[0]) if named else None,
                "elapsed": max(0, round(elapsed)),
                "left": max(0, round(run.timeout_seconds - elapsed)),
            }
        )
    return running


def _activity(ids, now) -> list[int]:
    start = now - timedelta(minutes=10 * ACTIVITY_BINS)
    bins = [0] * ACTIVITY_BINS
    for created in Attempt.objects.filter(student_id__in=ids, created_at__gte=start).values_list(
        "created_at", flat=True
    ):
        index = min(ACTIVITY_BINS - 1, int((created - start).total_seconds() // 600))
        bins[index] += 1
    return bins
