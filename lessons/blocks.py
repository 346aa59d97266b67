"""What a lesson is made of: its parts and interactive blocks, as the loader hands them on.

Pure data (and the judging a block does of a student's answer or run); the parsing lives in
`lessons/block_parsers.py`, the file format in `lessons/catalogue.py`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lessons import answers, relations
from lessons.answers import Judgement

TRACKS = {"docker": gettext_lazy("도커"), "kubernetes": gettext_lazy("쿠버네티스")}
# The time a lesson takes, as a student spends it: its prose read at about 500 characters a
# minute (Korean), and each activity done once.
READING_CHARS_PER_MINUTE = 500
MINUTES_PER_ACTIVITY = 2  # an exercise, a build, an orchestration lab, a terminal check
MINUTES_PER_QUESTION = 1


class LessonError(ValueError):
    pass


@dataclass(frozen=True)
class Expect:
    exit_code: int | None = None
    output: str | None = None  # a regular expression, searched in the whole output
    oom_killed: bool | None = None
    # A relation the output must keep, by name (lessons/relations.py): the result recomputed
    # from the inputs the output prints, so an editable exercise checks the student's numbers.
    check: str | None = None

    def failures(self, exit_code: int | None, output: str, oom_killed: bool) -> list[str]:
        """Why a finished run does not meet this expectation, in words for the student."""
        reasons = []
        if self.exit_code is not None and exit_code != self.exit_code:
            reasons.append(
                _("종료 코드가 {want}이어야 하는데 {got}였어요.").format(
                    want=self.exit_code, got=exit_code
                )
            )
        if self.output is not None and not re.search(self.output, output):
            reasons.append(_("출력에서 `{pattern}`를 찾지 못했어요.").format(pattern=self.output))
        if self.oom_killed is not None and oom_killed != self.oom_killed:
            reasons.append(
                _("메모리 제한으로 강제 종료되어야 해요.")
                if self.oom_killed
                else _("메모리 제한에 걸리지 않아야 해요.")
            )
        if self.check is not None:
            reasons.extend(relations.failures(self.check, output))
        return reasons


@dataclass(frozen=True)
class Container:
    name: str
    command: str
    main: bool = False


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    expect: Expect
    command: str = ""
    image: str = "baeum/lab"
    editable: bool = False
    timeout: int = 20
    memory: str | None = None
    repeat: int = 1
    containers: tuple[Container, ...] = ()
    in_turn: bool = False  # the containers run one after another, not together
    volume: str | None = None  # the student's named volume, mounted at /data
    # A plausible mistake that must not pass `expect`: another command, or (for `containers`)
    # other commands for some of the containers, by name.
    wrong: str = ""
    wrong_containers: tuple[Container, ...] = ()
    line: int = 0

    @property
    def is_single(self) -> bool:
        return not self.containers and self.repeat == 1

    @property
    def has_wrong(self) -> bool:
        return bool(self.wrong or self.wrong_containers)

    def mistaken(self) -> Exercise:
        """This exercise as a student who made its plausible mistake would run it."""
        if self.wrong_containers:
            return dataclasses.replace(self, containers=self.wrong_containers)
        return dataclasses.replace(self, command=self.wrong)


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    answers: tuple[str, ...]
    explain: str
    choices: tuple[str, ...] = ()
    line: int = 0

    def judge(self, given: str) -> Judgement:
        """Right or not, with a hint when a fill-in answer is close (lessons/answers.py). A
        choice is the choice's own text, compared trimmed and case-insensitively."""
        if self.choices:
            given = given.strip().casefold()
            return Judgement(any(given == a.strip().casefold() for a in self.answers))
        return answers.judge(given, self.answers, self.ask)

    def is_right(self, given: str) -> bool:
        return self.judge(given).right


@dataclass(frozen=True)
class Check:
    """A check run in the student's terminal: its exit status decides, with a message each way."""

    id: str
    title: str
    command: str
    success: str
    failure: str
    timeout: int = 10
    line: int = 0


@dataclass(frozen=True)
class BuildExercise:
    """A Dockerfile the student edits and builds; versions are tagged and run.

    `run` is the command a version is run with, checked against `expect`; with `rollback`, the
    check also wants the run to be of that version (back from a broken one). `variants` are
    prepared contents (e.g. a broken v2) the student can load into the editor.
    """

    id: str
    title: str
    dockerfile: str
    files: tuple[tuple[str, str], ...]
    run: str
    expect: Expect
    rollback: str = ""
    variants: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    # A plausible mistake (a Dockerfile and files) whose image must not meet `expect`.
    wrong: tuple[str, tuple[tuple[str, str], ...]] | None = None
    line: int = 0

    def variant(self, name: str) -> tuple[str, dict[str, str]] | None:
        for variant_name, dockerfile, files in self.variants:
            if variant_name == name:
                return dockerfile, dict(files)
        return None


@dataclass(frozen=True)
class OrchestraLab:
    """A Deployment manifest the student applies to the orchestrator, with a goal that 확인
    checks against the live state, and the kubectl commands that mean the same."""

    id: str
    title: str
    manifest: str
    goal: str
    kubectl: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Part:
    """A piece of a lesson page: rendered prose, an exercise, or a question."""

    kind: str  # "html" | "exercise" | "question" | "check" | "command"
    html: str = ""
    exercise: Exercise | None = None
    question: Question | None = None
    check: Check | None = None
    command: str = ""
    build: BuildExercise | None = None
    lab: OrchestraLab | None = None


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    track: str
    order: int
    minutes: int
    summary: str
    parts: tuple[Part, ...]
    exercises: dict[str, Exercise] = field(hash=False)
    questions: dict[str, Question] = field(hash=False)
    checks: dict[str, Check] = field(hash=False, default_factory=dict)
    builds: dict[str, BuildExercise] = field(hash=False, default_factory=dict)
    labs: dict[str, OrchestraLab] = field(hash=False, default_factory=dict)
    prose_chars: int = 0  # the text a student reads: prose and code samples, not the blocks

    @property
    def track_name(self) -> str:
        return str(TRACKS[self.track])

    @property
    def estimated_minutes(self) -> int:
        """Reading plus activities, by the rule in DESIGN.md (compared with `minutes` in the
        curriculum tests)."""
        activities = len(self.exercises) + len(self.builds) + len(self.labs) + len(self.checks)
        minutes = (
            self.prose_chars / READING_CHARS_PER_MINUTE
            + MINUTES_PER_ACTIVITY * activities
            + MINUTES_PER_QUESTION * len(self.questions)
        )
        return max(1, round(minutes))
