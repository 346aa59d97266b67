"""What a student's Dockerfile will do, evaluated the way the builder evaluates it, then judged.

The classic builder downloads ADD URLs and pulls FROM / COPY --from images from the Docker
daemon itself, on the host's network, whatever the build's network mode; and it runs RUN steps
as whatever USER says. So the rules are applied to what the builder will see, never to the
raw text:

- parsing is the builder's own: the `dockerfile` package wraps BuildKit's Go parser (the one
  the engine's classic builder vendors), so line continuations, the escape directive, JSON and
  shell forms and heredocs are split exactly as the engine splits them;
- substitution is ours, because no Python package implements BuildKit's shell lexer: a small
  evaluator of the forms every engine version agrees on (`$V`, `${V}`, `${V:-w}`, `${V:+w}`,
  quotes, the escape character), with ARG and ENV scoped per stage as the builder scopes them.
  Any other form (`${V-w}`, `${V#p}`, `${V/p/r}` …) or a variable the evaluator cannot know
  (the base image's own ENV) in a word that matters is refused: the evaluator fails closed.

The rules, on the evaluated words: FROM and COPY --from name a lab image or an earlier stage;
ADD is refused altogether (it is COPY plus URL, git and archive sources, which is exactly what
must not happen); USER and --chown are numeric, non-zero ids (a name is looked up in the image's
/etc/passwd, which a COPY can replace); --chmod has no setuid, setgid or sticky bit; RUN takes
no flags; ONBUILD, parser directives other than escape, and unknown instructions are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile
from django.utils.translation import gettext as _

# Instructions a student's Dockerfile may use, and the flags each accepts.
ALLOWED_FLAGS: dict[str, set[str]] = {
    "FROM": set(),
    "RUN": set(),
    "CMD": set(),
    "ENTRYPOINT": set(),
    "LABEL": set(),
    "MAINTAINER": set(),
    "EXPOSE": set(),
    "ENV": set(),
    "ARG": set(),
    "COPY": {"from", "chown", "chmod"},
    "WORKDIR": set(),
    "VOLUME": set(),
    "STOPSIGNAL": set(),
    "SHELL": set(),
    "HEALTHCHECK": {"interval", "timeout", "start-period", "retries"},
    "USER": set(),
}
MAX_ID = 65535  # a larger uid wraps around in setuid(2)'s 32 bits: 4294967296 is root
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=", re.MULTILINE)


class Refused(ValueError):
    """The Dockerfile does something a build here may not do; the message says what, in Korean."""


class _Unknown(Exception):
    """A word the evaluator cannot be sure of."""


@dataclass
class Stage:
    name: str
    env: dict[str, str | None]  # ENV (inherited by a stage built FROM this one); None: unknown
    args: dict[str, str | None] = field(default_factory=dict)  # ARG, this stage only

    def scope(self) -> dict[str, str | None]:
        return {**self.args, **self.env}  # ENV always wins over an ARG of the same name


def check(text: str, lab_images: set[str], build_args: dict[str, str] | None = None) -> None:
    """Raise Refused unless every instruction, evaluated, is allowed. `build_args`: the values
    `--build-arg` gives (the Docker CLI's builds), which the builder puts in place of an ARG's
    default wherever that ARG is declared."""
    _check_directives(text)
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as error:
        raise Refused(_("Dockerfile을 읽을 수 없어요: {e}").format(e=error)) from error
    if not commands:
        raise Refused(_("Dockerfile은 FROM으로 시작해야 해요."))
    meta = Stage("", {})  # ARGs before the first FROM: visible to FROM lines only
    stages: list[Stage] = []
    for command in commands:
        where = _("{n}번째 줄").format(n=command.start_line)
        word = command.cmd.upper()
        if word not in ALLOWED_FLAGS:
            if word in {"ADD", "ONBUILD"}:
                raise Refused(_REFUSALS[word].format(where=where))
            raise Refused(
                _("{where}: {cmd}는 여기서 쓸 수 없는 지시어예요.").format(
                    where=where, cmd=command.cmd
                )
            )
        if command.heredocs:
            raise Refused(
                _("{where}: 히어독(<<EOF)은 이 빌더가 지원하지 않아요.").format(where=where)
            )
        flags = _flags(command, where)
        if not stages and word not in {"FROM", "ARG"}:
            raise Refused(_("Dockerfile은 FROM으로 시작해야 해요."))
        stage = stages[-1] if stages else meta
        if word == "ARG":
            _declare_args(command, stage, meta.args, where, build_args or {})
        elif word == "FROM":
            stages.append(_from(command, meta.args, stages, lab_images, where))
        elif word == "ENV":
            _set_env(command, stage, where)
        elif word == "USER":
            _check_id(_one(command, stage.scope(), where), where, "USER")
        elif word == "COPY":
            _check_copy(flags, stage.scope(), stages, lab_images, where)
        elif word == "LABEL":
            _check_labels(command, stage.scope(), where)


_REFUSALS = {
    "ADD": "{where}: ADD는 쓸 수 없어요. ADD는 인터넷 주소나 git 저장소에서 파일을 받아 오고 "
    "압축 파일을 풀어 넣을 수 있어서, 여기서는 막아 두었어요. "
    "빌드 컨텍스트의 파일은 COPY로 넣어요.",
    "ONBUILD": "{where}: ONBUILD는 쓸 수 없어요. 나중 빌드에서 몰래 실행될 지시어는 검사할 수 "
    "없어서 막아 두었어요.",
}


def _check_directives(text: str) -> None:
    # Parser directives are comments at the very top; `escape` is parsed by the parser itself,
    # any other (`syntax` would make a BuildKit engine fetch a frontend image) is refused.
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        found = DIRECTIVE.match(stripped)
        if found and found.group(1).lower() != "escape":
            raise Refused(_("파서 지시문 {d}=는 쓸 수 없어요.").format(d=found.group(1)))


def _flags(command, where: str) -> dict[str, str]:
    allowed = ALLOWED_FLAGS[command.cmd.upper()]
    flags = {}
    for flag in command.flags:
        name, equals, value = flag.removeprefix("--").partition("=")
        name = name.lower()
        if not flag.startswith("--") or name not in allowed or not equals:
            raise Refused(
                _("{where}: {cmd}의 옵션 {flag}는 여기서 쓸 수 없어요.").format(
                    where=where, cmd=command.cmd.upper(), flag=flag.split("=")[0]
                )
            )
        flags[name] = value
    return flags


def _declare_args(command, stage: Stage, meta: dict, where: str, given: dict[str, str]) -> None:
    for item in command.value:
        name, equals, default = item.partition("=")
        if not NAME.fullmatch(name):
            raise Refused(
                _("{where}: ARG 이름 {n}을(를) 읽을 수 없어요.").format(where=where, n=name)
            )
        if name in given:
            value: str | None = given[name]
        elif equals:
            value = _soft(default, stage.scope())
        elif stage.args is not meta and name in meta:
            value = meta[name]  # re-declared inside a stage: the global default comes in
        else:
            value = ""  # no build arg for it: an ARG without default is empty
        stage.args[name] = value


def _set_env(command, stage: Stage, where: str) -> None:
    values = list(command.value)
    if len(values) % 2:
        raise Refused(_("{where}: ENV를 읽을 수 없어요.").format(where=where))
    for name, value in zip(values[::2], values[1::2], strict=True):
        stage.env[name] = _soft(value, stage.scope())


def _from(command, meta, stages: list[Stage], lab_images: set[str], where: str) -> Stage:
    words = [_evaluate(word, meta, where) for word in command.value]
    if len(words) not in {1, 3} or (len(words) == 3 and words[1].upper() != "AS"):
        raise Refused(_("{where}: FROM을 읽을 수 없어요.").format(where=where))
    base = words[0]
    earlier = next((s for s in stages if s.name and s.name == base.lower()), None)
    if earlier is None and base not in lab_images:
        raise Refused(
            _("{where}: FROM에는 실습 이미지({allowed})만 쓸 수 있어요: {base}").format(
                where=where, allowed=", ".join(sorted(lab_images)), base=base
            )
        )
    # A lab image brings ENV of its own (HOME, PATH): names known, values not read here.
    env: dict[str, str | None] = dict(earlier.env) if earlier else {"HOME": None, "PATH": None}
    return Stage(words[2].lower() if len(words) == 3 else "", env)


def _check_copy(flags, env, stages: list[Stage], lab_images: set[str], where: str) -> None:
    if "from" in flags:
        source = _evaluate(flags["from"], env, where)
        named = any(s.name and s.name == source.lower() for s in stages[:-1])
        numbered = source.isdigit() and int(source) < len(stages) - 1
        if not (named or numbered or source in lab_images):
            raise Refused(
                _("{where}: COPY --from에는 앞 단계나 실습 이미지만 쓸 수 있어요: {s}").format(
                    where=where, s=source
                )
            )
    if "chown" in flags:
        _check_id(_evaluate(flags["chown"], env, where), where, "COPY --chown")
    if "chmod" in flags:
        mode = _evaluate(flags["chmod"], env, where)
        if not re.fullmatch(r"[0-7]{1,4}", mode) or int(mode, 8) & 0o7000:
            raise Refused(
                _(
                    "{where}: --chmod에는 setuid·setgid 비트가 없는 8진수 권한만 쓸 수 "
                    "있어요(예: 755)."
                ).format(where=where)
            )


def _check_labels(command, env, where: str) -> None:
    """The project's own labels (baeum.*) say whose an image and its containers are: the
    project gives them, a Dockerfile may not."""
    for key in command.value[::2]:
        if _evaluate(key, env, where).lower().startswith("baeum."):
            raise Refused(
                _(
                    "{where}: baeum.으로 시작하는 LABEL은 이 서버가 붙이는 것이라 쓸 수 없어요."
                ).format(where=where)
            )


def _check_id(value: str, where: str, what: str) -> None:
    parts = value.split(":")
    numeric = len(parts) <= 2 and all(re.fullmatch(r"[0-9]+", p) for p in parts)
    if not numeric or any(not 0 < int(p) <= MAX_ID for p in parts):
        raise Refused(
            _(
                "{where}: {what}에는 0이 아닌 숫자 사용자 ID만 쓸 수 있어요(예: 1000 또는 "
                "1000:1000). root(0)로는 빌드하거나 실행할 수 없어요."
            ).format(where=where, what=what)
        )


def _one(command, env, where: str) -> str:
    words = [_evaluate(word, env, where) for word in command.value]
    if len(words) != 1:
        raise Refused(_("{where}: {cmd}를 읽을 수 없어요.").format(where=where, cmd=command.cmd))
    return words[0]


def _evaluate(word: str, env, where: str) -> str:
    try:
        return _expand(word, env)
    except _Unknown as error:
        raise Refused(
            _(
                "{where}: {w}의 값을 미리 확인할 수 없어서 빌드하지 않아요({why}). 값을 "
                "그대로 적어 주세요."
            ).format(where=where, w=word, why=error)
        ) from error


def _soft(word: str, env) -> str | None:
    """ARG defaults and ENV values: unknown stays unknown (None) until a word that matters
    uses it."""
    try:
        return _expand(word, env)
    except _Unknown:
        return None


def _expand(word: str, env, escape: str = "\\") -> str:
    """BuildKit's ProcessWord for the forms every engine version agrees on; _Unknown otherwise."""
    out, i = [], 0
    while i < len(word):
        ch = word[i]
        if ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise _Unknown(_("따옴표가 닫히지 않았어요"))
            out.append(word[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while True:
                if i >= len(word):
                    raise _Unknown(_("따옴표가 닫히지 않았어요"))
                if word[i] == '"':
                    i += 1
                    break
                if word[i] == "$":
                    text, i = _dollar(word, i, env)
                    out.append(text)
                elif word[i] in "\\`":
                    raise _Unknown(_("따옴표 안의 이스케이프"))
                else:
                    out.append(word[i])
                    i += 1
        elif ch == "$":
            text, i = _dollar(word, i, env)
            out.append(text)
        elif ch in "\\`":
            raise _Unknown(_("이스케이프 문자"))
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _dollar(word: str, i: int, env) -> tuple[str, int]:
    i += 1
    if i < len(word) and word[i] == "{":
        close = word.find("}", i)
        body = word[i + 1 : close] if close > 0 else ""
        found = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?", body)
        if close < 0 or not found or "$" in (found.group(3) or "") or "{" in body:
            raise _Unknown(_("지원하지 않는 치환 ${{{b}}}").format(b=body))
        name, modifier, alternative = found.groups()
        value = _lookup(name, env)
        if modifier == "-":
            value = value or _expand(alternative, env)
        elif modifier == "+":
            value = _expand(alternative, env) if value else ""
        return value, close + 1
    found = NAME.match(word, i)
    if not found:
        return "$", i  # a lone $ is literal, as in BuildKit
    return _lookup(found.group(0), env), found.end()


def _lookup(name: str, env) -> str:
    if name not in env:
        return ""
    value = env[name]
    if value is None:
        raise _Unknown(_("{n}의 값은 기반 이미지가 정해요").format(n=name))
    return value
