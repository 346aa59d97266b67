"""A raw connection to the engine's API, for the Docker gate (sandbox/supervisor/docker_gate.py):
the gate relays a student's docker CLI over it, one checked HTTP request at a time, so the CLI
gets the engine's own answers (and streams) while it never reaches the engine itself."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

from django.conf import settings

from sandbox.engine.client import endpoint
from sandbox.errors import EngineUnavailable

API_VERSION = "1.41"  # the engine's (Debian's 20.10); the gate allows this version and the CLI's


async def open_api() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A new connection to the current engine's API (unix socket or TCP, as DOCKER_HOST says)."""
    url = endpoint() or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    parts = urlsplit(url)
    seconds = settings.DOCKER_TIMEOUT_SECONDS
    try:
        if parts.scheme == "unix":
            return await asyncio.wait_for(asyncio.open_unix_connection(parts.path), seconds)
        if parts.scheme in {"tcp", "http"} and parts.hostname:
            opened = asyncio.open_connection(parts.hostname, parts.port or 2375)
            return await asyncio.wait_for(opened, seconds)
    except (OSError, TimeoutError) as error:
        raise EngineUnavailable(str(error) or "the engine did not answer") from error
    raise EngineUnavailable(f"the gate cannot reach an engine at {url}")
