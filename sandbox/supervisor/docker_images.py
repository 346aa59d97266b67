"""A student's images through the Docker gate (docker_gate.py): the shelf's and their own, by the
names they type; `docker build` judged as the build lab judges a Dockerfile; tag, history, rmi.

- The shelf (`busybox` …) is the project's images under familiar names; a student's own image
  `myapp:v1` is `baeum-docker/<deployment>-u<owner>/myapp:v1` on the engine, labelled with the
  deployment and the owner and shown back as `myapp:v1`. Nobody else's image is reachable by
  any name: a name is resolved among the shelf and the student's own tags only.
- A build's context is read here, never handed to the engine as given: regular files and
  folders only, within the size caps; the Dockerfile is evaluated and judged by
  sandbox/dockerfile_rules.py (FROM the shelf, the student's own images or an earlier stage; no
  ADD, no root …), then its FROM lines are written again with the engine's names, and the
  result judged again. The build runs with no network, the build lab's memory and CPU limits,
  a file-size limit, its time limit, and the student's labels; its output shows the student's
  names.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import posixpath
import re
import secrets
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlencode

import dockerfile
from django.conf import settings

from sandbox import dockerfile_rules, engine
from sandbox.engine.profile import BUILD_LIMITS
from sandbox.supervisor import docker_policy as policy
from sandbox.supervisor import docker_registry
from sandbox.supervisor.docker_relay import Answer, Forward

if TYPE_CHECKING:
    from sandbox.supervisor.docker_gate import Gate

log = logging.getLogger(__name__)

MAX_CONTEXT_BYTES = 1024 * 1024  # what `docker build .` may send (the CLI's tar of the folder)
MAX_CONTEXT_FILES = 200
MAX_DOCKERFILE_BYTES = 8 * 1024
FILE_BYTES = 16 * 2**20  # what one file a RUN step writes may grow to (the `fsize` limit)
# A repository as a student names it (`myapp`, `me/myapp`) and a tag.
REPOSITORY = re.compile(
    r"(?:localhost:5000/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)?"
)
IN_REGISTRY = docker_registry.SHOWN + "/"  # `localhost:5000/myapp`: pushed and pulled
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# The build API's options a student may set (the gate sets the rest itself).
BUILD_OPTIONS = {
    "t",
    "dockerfile",
    "q",
    "nocache",
    "rm",
    "forcerm",
    "labels",
    "target",
    "buildargs",
}
# What the CLI sends for an option nobody asked for; any other value of any other is refused.
UNSET = {"", "0", "false", "null", "{}", "[]", "default"}


def _owner_path(gate: Gate) -> str:
    namespace = re.sub(r"[^a-z0-9]+", "-", settings.SANDBOX_NAMESPACE.lower()).strip("-")[:40]
    return f"{namespace}-u{gate.owner_id}"


def image_prefix(gate: Gate) -> str:
    return f"baeum-docker/{_owner_path(gate)}/"


def _registry_prefix(gate: Gate, address: str) -> str:
    return f"{address}/{_owner_path(gate)}/"


def shown_prefixes(gate: Gate) -> dict[str, str]:
    """The engine's prefixes of the student's images → what the student sees instead."""
    prefixes = {image_prefix(gate): ""}
    if address := docker_registry.known_address():
        prefixes[_registry_prefix(gate, address)] = IN_REGISTRY
    return prefixes


async def engine_name(gate: Gate, repository: str, tag: str) -> str:
    """The engine's name of the student's `repository:tag` (split() read it): under their
    prefix, or in the registry under their path (which starts the registry if need be)."""
    if repository.startswith(IN_REGISTRY):
        address = await docker_registry.address()
        return f"{_registry_prefix(gate, address)}{repository.removeprefix(IN_REGISTRY)}:{tag}"
    return f"{image_prefix(gate)}{repository}:{tag}"


def split(reference: str) -> tuple[str, str]:
    """`myapp:v1` → ("myapp", "v1"); `myapp` → ("myapp", "latest"); Refused for a name the
    engine would read as another registry's or that is not a plain name."""
    repository, _, tag = reference.rpartition(":") if ":" in reference else (reference, "", "")
    if "/" in tag:  # a port: `host:5000/name`
        repository, tag = reference, ""
    tag = tag or "latest"
    if not REPOSITORY.fullmatch(repository) or not TAG.fullmatch(tag):
        raise policy.Refused(
            f"이미지 이름 {reference}은(는) 쓸 수 없어요 (소문자·숫자와 ._-, 예: myapp:v1).", 400
        )
    return repository, tag


