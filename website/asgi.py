import atexit
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
# Django first: it sets up the apps that the routing below imports.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from lessons.catalogue import catalogue  # noqa: E402
from sandbox import engine, images  # noqa: E402
from sandbox.supervisor import deployment, playgrounds  # noqa: E402
from sandbox.supervisor.reaper import (  # noqa: E402
    abandon_unfollowed_runs,
    reap_everywhere,
    recover_after_restart,
    start_background_reaper,
)
from sandbox.supervisor.state import SUPERVISED  # noqa: E402
from website.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": websocket_application(),
    }
)

# The single-process default follows runs inside the server, so the server also cleans up after
# a previous life of itself: runs it cannot follow are marked, orphaned containers reaped. Scaled
# out, that is the separate supervisor's work (manage.py sandbox_supervisor), and a web worker
# never talks to the Docker Engine.
if settings.SANDBOX_SUPERVISOR == "inside":
    try:
        deployment.claim()
    except deployment.DeploymentTaken as taken:
        sys.stderr.write(f"{taken}\n")
        raise SystemExit(2) from None
    abandon_unfollowed_runs()
    # Before the first reap: re-adopted terminals and labs are held, so it spares them.
    recover_after_restart()
    if engine.ping() or settings.SANDBOX_ENGINES:
        reap_everywhere(grace_seconds=0)
    else:
        # Said once, in words (not a traceback per call): the lessons are served all the same,
        # and pressing 실행 explains to the student; the background reaper tries again.
        hint = images.no_engine_hint("강의는 열리지만 실행·터미널·빌드는 엔진이 뜰 때까지 안 돼요.")
        sys.stderr.write(f"{hint}\n")
    # The reaper's thread is given the supervisor's state: all it reads of the loop's.
    start_background_reaper(settings.SANDBOX_REAP_SECONDS, SUPERVISED)
    # A clean stop (SIGTERM, Ctrl+C) saves every terminal's /work; the terminals themselves stay
    # up for the next start to re-adopt.
    atexit.register(playgrounds.save_all_blocking)
# Read the lessons now, not on the first student's request (about half a second).
catalogue()
