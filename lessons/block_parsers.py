"""One parser per kind of interactive block, and the table that says which kinds there are.

Each parser takes a block's body (YAML, or plain text for `terminal`) and returns the block, or
raises LessonError naming the file and line. `KINDS` drives the loader: a new kind of block is
a parser and a row here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from lessons import relations
from lessons.blocks import (
    BuildExercise,
    Check,
    Container,
    Exercise,
    Expect,
    LessonError,
    OrchestraLab,
    Question,
)
from sandbox.lab_images import LAB_IMAGES

MAX_COMMAND_BYTES = 4096
MAX_TIMEOUT = 60
MAX_MEMORY_MB = 256
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LAB_GOALS = ("apply", "heal", "scale", "update", "rollback", "balance")
MAX_CHECK_TIMEOUT = 30


def yaml_mapping(path: Path, line: int, text: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = line + 1 + mark.line if mark else line
        raise LessonError(f"{path}:{where}: YAML 오류: {error}") from None
    if not isinstance(data, dict):
        raise LessonError(f"{path}:{line}: 블록의 내용은 YAML 매핑이어야 합니다")
    return data


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
    answers: tuple[str, ...]
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


@dataclass(frozen=True)
class BlockKind:
    """A fenced block's kind: how its body parses, the Lesson's dict that holds blocks of this
    kind by id (None: a block without an id), and the Part it becomes (`Part.<part>` holds it)."""

    parse: Callable[[Path, int, str], object]
    collection: str | None
    part: str


def _yaml(parse: Callable[[Path, int, dict], object]) -> Callable[[Path, int, str], object]:
    return lambda path, line, text: parse(path, line, yaml_mapping(path, line, text))


KINDS = {
    "exercise": BlockKind(_yaml(_exercise), "exercises", "exercise"),
    "question": BlockKind(_yaml(_question), "questions", "question"),
    "check": BlockKind(_yaml(_check), "checks", "check"),
    # A command (plain text) with a ▶ that types it into the student's terminal.
    "terminal": BlockKind(_command, None, "command"),
    "build": BlockKind(_yaml(_build), "builds", "build"),
    "orchestra": BlockKind(_yaml(_lab), "labs", "lab"),
}