async def own_tags(gate: Gate) -> dict[str, str]:
    """The student's own tags (`myapp:v1`) → the engine's image id."""
    prefixes = shown_prefixes(gate)
    async with gate.engine_calls:
        images = await asyncio.to_thread(engine.images_labelled, *gate.label_filters())
    return {
        shown + tag.removeprefix(prefix): image["Id"]
        for image in images
        for tag in image.get("RepoTags") or []
        for prefix, shown in prefixes.items()
        if tag.startswith(prefix)
    }


async def local_image(gate: Gate, reference: str) -> str | None:
    """The engine's name of the image a student means: the shelf's, or one of their own tags."""
    shelf = policy.SHELF.get(reference.removesuffix(":latest"))
    if shelf is not None:  # on this engine only once `make shelf` has built it
        async with gate.engine_calls:
            return shelf if await asyncio.to_thread(engine.image_exists, shelf) else None
    try:
        repository, tag = split(reference)
    except policy.Refused:
        return None
    if f"{repository}:{tag}" in await own_tags(gate):
        return await engine_name(gate, repository, tag)
    return None


def _no_such_image(reference: str) -> Answer:
    return Answer(404, {"message": f"No such image: {reference}"})


async def image_call(
    gate: Gate, name: str, reference: str, version: str, query: str
) -> Forward | Answer:
    """Inspect, history, tag and remove, on a shelf image or the student's own."""
    local = await local_image(gate, reference)
    if local is None:
        return _no_such_image(reference)
    if name == "images.inspect":
        return Forward("GET", f"{version}/images/{quote(local, safe='')}/json")
    if name == "images.history":
        return Forward("GET", f"{version}/images/{quote(local, safe='')}/history")
    shelf = local in policy.SHOWN
    if name == "images.remove":
        if shelf:
            raise policy.Refused(f"{reference}은(는) 이 서버의 선반 이미지라 지울 수 없어요.", 409)
        return Forward("DELETE", f"{version}/images/{quote(local, safe='')}?noprune=0")
    params = parse_qs(query)
    wanted = (params.get("repo") or [""])[0]
    repository, tag = split(f"{wanted}:{(params.get('tag') or ['latest'])[0]}")
    if len(await own_tags(gate)) >= settings.SANDBOX_DOCKER_MAX_IMAGES * 2:
        raise policy.Refused(
            "이미지 태그가 너무 많아요. `docker rmi`로 지운 다음 다시 해 보세요.", 409
        )
    if shelf:  # a shelf image tagged as the student's: theirs to build FROM, never its labels
        raise policy.Refused(
            "선반 이미지에는 태그를 붙일 수 없어요. FROM으로 새 이미지를 만들어요.", 409
        )
    engine_repository, _, engine_tag = (await engine_name(gate, repository, tag)).rpartition(":")
    target = urlencode({"repo": engine_repository, "tag": engine_tag})
    return Forward("POST", f"{version}/images/{quote(local, safe='')}/tag?{target}")


# The engine reads a push's or pull's credentials from this header: none (the registry has no
# auth; see docker_registry).
NO_AUTH = (("X-Registry-Auth", base64.urlsafe_b64encode(b"{}").decode()),)


def _registry_only(reference: str) -> policy.Refused:
    return policy.Refused(
        f"{reference}: 이 서버의 레지스트리는 {docker_registry.SHOWN}이에요. "
        f"`docker tag myapp:v1 {IN_REGISTRY}myapp:v1` 다음 "
        f"`docker push {IN_REGISTRY}myapp:v1`로 올려요.",
    )


async def push(gate: Gate, reference: str, version: str, query: str) -> Forward | Answer:
    """`docker push localhost:5000/myapp:v1`: one of the student's own tags, to their path in
    the deployment's registry (the engine pushes; its progress is the student's to read)."""
    tag = (parse_qs(query).get("tag") or ["latest"])[0]
    repository, tag = split(f"{reference}:{tag}")
    if not repository.startswith(IN_REGISTRY):
        raise _registry_only(reference)
    if f"{repository}:{tag}" not in await own_tags(gate):
        message = f"An image does not exist locally with the tag: {reference}"
        return Answer(404, {"message": message})
    engine_repository, _, engine_tag = (await engine_name(gate, repository, tag)).rpartition(":")
    where = quote(engine_repository, safe="")
    target = f"{version}/images/{where}/push?{urlencode({'tag': engine_tag})}"
    return Forward("POST", target, headers=NO_AUTH)


async def pull(gate: Gate, reference: str, version: str) -> Forward:
    """`docker pull localhost:5000/myapp:v1`: from the student's path in the registry."""
    repository, tag = split(reference)
    engine_repository, _, engine_tag = (await engine_name(gate, repository, tag)).rpartition(":")
    query = urlencode({"fromImage": engine_repository, "tag": engine_tag})
    return Forward("POST", f"{version}/images/create?{query}", headers=NO_AUTH)


