from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from lessons.classes import is_instructor, new_join_code
from lessons.models import Classroom


class Command(BaseCommand):
    help = "Create a class taught by an instructor; prints its join code."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--instructor", required=True)

    def handle(self, *args, name: str, instructor: str, **options) -> None:
        user = get_user_model().objects.filter(username=instructor).first()
        if user is None or not is_instructor(user):
            raise CommandError(f"{instructor} is not an instructor (see create_instructor)")
        classroom = Classroom.objects.create(name=name, join_code=new_join_code())
        classroom.instructors.add(user)
        self.stdout.write(f"class {classroom.pk} «{name}»: join code {classroom.join_code}")
