"""Progress survives a lesson being split, merged or renamed: attempts name a lesson by slug and
a block by id, so when a block moves to another lesson (or its lesson gets a new slug), its
attempts follow it to the one lesson that now holds a block of that id. Attempts of a block that
is gone altogether stay as they are (the dashboard's history keeps them)."""

from __future__ import annotations

from collections import defaultdict

from lessons.catalogue import Lesson, catalogue
from lessons.models import Attempt
from lessons.progress import blocks_of


def rehome_attempts(lessons: dict[str, Lesson] | None = None) -> int:
    """Move attempts whose (lesson, block) no longer exists to the lesson now holding that block
    id, when exactly one does. Idempotent; returns how many attempts moved."""
    lessons = lessons if lessons is not None else catalogue()
    holders: dict[str, list[str]] = defaultdict(list)
    for slug, lesson in lessons.items():
        for block_id in blocks_of(lesson):
            holders[block_id].append(slug)
    moved = 0
    pairs = Attempt.objects.values_list("lesson", "block").distinct()
    for slug, block_id in list(pairs):
        if slug in lessons and block_id in blocks_of(lessons[slug]):
            continue
        if len(holders.get(block_id, [])) == 1:
            moved += Attempt.objects.filter(lesson=slug, block=block_id).update(
                lesson=holders[block_id][0]
            )
    return moved