# --- docker build ---------------------------------------------------------------------------


def _context(body: bytes) -> dict[str, Entry]:
    """The build context's files, read from the CLI's tar within the caps; Refused otherwise."""
    if len(body) > MAX_CONTEXT_BYTES:
        raise policy.Refused(_too_big(), 413)
    # A plain tar only, as the CLI sends it without --compress: a compressed one could unpack to
    # far more than it weighs.
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as archive:
            return _files(archive)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise policy.Refused(
            "빌드 컨텍스트를 읽을 수 없어요 (--compress 없이 빌드해 보세요).", 400
        ) from error


@dataclass(frozen=True)
class Entry:
    """One entry of a build context, by its one clean path (posixpath.normpath): the engine
    cleans paths too, so two spellings of one path (`Dockerfile`, `./Dockerfile`, `a//b`)
    would be one file to it and two to a check that did not."""

    path: str
    mode: int
    mtime: float
    data: bytes | None  # None: a folder


def _files(archive: tarfile.TarFile) -> dict[str, Entry]:
    members = archive.getmembers()
    if len(members) > MAX_CONTEXT_FILES:
        raise policy.Refused(f"빌드 컨텍스트의 파일은 {MAX_CONTEXT_FILES}개까지예요.", 413)
    entries: dict[str, Entry] = {}
    total = 0
    for member in members:
        path = posixpath.normpath(member.name)
        if path == "." and member.isdir():
            continue  # the context's own folder
        if (
            path in {".", ""}
            or path.startswith(("/", "../"))
            or path == ".."
            or member.name.rstrip("/") not in {path, f"./{path}"}
        ):
            raise policy.Refused(f"빌드 컨텍스트의 경로 {member.name}은(는) 쓸 수 없어요.", 400)
        if path in entries:
            raise policy.Refused(f"빌드 컨텍스트에 {path}이(가) 두 번 있어요.", 400)
        if member.isdir():
            entries[path] = Entry(path, member.mode & 0o777, member.mtime, None)
            continue
        if not member.isfile():
            raise policy.Refused(
                f"빌드 컨텍스트의 {path}: 일반 파일과 폴더만 넣을 수 있어요 "
                "(링크·장치 파일은 안 돼요).",
                400,
            )
        total += member.size
        if total > MAX_CONTEXT_BYTES:
            raise policy.Refused(_too_big(), 413)
        extracted = archive.extractfile(member)
        data = extracted.read() if extracted else b""
        entries[path] = Entry(path, member.mode & 0o777, member.mtime, data)
    return entries


def _too_big() -> str:
    return (
        f"빌드 컨텍스트가 너무 커요 ({MAX_CONTEXT_BYTES // 1024} KiB까지). 필요 없는 파일은 "
        ".dockerignore에 적거나 빈 폴더에서 빌드해 보세요."
    )


def _rewritten(text: str, names: dict[str, str]) -> str:
    """The Dockerfile with each FROM naming the engine's image (`names`: the student's name →
    the engine's); an earlier stage stays as it is. A FROM must fit on its line and name its
    image without variables, so the line written is exactly the one judged."""
    lines = text.split("\n")
    stages: set[str] = set()
    for command in dockerfile.parse_string(text):
        if command.cmd.upper() == "COPY":
            for flag in command.flags:
                source = flag.partition("=")[2].lower()
                if flag.startswith("--from=") and source not in stages and not source.isdigit():
                    raise policy.Refused(
                        "COPY --from에는 앞 단계만 쓸 수 있어요 "
                        "(이미지에서 가져오려면 `FROM 이미지 AS 이름`으로 단계를 만들어요).",
                        400,
                    )
        if command.cmd.upper() != "FROM":
            continue
        words = list(command.value)
        if command.start_line != command.end_line or "$" in words[0]:
            raise policy.Refused(
                f"{command.start_line}번째 줄: 여기서는 FROM을 한 줄에, "
                "이미지 이름을 변수 없이 써요.",
                400,
            )
        base = words[0].strip("\"'")  # as the judge read it (it took the quotes away)
        if base.lower() not in stages:
            if base not in names:
                raise policy.Refused(
                    f"{command.start_line}번째 줄: FROM {base}을(를) 읽을 수 없어요.", 400
                )
            words[0] = names[base]
        if len(words) == 3:
            stages.add(words[2].lower())
        lines[command.start_line - 1] = "FROM " + " ".join(words)
    return "\n".join(lines)


