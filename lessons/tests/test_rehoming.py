import pytest

from lessons.catalogue import catalogue
from lessons.models import Attempt
from lessons.rehoming import rehome_attempts

pytestmark = pytest.mark.django_db


def test_attempts_follow_a_block_that_moved_to_another_lesson(alice):
    lessons = catalogue()
    slug, lesson = next((s, ls) for s, ls in lessons.items() if ls.exercises)
    block = next(iter(lesson.exercises))
    moved = Attempt.objects.create(
        student=alice, lesson="docker-99-old-name", block=block, kind="exercise", passed=True
    )
    kept = Attempt.objects.create(
        student=alice, lesson=slug, block=block, kind="exercise", passed=False
    )
    gone = Attempt.objects.create(
        student=alice,
        lesson="docker-99-old-name",
        block="no-such-block",
        kind="exercise",
        passed=True,
    )
    assert rehome_attempts(lessons) == 1
    assert rehome_attempts(lessons) == 0  # idempotent
    moved.refresh_from_db(), kept.refresh_from_db(), gone.refresh_from_db()
    assert (moved.lesson, kept.lesson, gone.lesson) == (slug, slug, "docker-99-old-name")
