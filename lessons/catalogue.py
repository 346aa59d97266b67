"""Lesson files → Lesson objects.

A lesson is one Markdown file, `content/ko/<track>-<nn>-<slug>.md`: YAML front matter, then prose
with interactive blocks fenced as ```exercise or ```question whose body is YAML. Every block is
validated when the file loads; a mistake names the file and line.
"""

from __future__ import annotations

import dataclasses
import functools
import html as html_module
import re
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import yaml
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lessons import answers, relations
from sandbox.images import LAB_IMAGES

CONTENT_DIR = Path(__file__).resolve().parent / "content" / "ko"
TRACKS = {"docker": gettext_lazy("도커"), "kubernetes": gettext_lazy("쿠버네티스")}
MAX_COMMAND_BYTES = 4096
MAX_TIMEOUT = 60
MAX_MEMORY_MB = 256
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Blocks with a YAML body, and `terminal`: a command (plain text) with a ▶ that runs it in the
# student's terminal.
BLOCK_KINDS = ("exercise", "question", "check", "terminal", "build", "orchestra")
LAB_GOALS = ("apply", "heal", "scale", "update", "rollback", "balance")
MAX_CHECK_TIMEOUT = 30
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

    def judge(self, given: str) -> answers.Judgement:
        """Right or not, with a hint when a fill-in answer is close (lessons/answers.py). A
        choice is the choice's own text, compared trimmed and case-insensitively."""
        if self.choices:
            given = given.strip().casefold()
            return answers.Judgement(any(given == a.strip().casefold() for a in self.answers))
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
        return TRACKS[self.track]

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


def _renderer() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "sane_lists", "attr_list"],
        extension_configs={"codehilite": {"css_class": "highlight", "guess_lang": False}},
    )


def load_lesson(path: Path) -> Lesson:
    text = path.read_text(encoding="utf-8")
    meta, body, body_line = _split_front_matter(path, text)
    parts: list[Part] = []
    exercises: dict[str, Exercise] = {}
    questions: dict[str, Question] = {}
    checks: dict[str, Check] = {}
    builds: dict[str, BuildExercise] = {}
    labs: dict[str, OrchestraLab] = {}
    renderer = _renderer()
    prose_chars = 0

    def flush(prose: list[str]) -> None:
        nonlocal prose_chars
        if "".join(prose).strip():
            html = renderer.reset().convert("\n".join(prose))
            prose_chars += _text_length(html)
            # Wide samples scroll sideways inside their box; keyboard users must reach it too.
            html = html.replace("<pre>", '<pre tabindex="0">')
            parts.append(Part("html", html=html))
        prose.clear()

    prose: list[str] = []
    lines = body.split("\n")
    index = 0
    in_fence = False
    while index < len(lines):
        line = lines[index]
        fence = re.match(r"^(`{3,}|~{3,})\s*([\w-]*)\s*$", line)
        if fence and not in_fence and fence.group(2) in BLOCK_KINDS:
            start = body_line + index
            end = _closing_fence(lines, index, fence.group(1), path, start)
            text = "\n".join(lines[index + 1 : end])
            flush(prose)
            kind = fence.group(2)
            if kind == "terminal":
                parts.append(Part("command", command=_command(path, start, text)))
            elif kind == "exercise":
                exercise = _exercise(path, start, _yaml_block(path, start, text))
                _unique(path, start, exercise.id, exercises, questions, checks)
                exercises[exercise.id] = exercise
                parts.append(Part("exercise", exercise=exercise))
            elif kind == "orchestra":
                lab = _lab(path, start, _yaml_block(path, start, text))
                _unique(path, start, lab.id, exercises, questions, checks, builds, labs)
                labs[lab.id] = lab
                parts.append(Part("lab", lab=lab))
            elif kind == "build":
                built = _build(path, start, _yaml_block(path, start, text))
                _unique(path, start, built.id, exercises, questions, checks, builds)
                builds[built.id] = built
                parts.append(Part("build", build=built))
            elif kind == "check":
                check = _check(path, start, _yaml_block(path, start, text))
                _unique(path, start, check.id, exercises, questions, checks)
                checks[check.id] = check
                parts.append(Part("check", check=check))
            else:
                question = _question(path, start, _yaml_block(path, start, text))
                _unique(path, start, question.id, exercises, questions, checks)
                questions[question.id] = question
                parts.append(Part("question", question=question))
            index = end + 1
            continue
        if fence:
            in_fence = not in_fence
        prose.append(line)
        index += 1
    flush(prose)
    return Lesson(
        slug=path.stem,
        parts=tuple(parts),
        exercises=exercises,
        questions=questions,
        checks=checks,
        builds=builds,
        labs=labs,
        prose_chars=prose_chars,
        **meta,
    )


