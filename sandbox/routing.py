from django.urls import path

from sandbox.build_consumer import BuildOutputConsumer
from sandbox.consumers import RunOutputConsumer
from sandbox.lab_consumer import LabConsumer
from sandbox.queue_consumer import QueueConsumer
from sandbox.terminal import TerminalConsumer, TerminalWatchConsumer

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/", RunOutputConsumer.as_asgi()),
    path("ws/queue/<uuid:key>/", QueueConsumer.as_asgi()),
    path("ws/builds/<uuid:build_id>/", BuildOutputConsumer.as_asgi()),
    path("ws/labs/", LabConsumer.as_asgi()),
    path("ws/terminal/", TerminalConsumer.as_asgi()),
    path("ws/terminal/<uuid:pk>/watch/", TerminalWatchConsumer.as_asgi()),
]
