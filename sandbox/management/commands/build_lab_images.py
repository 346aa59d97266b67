from django.core.management.base import BaseCommand, CommandError

from sandbox import engine, images


class Command(BaseCommand):
    help = (
        "Build the lab images that exercises run in (FROM scratch around the host's static "
        "busybox; never pulled)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="skip images that exist and were built from what is here now",
        )

    def handle(self, *args, if_missing: bool, **options) -> None:
        if not engine.ping():
            hint = images.no_engine_hint("실습 이미지를 만들지 못했어요.")
            if not if_missing:
                raise CommandError(hint)
            # `make run` goes on: the lessons are served, and pressing 실행 says what is wrong.
            self.stderr.write(hint)
            return
        try:
            for tag in [*images.LAB_IMAGES, *images.service_images()]:
                if if_missing and images.up_to_date(tag):
                    self.stdout.write(f"{tag}: up to date")
                    continue
                base = images.build(tag)
                self.stdout.write(f"{tag}: built on {base}")
        except images.BuildError as error:
            raise CommandError(str(error)) from None
        except (engine.EngineUnavailable, engine.EngineError) as error:
            raise CommandError(f"Docker Engine: {error}") from None