def _text_length(html: str) -> int:
    """Characters a reader reads in rendered prose: the text without tags, runs of white space
    counted as one."""
    text = html_module.unescape(re.sub(r"<[^>]+>", " ", html))
    return len(re.sub(r"\s+", " ", text).strip())


def _split_front_matter(path: Path, text: str) -> tuple[dict, str, int]:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not match:
        raise LessonError(f"{path}:1: 파일이 YAML 머리말(---)로 시작해야 합니다")
    data = _yaml_block(path, 1, match.group(1))
    required = {"title": str, "track": str, "order": int, "minutes": int, "summary": str}
    for key, kind in required.items():
        if not isinstance(data.get(key), kind):
            raise LessonError(f"{path}:1: 머리말에 {key} ({kind.__name__})가 필요합니다")
    unknown = set(data) - set(required)
    if unknown:
        raise LessonError(f"{path}:1: 머리말에 모르는 키: {', '.join(sorted(unknown))}")
    if data["track"] not in TRACKS:
        raise LessonError(f"{path}:1: track은 {', '.join(TRACKS)} 중 하나여야 합니다")
    if not path.stem.startswith(f"{data['track']}-{data['order']:02d}-"):
        raise LessonError(
            f"{path}:1: 파일 이름은 {data['track']}-{data['order']:02d}-… 이어야 합니다"
        )
    body_line = text[: match.end()].count("\n") + 1
    return {k: data[k] for k in required}, text[match.end() :], body_line


def _closing_fence(lines: list[str], start: int, marker: str, path: Path, line: int) -> int:
    for index in range(start + 1, len(lines)):
        if lines[index].strip() == marker:
            return index
    raise LessonError(f"{path}:{line}: 블록이 닫히지 않았습니다 ({marker})")