async def build(gate: Gate, version: str, query: str, body: bytes) -> Forward:
    """`POST /build`: the context checked and the Dockerfile judged and rewritten here; the
    engine gets a context of the gate's making and the gate's options."""
    params = parse_qs(query)
    for option, values in params.items():
        if option in BUILD_OPTIONS or all(value in UNSET for value in values):
            continue
        if option == "version" and values == ["1"]:
            continue  # the classic builder (BuildKit's sessions are not on the allow-list)
        raise policy.Refused(f"docker build의 옵션 {option}은(는) 여기서 쓸 수 없어요.")
    entries = _context(body)
    where = posixpath.normpath((params.get("dockerfile") or ["Dockerfile"])[0])
    found = entries.get(where)
    if found is None or found.data is None:
        raise policy.Refused(f"빌드 컨텍스트에 {where}이(가) 없어요.", 400)
    if len(found.data) > MAX_DOCKERFILE_BYTES:
        raise policy.Refused(f"Dockerfile이 너무 커요({MAX_DOCKERFILE_BYTES}바이트까지).", 413)
    try:
        text = found.data.decode()
    except UnicodeDecodeError as error:
        raise policy.Refused("Dockerfile은 UTF-8 글이어야 해요.", 400) from error
    tags = [split(tag) for tag in params.get("t") or []]
    own = await own_tags(gate)
    async with gate.engine_calls:  # every image of theirs, tagged or not (`docker build .`)
        made = await asyncio.to_thread(engine.images_labelled, *gate.label_filters())
    if len(made) >= settings.SANDBOX_DOCKER_MAX_IMAGES:
        raise policy.Refused(
            f"이미지는 한 사람에 {settings.SANDBOX_DOCKER_MAX_IMAGES}개까지 둘 수 있어요. "
            "`docker images`로 보고 `docker rmi`로 지운 다음 다시 해 보세요.",
            409,
        )
    names = dict(policy.SHELF)
    names.update({f"{name}:latest": local for name, local in policy.SHELF.items()})
    for tag in own:
        names[tag] = await engine_name(gate, *split(tag))
        if tag.endswith(":latest"):
            names[tag.removesuffix(":latest")] = names[tag]
    given = _build_args((params.get("buildargs") or ["{}"])[0])
    try:
        dockerfile_rules.check(text, set(names), given)
        rewritten = _rewritten(text, names)
        dockerfile_rules.check(rewritten, set(names.values()), given)
    except dockerfile_rules.Refused as refused:
        raise policy.Refused(str(refused), 400) from refused
    except dockerfile.GoParseError as error:
        raise policy.Refused(f"Dockerfile을 읽을 수 없어요: {error}", 400) from error
    entries[where] = Entry(where, found.mode, found.mtime, rewritten.encode())
    context = _tar(entries)
    labels: dict[str, str] = {
        **policy.own_labels(json.loads((params.get("labels") or ["{}"])[0] or "{}")),
        **gate.labels(),
    }
    forwarded: dict[str, str | list[str]] = {
        "dockerfile": where,
        "t": [await engine_name(gate, repository, tag) for repository, tag in tags],
        "rm": "1",
        "forcerm": "1",
        "pull": "0",
        "networkmode": "none",
        "memory": str(BUILD_LIMITS["memory"]),
        "memswap": str(BUILD_LIMITS["memswap"]),
        "cpushares": str(BUILD_LIMITS["cpushares"]),
        "ulimits": json.dumps([{"Name": "fsize", "Soft": FILE_BYTES, "Hard": FILE_BYTES}]),
        # Its RUN steps' processes, together with every other build's: the engine's cgroup
        # parent, whose pids and memory limits prepare-machine set (engine.profile).
        "cgroupparent": gate_build_cgroup(gate),
        "labels": json.dumps(labels),
        "buildargs": json.dumps(given),
        **{key: params[key][0] for key in ("q", "nocache", "target") if key in params},
    }
    return Forward(
        "POST", f"{version}/build?{urlencode(forwarded, doseq=True)}", context, "application/x-tar"
    )


_builds: asyncio.Semaphore | None = None


def builds() -> asyncio.Semaphore:
    """The gates' builds at once, in this process (SANDBOX_DOCKER_BUILDS)."""
    global _builds
    if _builds is None:
        _builds = asyncio.Semaphore(settings.SANDBOX_DOCKER_BUILDS)
    return _builds


def past_deadline() -> bytes:
    """The line a build past its time limit ends with (its connection to the engine closes, and
    the build with it)."""
    message = f"배움: 빌드가 {settings.SANDBOX_BUILD_SECONDS}초를 넘어서 멈췄어요."
    return json.dumps({"error": message, "errorDetail": {"message": message}}).encode() + b"\n"


