"""Websocket routes, shared by the server (asgi.py) and the tests."""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from lessons.routing import websocket_urlpatterns as lesson_routes
from sandbox.routing import websocket_urlpatterns as sandbox_routes


def websocket_application():
    routes = URLRouter([*sandbox_routes, *lesson_routes])
    return AllowedHostsOriginValidator(AuthMiddlewareStack(routes))