def _yaml_block(path: Path, line: int, text: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = line + 1 + mark.line if mark else line
        raise LessonError(f"{path}:{where}: YAML 오류: {error}") from None
    if not isinstance(data, dict):
        raise LessonError(f"{path}:{line}: 블록의 내용은 YAML 매핑이어야 합니다")
    return data


def _unique(path: Path, line: int, block_id: str, *seen: dict) -> None:
    if any(block_id in ids for ids in seen):
        raise LessonError(f"{path}:{line}: id {block_id!r}가 이 레슨에서 두 번 쓰였습니다")


def _check_keys(path: Path, line: int, data: dict, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise LessonError(f"{path}:{line}: 모르는 키: {', '.join(sorted(unknown))}")


def _block_id(path: Path, line: int, data: dict) -> str:
    block_id = data.get("id")
    if not isinstance(block_id, str) or not ID_PATTERN.match(block_id):
        raise LessonError(f"{path}:{line}: id는 소문자, 숫자, -로 된 짧은 이름이어야 합니다")
    return block_id


def _command(path: Path, line: int, command: object) -> str:
    if not isinstance(command, str) or not command.strip():
        raise LessonError(f"{path}:{line}: command가 비어 있습니다")
    if len(command.encode()) > MAX_COMMAND_BYTES:
        raise LessonError(f"{path}:{line}: command가 {MAX_COMMAND_BYTES}바이트를 넘습니다")
    return command.strip()


def _exercise(path: Path, line: int, data: dict) -> Exercise:
    allowed = {
        "id",
        "title",
        "image",
        "command",
        "editable",
        "timeout",
        "expect",
        "memory",
        "repeat",
        "containers",
        "in_turn",
        "volume",
        "wrong",
    }
    _check_keys(path, line, data, allowed)
    block_id = _block_id(path, line, data)
    if not isinstance(data.get("title"), str):
        raise LessonError(f"{path}:{line}: 실습에 title이 필요합니다")
    image = data.get("image", "baeum/lab")
    if image not in LAB_IMAGES:
        raise LessonError(f"{path}:{line}: image는 실습 이미지({', '.join(LAB_IMAGES)})여야 합니다")
    timeout = data.get("timeout", 20)
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT:
        raise LessonError(f"{path}:{line}: timeout은 1에서 {MAX_TIMEOUT} 사이의 정수여야 합니다")
    memory = data.get("memory")
    if memory is not None and not re.fullmatch(r"(\d+)m", str(memory)):
        raise LessonError(f"{path}:{line}: memory는 '32m'처럼 써야 합니다")
    if memory is not None and not 6 <= int(str(memory)[:-1]) <= MAX_MEMORY_MB:
        raise LessonError(f"{path}:{line}: memory는 6m에서 {MAX_MEMORY_MB}m 사이여야 합니다")
    repeat = data.get("repeat", 1)
    if not isinstance(repeat, int) or not 1 <= repeat <= 5:
        raise LessonError(f"{path}:{line}: repeat은 1에서 5 사이의 정수여야 합니다")
    containers = _containers(path, line, data.get("containers"))
    if containers and ("command" in data or repeat != 1 or data.get("editable")):
        raise LessonError(
            f"{path}:{line}: containers가 있으면 command, repeat, editable은 쓰지 않습니다"
        )
    command = "" if containers else _command(path, line, data.get("command"))
    in_turn = bool(data.get("in_turn", False))
    if in_turn and not containers:
        raise LessonError(f"{path}:{line}: in_turn은 containers와 함께 씁니다")
    volume = data.get("volume")
    if volume is not None and (not isinstance(volume, str) or not ID_PATTERN.match(volume)):
        raise LessonError(f"{path}:{line}: volume은 소문자, 숫자, -로 된 이름이어야 합니다")
    return Exercise(
        id=block_id,
        title=data["title"],
        image=image,
        command=command,
        editable=bool(data.get("editable", False)),
        timeout=timeout,
        memory=str(memory) if memory is not None else None,
        repeat=repeat,
        containers=containers,
        in_turn=in_turn,
        volume=volume,
        expect=_expect(path, line, data.get("expect")),
        **_wrong(path, line, data.get("wrong"), command, containers),
        line=line,
    )


def _wrong(
    path: Path, line: int, raw: object, command: str, containers: tuple[Container, ...]
) -> dict:
    """`wrong`: a command (or, with `containers`, {name: command}) that must not pass."""
    if raw is None:
        return {}
    if not containers:
        wrong = _command(path, line, raw)
        if wrong == command:
            raise LessonError(f"{path}:{line}: wrong이 command와 같습니다")
        return {"wrong": wrong}
    names = {c.name for c in containers}
    if not isinstance(raw, dict) or not raw or not set(raw) <= names:
        raise LessonError(
            f"{path}:{line}: containers가 있으면 wrong은 {{컨테이너 이름: 명령}} 매핑입니다"
        )
    commands = {str(name): _command(path, line, wrong) for name, wrong in raw.items()}
    changed = tuple(
        dataclasses.replace(c, command=commands.get(c.name, c.command)) for c in containers
    )
    if changed == containers:
        raise LessonError(f"{path}:{line}: wrong이 containers의 명령과 같습니다")
    return {"wrong_containers": changed}


def _containers(path: Path, line: int, raw: object) -> tuple[Container, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not 2 <= len(raw) <= 5:
        raise LessonError(f"{path}:{line}: containers는 2개에서 5개 사이의 목록이어야 합니다")
    containers = []
    for item in raw:
        if not isinstance(item, dict):
            raise LessonError(f"{path}:{line}: containers의 항목은 매핑이어야 합니다")
        _check_keys(path, line, item, {"name", "command", "main"})
        name = item.get("name")
        if not isinstance(name, str) or not ID_PATTERN.match(name):
            raise LessonError(f"{path}:{line}: 컨테이너 name은 소문자, 숫자, -로 씁니다")
        containers.append(
            Container(name, _command(path, line, item.get("command")), bool(item.get("main")))
        )
    if sum(c.main for c in containers) != 1:
        raise LessonError(f"{path}:{line}: containers 중 정확히 하나가 main: true여야 합니다")
    if len({c.name for c in containers}) != len(containers):
        raise LessonError(f"{path}:{line}: 컨테이너 이름이 겹칩니다")
    return tuple(containers)


def _expect(path: Path, line: int, raw: object) -> Expect:
    if not isinstance(raw, dict) or not raw:
        raise LessonError(
            f"{path}:{line}: expect에 exit_code, output, oom_killed, check 중 하나 이상이 "
            "필요합니다"
        )
    _check_keys(path, line, raw, {"exit_code", "output", "oom_killed", "check"})
    exit_code, output, oom = raw.get("exit_code"), raw.get("output"), raw.get("oom_killed")
    check = raw.get("check")
    if check is not None and check not in relations.RELATIONS:
        raise LessonError(
            f"{path}:{line}: expect.check는 {', '.join(relations.RELATIONS)} 중 하나여야 합니다"
        )
    if exit_code is not None and not isinstance(exit_code, int):
        raise LessonError(f"{path}:{line}: expect.exit_code는 정수여야 합니다")
    if output is not None:
        try:
            re.compile(str(output))
        except re.error as error:
            raise LessonError(f"{path}:{line}: expect.output 정규식 오류: {error}") from None
    if oom is not None and not isinstance(oom, bool):
        raise LessonError(f"{path}:{line}: expect.oom_killed는 true나 false여야 합니다")
    return Expect(exit_code, None if output is None else str(output), oom, check)


def _files(path: Path, line: int, raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise LessonError(f"{path}:{line}: files는 이름: 내용 매핑이어야 합니다")
    return tuple(raw.items())


def _lab(path: Path, line: int, data: dict) -> OrchestraLab:
    _check_keys(path, line, data, {"id", "title", "manifest", "goal", "kubectl"})
    block_id = _block_id(path, line, data)
    for key in ("title", "manifest"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LessonError(f"{path}:{line}: 오케스트레이션 실습에 {key}가 필요합니다")
    if data.get("goal") not in LAB_GOALS:
        raise LessonError(f"{path}:{line}: goal은 {', '.join(LAB_GOALS)} 중 하나여야 합니다")
    kubectl = data.get("kubectl") or []
    if not isinstance(kubectl, list) or not all(isinstance(k, str) for k in kubectl):
        raise LessonError(f"{path}:{line}: kubectl은 명령 문자열의 목록이어야 합니다")
    return OrchestraLab(
        block_id, data["title"], data["manifest"], data["goal"], tuple(kubectl), line
    )


def _build(path: Path, line: int, data: dict) -> BuildExercise:
    allowed = {"id", "title", "dockerfile", "files", "run", "expect", "rollback", "variants"}
    _check_keys(path, line, data, allowed | {"wrong"})
    block_id = _block_id(path, line, data)
    for key in ("title", "dockerfile"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LessonError(f"{path}:{line}: 빌드 실습에 {key}가 필요합니다")
    wrong = None
    if "wrong" in data:
        raw = data["wrong"]
        if not isinstance(raw, dict) or not raw:
            raise LessonError(f"{path}:{line}: wrong은 dockerfile과 files의 매핑이어야 합니다")
        _check_keys(path, line, raw, {"dockerfile", "files"})
        wrong = (
            str(raw.get("dockerfile", data["dockerfile"])),
            _files(path, line, raw.get("files", data.get("files"))),
        )
        if wrong == (data["dockerfile"], _files(path, line, data.get("files"))):
            raise LessonError(f"{path}:{line}: wrong이 dockerfile, files와 같습니다")
    variants = []
    for name, variant in (data.get("variants") or {}).items():
        if not isinstance(variant, dict):
            raise LessonError(f"{path}:{line}: variants의 {name}은(는) 매핑이어야 합니다")
        _check_keys(path, line, variant, {"dockerfile", "files"})
        variants.append(
            (
                str(name),
                variant.get("dockerfile", data["dockerfile"]),
                _files(path, line, variant.get("files", data.get("files"))),
            )
        )
    return BuildExercise(
        id=block_id,
        title=data["title"],
        dockerfile=data["dockerfile"],
        files=_files(path, line, data.get("files")),
        run=_command(path, line, data.get("run")),
        expect=_expect(path, line, data.get("expect")),
        rollback=str(data.get("rollback", "")),
        variants=tuple(variants),
        wrong=wrong,
        line=line,
    )


def _check(path: Path, line: int, data: dict) -> Check:
    _check_keys(path, line, data, {"id", "title", "command", "success", "failure", "timeout"})
    block_id = _block_id(path, line, data)
    for key in ("title", "success", "failure"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LessonError(f"{path}:{line}: 확인(check)에 {key}가 필요합니다")
    timeout = data.get("timeout", 10)
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_CHECK_TIMEOUT:
        raise LessonError(f"{path}:{line}: timeout은 1에서 {MAX_CHECK_TIMEOUT} 사이여야 합니다")
    return Check(
        block_id,
        data["title"],
        _command(path, line, data.get("command")),
        data["success"],
        data["failure"],
        timeout,
        line,
    )


def _question(path: Path, line: int, data: dict) -> Question:
    _check_keys(path, line, data, {"id", "ask", "choices", "answer", "explain"})
    block_id = _block_id(path, line, data)
    for key in ("ask", "explain"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise LessonError(f"{path}:{line}: 질문에 {key}가 필요합니다")
    choices = data.get("choices")
    answer = data.get("answer")
    if choices is not None:
        if not isinstance(choices, list) or len(choices) < 2:
            raise LessonError(f"{path}:{line}: choices는 두 개 이상의 목록이어야 합니다")
        choices = [str(c) for c in choices]
        if len(set(choices)) != len(choices):
            raise LessonError(f"{path}:{line}: choices에 같은 보기가 두 번 있습니다")
        if str(answer) not in choices:
            raise LessonError(f"{path}:{line}: answer는 choices 중 하나여야 합니다")
        answers = (str(answer),)
    else:
        raw = answer if isinstance(answer, list) else [answer]
        answers = tuple(str(a) for a in raw if a is not None and str(a).strip())
        if not answers:
            raise LessonError(f"{path}:{line}: 질문에 answer가 필요합니다")
    return Question(block_id, data["ask"], answers, data["explain"], tuple(choices or ()), line)


@functools.cache
def catalogue(content_dir: Path = CONTENT_DIR) -> dict[str, Lesson]:
    """Every lesson, by slug, in course order (track, then order). Loaded once per process."""
    lessons = [load_lesson(path) for path in sorted(content_dir.glob("*.md"))]
    lessons.sort(key=lambda lesson: (list(TRACKS).index(lesson.track), lesson.order))
    seen: dict[tuple[str, int], str] = {}
    for lesson in lessons:
        key = (lesson.track, lesson.order)
        if key in seen:
            raise LessonError(f"{lesson.slug}: order {lesson.order}가 {seen[key]}와 겹칩니다")
        seen[key] = lesson.slug
    return {lesson.slug: lesson for lesson in lessons}


def by_track() -> list[tuple[str, str, list[Lesson]]]:
    """[(track, track name, lessons)] for the course page."""
    lessons = list(catalogue().values())
    return [(t, name, [ls for ls in lessons if ls.track == t]) for t, name in TRACKS.items()]
