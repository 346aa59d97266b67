"""Classes: who teaches, who joins, and the live updates their dashboards receive."""

from __future__ import annotations

import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from lessons.models import Classroom

INSTRUCTORS_GROUP = "instructors"
# No 0/O, 1/I/L: codes are read aloud and typed by students. 8 characters from 31 give
# 31**8 ≈ 8.5e11 codes: not found by counting, and rotated on demand.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_join_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not Classroom.objects.filter(join_code=code).exists():
            return code


def normalize_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())[: CODE_LENGTH * 2]


def is_instructor(user) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_staff or user.groups.filter(name=INSTRUCTORS_GROUP).exists()


def teaches(user, classroom: Classroom) -> bool:
    return user.is_authenticated and classroom.instructors.filter(pk=user.pk).exists()


def taught_student(user, pk: int, student_id: int, refusal: str):
    """The student `student_id` of class `pk`, if `user` teaches that class: Http404 for a class
    or a student that is not there, PermissionDenied(`refusal`) for anyone else."""
    classroom = Classroom.objects.filter(pk=pk).first()
    if classroom is None:
        raise Http404
    if not teaches(user, classroom):
        raise PermissionDenied(refusal)
    student = classroom.students.filter(pk=student_id).first()
    if student is None:
        raise Http404
    return student


def teaches_student(user, student_id: int) -> bool:
    """Whether `user` teaches a class that `student_id` belongs to."""
    return (
        user.is_authenticated
        and Classroom.objects.filter(instructors=user, students=student_id).exists()
    )


def group_name(classroom_id: int) -> str:
    return f"class_{classroom_id}"


async def student_changed(student_id: int) -> None:
    """Tell the dashboards of every class the student is in that something changed."""
    layer = get_channel_layer()
    ids = [
        pk
        async for pk in Classroom.objects.filter(students=student_id).values_list("pk", flat=True)
    ]
    for pk in ids:
        await layer.group_send(group_name(pk), {"type": "class.changed"})


def student_changed_sync(student_id: int) -> None:
    async_to_sync(student_changed)(student_id)
