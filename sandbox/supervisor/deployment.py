"""One supervisor per deployment. Two processes following the same deployment's containers would
each reap what the other holds (the reaper removes what no run *of this process* owns), so the
second one refuses to start, in words, and says how to run a deployment of its own instead.

A deployment is its database (settings.SANDBOX_NAMESPACE is derived from it): one machine's
processes meet at a lock file named after the namespace; a separate supervisor elsewhere is
seen by its heartbeat in Redis (sandbox/seam.py).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from django.conf import settings

_held: list[int] = []  # the lock lives as long as this process


class DeploymentTaken(RuntimeError):
    pass


def taken_message() -> str:
    return (
        f"배움: 이 배포(네임스페이스 {settings.SANDBOX_NAMESPACE})의 실습 서버가 이미 돌고 있어요. "
        "같은 데이터베이스를 쓰는 서버는 하나만 컨테이너를 맡을 수 있어요.\n"
        "  배포를 하나 더 띄우려면 데이터베이스를 따로 주세요: "
        "DATABASE_URL=sqlite:////srv/baeum-staging.sqlite3 make run PORT=8123"
    )


def lock_path() -> Path:
    return Path(tempfile.gettempdir()) / f"baeum-{settings.SANDBOX_NAMESPACE}.supervisor.lock"


def claim() -> None:
    """Become this deployment's supervisor on this machine, or raise DeploymentTaken."""
    if _held:
        return
    descriptor = os.open(lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise DeploymentTaken(taken_message()) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    _held.append(descriptor)
