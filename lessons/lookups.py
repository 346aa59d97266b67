"""A lesson's block named in a URL, or a 404 that says what was not found."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from lessons.catalogue import Lesson, catalogue


def block_or_404(slug: str, kind: str, block_id: str, missing: str) -> tuple[Lesson, Any]:
    """The lesson and its block of `kind` (an attribute of Lesson: "builds", "labs" …)."""
    lesson = catalogue().get(slug)
    block = getattr(lesson, kind).get(block_id) if lesson else None
    if lesson is None or block is None:
        raise Http404(missing)
    return lesson, block
