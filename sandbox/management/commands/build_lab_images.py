from django.core.management.base import BaseCommand, CommandError

from sandbox import engine, images


class Command(BaseCommand):
    help = (
        "Build the lab images that exercises run in "
        "(offline: FROM scratch around the host's static busybox)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--if-missing", action="store_true", help="skip images that exist already"
        )
        parser.add_argument(
            "--offline", action="store_true", help="do not try to pull a base image"
        )

    def handle(self, *args, if_missing: bool, offline: bool, **options) -> None:
        if not engine.ping():
            hint = images.no_engine_hint("실습 이미지를 만들지 못했어요.")
            if not if_missing:
                raise CommandError(hint)
            # `make run` goes on: the lessons are served, and pressing 실행 says what is wrong.
            self.stderr.write(hint)
            return
        try:
            for tag in images.LAB_IMAGES:
                if if_missing and engine.image_exists(tag):
                    self.stdout.write(f"{tag}: already built")
                    continue
                base = images.build(tag, offline=True if offline else None)
                self.stdout.write(f"{tag}: built on {base}")
        except images.BuildError as error:
            raise CommandError(str(error)) from None
        except (engine.EngineUnavailable, engine.EngineError) as error:
            raise CommandError(f"Docker Engine: {error}") from None
