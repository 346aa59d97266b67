"""The shelf: the images a student's `docker run NAME` finds on an engine that reaches no
registry, by the name they type, and the local image each one is.

`busybox` is the lab image (sandbox/images.py); the others are built from Debian 12's packages by
`make shelf` (scripts/build-shelf.sh: mmdebstrap, then `docker import`). Every one of them runs
under the hardening profile as it is (engine/profile.py: read-only root, uid 1000:1000, no
capabilities, no-new-privileges, tmpfs at /tmp and /work, the pids and memory limits): what
each needs of it is said beside it. Pure: no engine, no settings.
"""

from __future__ import annotations

SHELF: dict[str, str] = {
    # Static busybox: writes nothing of its own; the lessons' shell and wget.
    "busybox": "baeum/lab:latest",
    # Debian 12 (bookworm), minbase: `bash` by default; writes nothing of its own.
    "debian": "baeum/shelf-debian:latest",
    # Debian's nginx 1.22 on port 8080 (uid 1000 without capabilities cannot bind below 1024):
    # its pid file and every temp path (client body, proxy, fastcgi, uwsgi, scgi) in /tmp, logs
    # to stdout/stderr, the welcome page in /usr/share/nginx/html; `nginx -g 'daemon off;'`.
    "nginx": "baeum/shelf-nginx:latest",
    # Debian's Redis 7.0 (redis-server, redis-cli) on 6379, with no config file:
    # `--bind 0.0.0.0 --protected-mode no` so the network's other containers reach it, and
    # `--dir /tmp` for its dump (nothing is needed to start; the data go with the container).
    "redis": "baeum/shelf-redis:latest",
    # Debian's Python 3.11 with the whole standard library; `python` is `python3`. Writes only
    # where the student's code does (/work, /tmp): the read-only root keeps its bytecode as built.
    "python": "baeum/shelf-python:latest",
}
