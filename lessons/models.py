from django.conf import settings
from django.db import models


class Attempt(models.Model):
    """One try at an exercise (a run) or a question (an answer), and whether it passed.

    Lessons live in files, so attempts name them by their stable slug and block id.
    """

    class Kind(models.TextChoices):
        EXERCISE = "exercise", "실습"
        QUESTION = "question", "질문"
        CHECK = "check", "터미널 확인"

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts"
    )
    lesson = models.CharField(max_length=100)
    block = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    passed = models.BooleanField()
    # Why it did not pass, in words for the student; empty when it passed.
    reason = models.TextField(blank=True)
    answer = models.CharField(max_length=200, blank=True)
    run = models.OneToOneField(
        "sandbox.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="attempt"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["student", "lesson", "block"])]

    def __str__(self) -> str:
        verdict = "통과" if self.passed else "미통과"
        return f"{self.student} {self.lesson}/{self.block} {verdict}"


class Classroom(models.Model):
    """A class (cohort): its instructors see its students' progress and runs, live."""

    name = models.CharField(max_length=100)
    # Short, typed by students, never guessable by counting (see classes.new_join_code).
    join_code = models.CharField(max_length=16, unique=True)
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teaching")
    students = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="classrooms", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
