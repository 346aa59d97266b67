from django.core.management.base import BaseCommand, CommandError

from lessons.catalogue import LessonError, catalogue


class Command(BaseCommand):
    help = "Load and validate every lesson file; a mistake names the file and line."

    def handle(self, *args, **options) -> None:
        try:
            lessons = catalogue()
        except LessonError as error:
            raise CommandError(str(error)) from None
        exercises = sum(len(lesson.exercises) for lesson in lessons.values())
        questions = sum(len(lesson.questions) for lesson in lessons.values())
        self.stdout.write(f"{len(lessons)} lessons, {exercises} exercises, {questions} questions")
