from django.urls import path

from sandbox.consumers import RunOutputConsumer

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/", RunOutputConsumer.as_asgi()),
]
