"""The scaled-out shape on one machine, for the tests, `make bench-load` and a look by hand:
Redis, two ASGI workers (daphne) behind nginx, and the sandbox supervisor as its own process.

    python -m tools.cluster        # starts it, prints the address, stops on Ctrl-C

The web workers get a Docker socket that does not exist (DOCKER_HOST=unix:///nonexistent), so
anything a worker tried to do with the engine itself would fail: only the supervisor has one.
The database is a file SQLite in the cluster's folder, or, when DATABASE_URL names PostgreSQL,
a fresh database of its own on that server (dropped on stop).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
NO_DOCKER = "unix:///nonexistent/docker.sock"
# Under a class's load a websocket handshake may wait its turn for the database: give it 30 s,
# not daphne's default 5 s (after which daphne drops the connection).
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "--websocket_connect_timeout", "30"]

NGINX_CONF = """
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {folder}/nginx-body;
  proxy_temp_path {folder}/nginx-proxy;
  fastcgi_temp_path {folder}/nginx-fastcgi;
  uwsgi_temp_path {folder}/nginx-uwsgi;
  scgi_temp_path {folder}/nginx-scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  # Uploads into a terminal's /work: SANDBOX_UPLOAD_BYTES and the form around it (nginx's own
  # default, 1m, would answer a bigger file with its own 413 page, in English). Passed on as it
  # comes, not buffered to a temporary file, which nginx's unprivileged workers could not write
  # in the test's folder (a 500 for any body over 16 KiB).
  client_max_body_size {body};
  proxy_request_buffering off;
  upstream baeum {{
    # A worker that stops answering is skipped at once; its sockets reconnect to the other.
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://baeum;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 3600s;
      proxy_next_upstream error timeout http_502;
      proxy_connect_timeout 2s;
    }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None, log: Path, seconds=30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{log.name} exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{log.name}: nothing answers on port {port}:\n{log.read_text()[-3000:]}")


class Cluster:
    def __init__(self, folder: Path | None = None, workers: int = 2, engines: str = "") -> None:
        self.folder = Path(folder or tempfile.mkdtemp(prefix="baeum-cluster-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.namespace = f"cluster-{uuid.uuid4().hex[:8]}"
        self.redis_port = free_port()
        self.worker_ports = [free_port() for _ in range(workers)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.engines = engines
        self.processes: dict[str, subprocess.Popen] = {}
        self._database_url, self._drop_database = self._database()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "website.settings",
            "DATABASE_URL": self._database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "SANDBOX_SUPERVISOR": "separate",
            "SANDBOX_NAMESPACE": self.namespace,
            "DJANGO_DEBUG": "false",
        }

    # Parts

    def _database(self) -> tuple[str, str | None]:
        given = os.environ.get("DATABASE_URL", "")
        if not given.startswith(("postgres://", "postgresql://")):
            return f"sqlite:///{self.folder / 'cluster.sqlite3'}", None
        import psycopg

        name = f"baeum_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(given, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(given)
        return urlunsplit(parts._replace(path=f"/{name}")), name

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        log = self.folder / f"{name}.log"
        with log.open("a") as out:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env or self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def start_redis(self) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server")
        process = self._spawn(
            "redis",
            [
                redis,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
        )
        wait_for_port(self.redis_port, process, self.folder / "redis.log")

    def start_worker(self, index: int) -> None:
        env = {**self.env, "DOCKER_HOST": NO_DOCKER}
        args = [*DAPHNE, "-p", str(self.worker_ports[index]), "website.asgi:application"]
        name = f"worker{index}"
        process = self._spawn(name, args, env)
        wait_for_port(self.worker_ports[index], process, self.folder / f"{name}.log")

    def start_supervisor(self) -> None:
        env = {**self.env, "SANDBOX_ENGINES": self.engines} if self.engines else self.env
        process = self._spawn(
            "supervisor", [sys.executable, "manage.py", "sandbox_supervisor"], env
        )
        self.wait_for_supervisor(process)

    def wait_for_supervisor(self, process: subprocess.Popen, seconds: float = 30) -> None:
        import redis

        client = redis.Redis(port=self.redis_port)
        key = f"baeum:{self.namespace}:supervisor"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the supervisor exited:\n{self.log('supervisor')[-3000:]}")
            if client.exists(key):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the supervisor did not start:\n{self.log('supervisor')[-3000:]}")

    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        servers = "\n".join(
            f"    server 127.0.0.1:{port} max_fails=0;" for port in self.worker_ports
        )
        conf = self.folder / "nginx.conf"
        body = int(os.environ.get("SANDBOX_UPLOAD_BYTES", 8 * 2**20)) + 2**20
        conf.write_text(
            NGINX_CONF.format(folder=self.folder, servers=servers, port=self.port, body=body)
        )
        process = self._spawn("nginx", [nginx, "-c", str(conf), "-g", "daemon off;"])
        wait_for_port(self.port, process, self.folder / "nginx.log")

    def manage(self, *args: str, docker: bool = True) -> str:
        env = self.env if docker else {**self.env, "DOCKER_HOST": NO_DOCKER}
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    # Whole

    def start(self) -> Cluster:
        try:
            self.manage("migrate", "--verbosity", "0")
            self.start_redis()
            self.start_supervisor()
            for index in range(len(self.worker_ports)):
                self.start_worker(index)
            self.start_nginx()
        except Exception:
            self.stop()
            raise
        return self

    def stop_process(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def stop(self) -> None:
        for name in ["nginx", *[n for n in self.processes if n.startswith("worker")]]:
            self.stop_process(name)
        self.stop_process("supervisor")
        # What the supervisor left (warm containers, a run cut short) goes as after any stop.
        subprocess.run(
            [sys.executable, "manage.py", "reap_sandboxes"],
            cwd=ROOT,
            env={**self.env, "REDIS_URL": "", "SANDBOX_SUPERVISOR": "inside"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.stop_process("redis")
        if self._drop_database:
            import psycopg

            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self._drop_database}" WITH (FORCE)')


class SingleServer(Cluster):
    """The default shape, for comparison: one daphne process that follows runs itself, the
    in-memory channel layer, a file SQLite database."""

    def __init__(self, folder: Path | None = None, database: Path | None = None) -> None:
        """`database` given: the deployment is that database, and its namespace is derived
        from it as a real deployment's is (website/settings.py)."""
        super().__init__(folder, workers=1)
        self.env.update(
            REDIS_URL="",
            SANDBOX_SUPERVISOR="inside",
            DATABASE_URL=f"sqlite:///{database or self.folder / 'single.sqlite3'}",
        )
        if database is not None:
            del self.env["SANDBOX_NAMESPACE"]
            self.namespace = self.manage(
                "shell", "-c", "from django.conf import settings; print(settings.SANDBOX_NAMESPACE)"
            ).split()[-1]
        self.url = f"http://127.0.0.1:{self.worker_ports[0]}"

    def start(self) -> SingleServer:
        try:
            self.manage("migrate", "--verbosity", "0")
            args = [*DAPHNE, "-p", str(self.worker_ports[0]), "website.asgi:application"]
            process = self._spawn("worker0", args)
            wait_for_port(self.worker_ports[0], process, self.folder / "worker0.log")
        except Exception:
            self.stop()
            raise
        return self


def main() -> None:
    cluster = Cluster().start()
    print(f"배움 (scaled out): {cluster.url}  — logs in {cluster.folder}", flush=True)
    signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        signal.sigwait(signals)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
