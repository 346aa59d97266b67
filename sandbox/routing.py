from django.urls import path

from sandbox.consumers.builds import BuildOutputConsumer
from sandbox.consumers.labs import LabConsumer
from sandbox.consumers.queue import QueueConsumer
from sandbox.consumers.runs import RunOutputConsumer
from sandbox.consumers.terminal import TerminalConsumer, TerminalWatchConsumer

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/", RunOutputConsumer.as_asgi()),
    path("ws/queue/<uuid:key>/", QueueConsumer.as_asgi()),
    path("ws/builds/<uuid:build_id>/", BuildOutputConsumer.as_asgi()),
    path("ws/labs/", LabConsumer.as_asgi()),
    path("ws/terminal/", TerminalConsumer.as_asgi()),
    path("ws/terminal/<uuid:pk>/watch/", TerminalWatchConsumer.as_asgi()),
]
