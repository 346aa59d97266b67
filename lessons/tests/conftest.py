"""Named people of the class tests: a teacher, another teacher (dana), and alice's class."""

import pytest
from django.contrib.auth.models import Group

from lessons.classes import INSTRUCTORS_GROUP
from lessons.models import Classroom


def make_instructor(django_user_model, username: str):
    user = django_user_model.objects.create_user(username, password="correct horse battery")
    user.groups.add(Group.objects.get_or_create(name=INSTRUCTORS_GROUP)[0])
    return user


@pytest.fixture
def teacher(django_user_model):
    return make_instructor(django_user_model, "teacher")


@pytest.fixture
def other_teacher(django_user_model):
    return make_instructor(django_user_model, "dana")


@pytest.fixture
def classroom(teacher, alice):
    classroom = Classroom.objects.create(name="도커 입문 1반", join_code="ABCDEFGH")
    classroom.instructors.add(teacher)
    classroom.students.add(alice)
    return classroom