def gate_build_cgroup(gate: Gate) -> str:
    """This build's own cgroup, under the builds' parent whose limits it shares (kept on the
    gate, so what a cancelled build still runs can be found: end_build), or Refused where the
    limits are not set: a build's processes would otherwise have no pids limit (fail closed)."""
    if not engine.build_cgroup_ready():
        raise policy.Refused(
            "이 서버는 빌드의 프로세스 한도가 준비되지 않아서 빌드할 수 없어요 "
            "(관리자: bash scripts/prepare-machine.sh)."
        )
    gate.build_cgroup = f"{engine.BUILD_CGROUP}/{secrets.token_hex(8)}"
    return gate.build_cgroup


async def end_build(gate: Gate, cgroup: str | None) -> None:
    """After a build's stream ended, however it ended: what it still runs in its cgroup is
    killed (the engine goes on with a build whose client has gone, as one past its time limit
    is). In the background: the student's next build has a cgroup of its own."""
    if cgroup is not None:
        killed = await asyncio.to_thread(engine.end_build_steps, cgroup)
        if killed:
            log.info("docker gate of %s: %d step(s) of a cut build killed", gate.run_id, killed)


def _build_args(text: str) -> dict[str, str]:
    """`--build-arg NAME=value`: judged with the Dockerfile (the builder puts them in place of
    the ARGs' defaults), so only plain names and short values."""
    try:
        given = json.loads(text or "{}")
    except ValueError as error:
        raise policy.Refused("--build-arg를 읽을 수 없어요.", 400) from error
    if not isinstance(given, dict) or len(given) > 32:
        raise policy.Refused("--build-arg는 32개까지 쓸 수 있어요.", 400)
    checked = {}
    for name, value in given.items():
        if not dockerfile_rules.NAME.fullmatch(str(name)):
            raise policy.Refused(f"--build-arg {name}: 이름을 읽을 수 없어요.", 400)
        if value is None:
            continue  # `--build-arg NAME` with no NAME in the CLI's environment: unset
        if not isinstance(value, str) or len(value) > 1024:
            raise policy.Refused(f"--build-arg {name}: 값은 1024자까지의 글이어야 해요.", 400)
        checked[str(name)] = value
    return checked


def _tar(entries: dict[str, Entry]) -> bytes:
    """The context as the engine gets it: each clean path once, folders and plain files of uid 0
    (the builder gives COPY'd files uid 0 unless --chown says otherwise, as from any context)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for entry in entries.values():
            info = tarfile.TarInfo(entry.path)
            info.mtime, info.mode = entry.mtime, entry.mode
            if entry.data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
                continue
            info.size = len(entry.data)
            archive.addfile(info, io.BytesIO(entry.data))
    return buffer.getvalue()


HIDDEN_LABELS = 4  # the gate's labels (Gate.labels), each a LABEL step the builder adds
STEP = re.compile(r"^Step (\d+)/(\d+) : ")


def shown_stream(gate: Gate) -> Callable[[bytes], bytes]:
    """A build's progress as the student reads it: their names and the shelf's, and none of the
    LABEL steps the builder adds for the gate's labels (counted out of `Step n/N` too). The
    engine sends one JSON object a line; a line cut between two pieces waits for the next."""
    prefixes = [(engine.encode(), shown.encode()) for engine, shown in shown_prefixes(gate).items()]
    shelf = [(local.encode(), name.encode()) for name, local in policy.SHELF.items()]
    pending = bytearray()
    hiding = False

    def line_shown(line: bytes) -> bytes | None:
        nonlocal hiding
        try:
            message = json.loads(line)
        except ValueError:
            return line
        said = message.get("stream") if isinstance(message, dict) else None
        if isinstance(said, str):
            if step := STEP.match(said):
                hiding = said[step.end() :].startswith("LABEL baeum.")
                total = max(1, int(step[2]) - HIDDEN_LABELS)
                message["stream"] = f"Step {step[1]}/{total} : {said[step.end() :]}"
            elif said.startswith("Successfully"):
                hiding = False
            if hiding:
                return None
            line = json.dumps(message).encode()
        for local, name in [*prefixes, *shelf]:
            line = line.replace(local, name)
        return line

    def shown(chunk: bytes) -> bytes:
        pending.extend(chunk)
        *lines, rest = bytes(pending).split(b"\n")
        pending[:] = rest
        kept = [shown_line for line in lines if (shown_line := line_shown(line)) is not None]
        return b"".join(line + b"\n" for line in kept)

    return shown
