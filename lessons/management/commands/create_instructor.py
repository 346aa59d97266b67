import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from lessons.classes import INSTRUCTORS_GROUP


class Command(BaseCommand):
    help = (
        "Create (or promote) an instructor. "
        "The password comes from --password or $INSTRUCTOR_PASSWORD."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", default=os.environ.get("INSTRUCTOR_PASSWORD"))

    def handle(self, *args, username: str, password: str | None, **options) -> None:
        user, created = get_user_model().objects.get_or_create(username=username)
        if password:
            user.set_password(password)
            user.save()
        elif created:
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get_or_create(name=INSTRUCTORS_GROUP)[0])
        self.stdout.write(f"{'created' if created else 'promoted'} instructor {username}")
