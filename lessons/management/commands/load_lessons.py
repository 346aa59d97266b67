from django.core.management.base import BaseCommand, CommandError

from lessons.catalogue import LessonError, catalogue


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
        if options["minutes"]:
            for lesson in lessons.values():
                self.stdout.write(
                    f"{lesson.slug}: declared {lesson.minutes}, estimated "
                    f"{lesson.estimated_minutes} ({lesson.prose_chars} characters of reading)"
                )
