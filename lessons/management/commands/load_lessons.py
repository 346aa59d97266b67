from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from lessons.catalogue import LessonError, catalogue
from lessons.rehoming import rehome_attempts


class Command(BaseCommand):
    help = "Load and validate every lesson file; a mistake names the file and line."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--minutes", action="store_true", help="each lesson's declared and estimated minutes"
        )

    def handle(self, *args, **options) -> None:
        try:
            lessons = catalogue()
        except LessonError as error:
            raise CommandError(str(error)) from None
        exercises = sum(len(lesson.exercises) for lesson in lessons.values())
        questions = sum(len(lesson.questions) for lesson in lessons.values())
        self.stdout.write(f"{len(lessons)} lessons, {exercises} exercises, {questions} questions")
        try:
            moved = rehome_attempts(lessons)
        except DatabaseError:  # not migrated yet (validating the files needs no database)
            moved = 0
        if moved:
            self.stdout.write(f"{moved} attempt(s) followed their block to its new lesson")
        if options["minutes"]:
            for lesson in lessons.values():
                self.stdout.write(
                    f"{lesson.slug}: declared {lesson.minutes}, estimated "
                    f"{lesson.estimated_minutes} ({lesson.prose_chars} characters of reading)"
                )
