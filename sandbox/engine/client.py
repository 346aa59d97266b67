"""Which engine a call goes to, the cached SDK clients, and `call`: the one way this package
talks to the engine, turning the SDK's errors into EngineError (it answered, but refused) and
EngineUnavailable (it cannot be reached).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import requests
from django.conf import settings
from docker.errors import APIError, DockerException

from sandbox.errors import EngineError, EngineUnavailable

# Which engine this call goes to: "" is the one DOCKER_HOST names (the default); a run on one of
# several hosts (SANDBOX_ENGINES, see sandbox/supervisor/hosts.py) sets its host's URL for its
# whole task,
# and worker threads started with asyncio.to_thread inherit it.
_ENDPOINT: contextvars.ContextVar[str] = contextvars.ContextVar("engine_endpoint", default="")


@contextmanager
def use(endpoint: str) -> Iterator[None]:
    """Send the engine calls made inside this block to `endpoint` ("" for the default)."""
    token = _ENDPOINT.set(endpoint)
    try:
        yield
    finally:
        _ENDPOINT.reset(token)


def bind(endpoint: str) -> None:
    """Send the rest of the current asyncio task's engine calls to `endpoint`."""
    _ENDPOINT.set(endpoint)


def endpoint() -> str:
    return _ENDPOINT.get()


@functools.cache
def _client_for(endpoint: str) -> docker.DockerClient:
    # As many connections as threads may call at once (sandbox/supervisor/engine_threads.py).
    options = {"timeout": settings.DOCKER_TIMEOUT_SECONDS, "max_pool_size": _pool_size()}
    if endpoint:
        return docker.DockerClient(base_url=endpoint, version="auto", **options)
    # DOCKER_HOST and friends come from the environment, as for the docker CLI.
    return docker.from_env(version="auto", **options)


def _pool_size() -> int:
    return max(10, settings.SANDBOX_ENGINE_THREADS)


def _client() -> docker.DockerClient:
    return _client_for(_ENDPOINT.get())


def forget_client() -> None:
    """Drop the cached clients, e.g. after an engine restarted or DOCKER_HOST changed."""
    _client_for.cache_clear()


@contextmanager
def call() -> Iterator[docker.DockerClient]:
    try:
        yield _client()
    except APIError as error:
        raise EngineError(error.explanation or str(error)) from error
    except (DockerException, requests.exceptions.RequestException, OSError) as error:
        forget_client()
        raise EngineUnavailable(str(error)) from error


def ping() -> bool:
    try:
        with call() as client:
            return bool(client.ping())
    except (EngineUnavailable, EngineError):
        return False
