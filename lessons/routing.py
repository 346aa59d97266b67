from django.urls import path

from lessons.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/classes/<int:pk>/", DashboardConsumer.as_asgi()),
]
