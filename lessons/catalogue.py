"""Lesson files → Lesson objects.

A lesson is one Markdown file, `content/ko/<track>-<nn>-<slug>.md`: YAML front matter, then prose
with interactive blocks fenced as ```exercise or ```question whose body is YAML. Every block is
validated when the file loads; a mistake names the file and line.
"""

from __future__ import annotations

import functools
import html as html_module
import re
from pathlib import Path
from typing import Any

import markdown

from lessons.block_parsers import KINDS, MAX_COMMAND_BYTES, yaml_mapping
from lessons.blocks import (
    TRACKS,
    BuildExercise,
    Check,
    Exercise,
    Lesson,
    LessonError,
    OrchestraLab,
    Part,
    Question,
)

# What other modules take from here, besides the loader.
__all__ = [
    "MAX_COMMAND_BYTES",
    "TRACKS",
    "BuildExercise",
    "Check",
    "Exercise",
    "Lesson",
    "LessonError",
    "OrchestraLab",
    "Part",
    "Question",
    "by_track",
    "catalogue",
    "load_lesson",
]

CONTENT_DIR = Path(__file__).resolve().parent / "content" / "ko"


def _renderer() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "codehilite", "tables", "sane_lists", "attr_list"],
        extension_configs={"codehilite": {"css_class": "highlight", "guess_lang": False}},
    )


def load_lesson(path: Path) -> Lesson:
    text = path.read_text(encoding="utf-8")
    meta, body, body_line = _split_front_matter(path, text)
    parts: list[Part] = []
    # The Lesson's dicts of blocks by id, one per kind that has ids; ids are unique across them.
    collections: dict[str, Any] = {k.collection: {} for k in KINDS.values() if k.collection}
    first_used: dict[str, int] = {}
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
        if fence and not in_fence and fence.group(2) in KINDS:
            start = body_line + index
            end = _closing_fence(lines, index, fence.group(1), path, start)
            flush(prose)
            kind = KINDS[fence.group(2)]
            block = kind.parse(path, start, "\n".join(lines[index + 1 : end]))
            if kind.collection:
                block_id = block.id  # type: ignore[attr-defined]
                if block_id in first_used:
                    raise LessonError(
                        f"{path}:{start}: id {block_id!r}가 이 레슨에서 두 번 쓰였습니다 "
                        f"(처음: {first_used[block_id]}번째 줄)"
                    )
                first_used[block_id] = start
                collections[kind.collection][block_id] = block
            held: dict[str, Any] = {kind.part: block}  # the table pairs a kind with its field
            parts.append(Part(kind.part, **held))
            index = end + 1
            continue
        if fence:
            in_fence = not in_fence
        prose.append(line)
        index += 1
    flush(prose)
    return Lesson(
        slug=path.stem, parts=tuple(parts), prose_chars=prose_chars, **collections, **meta
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
    data = yaml_mapping(path, 1, match.group(1))
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
    return [(t, str(name), [ls for ls in lessons if ls.track == t]) for t, name in TRACKS.items()]
