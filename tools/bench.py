"""`make bench`: how fast a student's first output arrives, as ratios against the raw Docker
Engine measured in the same run on the same machine.

- raw `docker run`: the docker CLI running `echo` in the lab image, to its first output line;
- raw engine, hardened: create + attach + start through the API, to the first output byte
  (what the cold path must pay at the least);
- Baeum cold / warm: a signed-in browser's path through the whole stack — POST 실행, open the
  run's websocket, first output frame — against a live daphne server without and with the warm
  pool;
- the pool's memory cost, and the server's memory before and after an output flood;
- the docker CLI in a terminal, through its gate (tools/bench_docker.py);
- Kubernetes, when a cluster answers (tools/bench_kube.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
LESSON = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"  # editable: the bench sends its own command
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))


def _median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def raw_docker_cli() -> list[float]:
    docker = shutil.which("docker")
    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        process = subprocess.Popen(
            [docker, "run", "--rm", "--network", "none", "baeum/lab", "echo", "hi"],
            stdout=subprocess.PIPE,
        )
        process.stdout.readline()
        samples.append(time.perf_counter() - began)
        process.wait()
    return samples


def raw_engine_hardened() -> list[float]:
    from sandbox import engine

    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        container_id = engine.create_container(
            engine.ContainerSpec("baeum/lab", "echo hi", f"bench-{uuid.uuid4()}")
        )
        stream = engine.attach(container_id)
        engine.start(container_id)
        next(stream.chunks())
        samples.append(time.perf_counter() - began)
        stream.close()
        engine.remove(container_id)
    return samples


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, pool_size: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="baeum-bench-"))
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.folder / 'bench.sqlite3'}",
            "SANDBOX_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
            "SANDBOX_POOL_SIZE": str(pool_size),
            "SANDBOX_MAX_PER_USER": "50",
            "LOG_LEVEL": "WARNING",
        }

    def __enter__(self) -> LiveServer:
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)
        self.log = (self.folder / "daphne.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "website.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        subprocess.run(
            [sys.executable, "manage.py", "reap_sandboxes"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


class Student:
    """A signed-in browser, minus the rendering: HTTP with a session, and websockets."""

    def __init__(self, server: LiveServer) -> None:
        import requests

        self.server = server
        self.http = requests.Session()
        name = f"bench{uuid.uuid4().hex[:8]}"
        self.http.get(f"{server.base}/accounts/signup/")
        self.http.post(
            f"{server.base}/accounts/signup/",
            data={
                "username": name,
                "password1": "bench-passphrase-1",
                "password2": "bench-passphrase-1",
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
        ).raise_for_status()

    async def first_output(self, command: str, marker: str = "bench-2-output") -> float:
        import websockets

        url = f"{self.server.base}/lessons/{LESSON}/exercises/{EXERCISE}/run/"
        headers = {"X-CSRFToken": self.http.cookies["csrftoken"], "HX-Request": "true"}
        began = time.perf_counter()
        response = await asyncio.to_thread(
            self.http.post, url, data={"command": command}, headers=headers
        )
        run_id = re.search(r'ws-connect="/ws/runs/([0-9a-f-]+)/"', response.text).group(1)
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        async with websockets.connect(
            f"ws://127.0.0.1:{self.server.port}/ws/runs/{run_id}/",
            additional_headers={"Cookie": cookie, "Origin": self.server.base},
        ) as socket_:
            async for message in socket_:
                if marker in message and "hx-swap-oob" in message:
                    return time.perf_counter() - began
        raise RuntimeError("the run ended without output")


async def through_the_stack(server: LiveServer, pause: float) -> list[float]:
    student = Student(server)
    samples = []
    await student.first_output(
        "echo warm-up", marker="warm-up"
    )  # the first run also starts the pool
    await asyncio.sleep(1.5)
    for _ in range(ROUNDS):
        # A command that would print the marker only once it runs (not the echoed command).
        samples.append(await student.first_output("echo bench-$((1+1))-output"))
        await asyncio.sleep(pause)  # let the run end and, warm, the pool refill
    return samples


def pool_memory_mib(namespace: str) -> tuple[int, float]:
    """Containers the pool holds, and their memory: cgroup usage plus the shim's RSS."""
    from sandbox import engine

    containers = engine.labelled_containers(namespace)
    total = 0.0
    for container in containers:
        total += engine.memory_usage(container.id) / 2**20
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if container.id in (proc / "cmdline").read_text():
                    rss = re.search(r"VmRSS:\s+(\d+)", (proc / "status").read_text())
                    total += int(rss.group(1)) / 1024 if rss else 0
            except OSError:
                continue
    return len(containers), total


async def flood_memory(server: LiveServer) -> tuple[float, float]:
    import websockets

    student = Student(server)
    before = server.rss_mib()
    url = f"{server.base}/lessons/{LESSON}/exercises/my-hostname/run/"
    headers = {"X-CSRFToken": student.http.cookies["csrftoken"], "HX-Request": "true"}
    response = student.http.post(url, data={"command": "timeout 8 yes flood"}, headers=headers)
    run_id = re.search(r'ws-connect="/ws/runs/([0-9a-f-]+)/"', response.text).group(1)
    cookie = "; ".join(f"{k}={v}" for k, v in student.http.cookies.items())
    peak = before
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}/",
        additional_headers={"Cookie": cookie, "Origin": server.base},
        max_size=None,
    ) as socket_:
        async for _message in socket_:
            peak = max(peak, server.rss_mib())
    return before, peak


TERMINALS = int(os.environ.get("BENCH_TERMINALS", "20"))
BUILD_LESSON, BUILD_BLOCK = "docker-08-build-cache", "layer-cache-lab"

POPULATE_CLASS = """
from django.contrib.auth.models import Group, User
from lessons.catalogue import catalogue
from lessons.models import Attempt, Classroom
teacher = User.objects.create_user("benchprof", password="bench-passphrase-1")
teacher.groups.add(Group.objects.get_or_create(name="instructors")[0])
classroom = Classroom.objects.create(name="bench", join_code="BENCHCLS")
classroom.instructors.add(teacher)
students = User.objects.bulk_create([User(username=f"s{n:03d}") for n in range(200)])
classroom.students.add(*students)
lessons = list(catalogue().values())
Attempt.objects.bulk_create([
    Attempt(student=s, lesson=lessons[(n + k) % len(lessons)].slug,
            block=sorted(lessons[(n + k) % len(lessons)].questions or ["x"])[0],
            kind="question", passed=(n + k) % 3 != 0)
    for n, s in enumerate(students) for k in range(8)
])
print(classroom.pk)
"""


def dashboard_render(server: LiveServer) -> list[float]:
    """A class of 200 students over 15 lessons: the instructor's dashboard page, end to end."""
    import requests

    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", POPULATE_CLASS],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
    )
    pk = done.stdout.strip().splitlines()[-1]
    http = requests.Session()
    http.get(f"{server.base}/accounts/login/")
    http.post(
        f"{server.base}/accounts/login/",
        data={
            "username": "benchprof",
            "password": "bench-passphrase-1",
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
    ).raise_for_status()
    samples = []
    for _ in range(10):
        began = time.perf_counter()
        response = http.get(f"{server.base}/classes/{pk}/")
        response.raise_for_status()
        samples.append(time.perf_counter() - began)
    return samples


def _build_block():
    from lessons.catalogue import catalogue

    return catalogue()[BUILD_LESSON].builds[BUILD_BLOCK]


def raw_cached_build() -> list[float]:
    """`docker build` of the lesson's context on the raw engine, cache warm."""
    block = _build_block()
    folder = Path(tempfile.mkdtemp(prefix="baeum-bench-build-"))
    (folder / "Dockerfile").write_text(block.dockerfile)
    for name, content in block.files:
        (folder / name).write_text(content)
    command = [shutil.which("docker"), "build", "-q", "-t", "baeum-bench/raw", str(folder)]
    subprocess.run(command, check=True, capture_output=True)
    samples = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - began)
    subprocess.run([shutil.which("docker"), "rmi", "baeum-bench/raw"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
    return samples


async def through_the_build_lab(server: LiveServer) -> list[float]:
    """빌드 pressed in the page → the build's socket closes with the summary (cache warm)."""
    import websockets

    student = Student(server)
    url = f"{server.base}/lessons/{BUILD_LESSON}/builds/{BUILD_BLOCK}/"
    headers = {"X-CSRFToken": student.http.cookies["csrftoken"], "HX-Request": "true"}
    cookie = "; ".join(f"{k}={v}" for k, v in student.http.cookies.items())
    samples = []
    for _ in range(6):
        began = time.perf_counter()
        response = await asyncio.to_thread(student.http.post, url, headers=headers)
        build_id = re.search(r'ws-connect="/ws/builds/([0-9a-f-]+)/"', response.text).group(1)
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/ws/builds/{build_id}/",
            additional_headers={"Cookie": cookie, "Origin": server.base},
        ) as socket_:
            async for _message in socket_:
                pass
        samples.append(time.perf_counter() - began)
    return samples[1:]  # the first fills the cache


def raw_terminal() -> tuple[list[float], list[float]]:
    """The engine alone: a TTY shell container to its first byte, and keystroke echo."""
    from sandbox import engine
    from sandbox.supervisor import playgrounds

    opens, echoes = [], []
    for _ in range(5):
        began = time.perf_counter()
        spec = engine.ContainerSpec(
            "baeum/lab",
            playgrounds.SHELL,
            f"bench-{uuid.uuid4()}",
            tty=True,
            environment=playgrounds.ENVIRONMENT,
        )
        container_id = engine.create_container(spec)
        stream = engine.attach(container_id, True, True)
        engine.start(container_id)
        chunks = stream.chunks()
        seen = ""
        while "$ " not in seen:
            seen += next(chunks).decode(errors="replace")
        opens.append(time.perf_counter() - began)
        for key in "abcdefgh":
            began = time.perf_counter()
            stream.send(key.encode())
            while key not in next(chunks).decode(errors="replace"):
                pass
            echoes.append(time.perf_counter() - began)
        stream.close()
        engine.remove(container_id)
    return opens, echoes


async def through_the_terminal(server: LiveServer):
    """TERMINALS students open terminals at once; then one types while all stay open."""
    import json

    import websockets

    students = [Student(server) for _ in range(TERMINALS)]

    async def open_one(student):
        cookie = "; ".join(f"{k}={v}" for k, v in student.http.cookies.items())
        began = time.perf_counter()
        socket_ = await websockets.connect(
            f"ws://127.0.0.1:{server.port}/ws/terminal/",
            additional_headers={"Cookie": cookie, "Origin": server.base},
        )
        screen = ""
        while "$ " not in screen:
            message = json.loads(await socket_.recv())
            screen += message.get("data", "") + message.get("scrollback", "")
        return socket_, time.perf_counter() - began

    # One alone first (what a student sees in a quiet class), then the rest at once.
    first = await open_one(students[0])
    crowd = await asyncio.gather(*(open_one(s) for s in students[1:]))
    opened = [first, *crowd]
    sockets = [s for s, _ in opened]
    echoes = []
    typist = sockets[0]
    for key in "abcdefghijklmnopqrst":
        began = time.perf_counter()
        await typist.send(json.dumps({"type": "input", "data": key}))
        while True:
            message = json.loads(await typist.recv())
            if key in message.get("data", ""):
                break
        echoes.append(time.perf_counter() - began)
    for socket_ in sockets:
        await socket_.close()
    return [first[1]], [t for _, t in crowd], echoes


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
    # The bench's own containers are labelled apart, so no server's reaper takes them.
    os.environ["SANDBOX_NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}"
    django.setup()
    rows = []
    cli = _median_p95(raw_docker_cli())
    hardened = _median_p95(raw_engine_hardened())
    rows.append(("raw `docker run` (CLI), first line", cli))
    rows.append(("raw engine, hardened create+attach+start", hardened))
    with LiveServer(pool_size=0) as server:
        cold = _median_p95(asyncio.run(through_the_stack(server, pause=0.3)))
        flood = asyncio.run(flood_memory(server))
    rows.append(("Baeum cold: click → first output frame", cold))
    with LiveServer(pool_size=2) as server:
        warm = _median_p95(asyncio.run(through_the_stack(server, pause=1.0)))
        time.sleep(2)
        pooled, pool_mib = pool_memory_mib(server.env["SANDBOX_NAMESPACE"])
    rows.append(("Baeum warm (pool): click → first output frame", warm))
    raw_build = raw_cached_build()
    raw_open, raw_echo = raw_terminal()
    with LiveServer(pool_size=0) as server:
        alone_open, crowd_open, stack_echo = asyncio.run(through_the_terminal(server))
        stack_build = asyncio.run(through_the_build_lab(server))
        board = _median_p95(dashboard_render(server))

    print(f"\nFirst output, {ROUNDS} rounds each, concurrency 1 (ms)\n")
    print("| path | median | p95 | median ÷ raw docker run |")
    print("| --- | ---: | ---: | ---: |")
    for name, (median, p95) in rows:
        print(f"| {name} | {median * 1000:.0f} | {p95 * 1000:.0f} | {median / cli[0]:.2f} |")
    print(
        f"\nWarm pool: {pooled} containers waiting, {pool_mib:.1f} MiB in all "
        f"({pool_mib / max(pooled, 1):.1f} MiB each: cgroup usage + containerd shim RSS)"
    )
    print(
        f"Server RSS during an 8 s `yes` flood: {flood[0]:.0f} MiB before, "
        f"{flood[1]:.0f} MiB at the peak"
    )
    print(
        f"\nInstructor dashboard, 200 students × 15 lessons, full page over HTTP: "
        f"median {board[0] * 1000:.0f} ms, p95 {board[1] * 1000:.0f} ms"
    )
    raw_median, raw_p95 = _median_p95(raw_build)
    median, p95 = _median_p95(stack_build)
    print("\nImage build lab, cached rebuild of lesson 4's Dockerfile (ms)\n")
    print("| path | median | p95 | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| raw `docker build -q` (CLI) | {raw_median * 1000:.0f} | {raw_p95 * 1000:.0f} | 1.00 |"
    )
    print(
        f"| Baeum: 빌드 → summary on the socket | {median * 1000:.0f} | {p95 * 1000:.0f} "
        f"| {median / raw_median:.2f} |"
    )
    print(
        f"\nTerminal (ms): {TERMINALS} terminals opened at once, then keystrokes while all open\n"
    )
    print("| measure | raw engine median | Baeum median | Baeum p95 | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, raw, stack in (
        ("open → first prompt byte, one alone", raw_open, alone_open),
        (f"open → first prompt byte, {TERMINALS - 1} at once", raw_open, crowd_open),
        ("keystroke echo round trip", raw_echo, stack_echo),
    ):
        raw_median, _ = _median_p95(raw)
        median, p95 = _median_p95(stack)
        print(
            f"| {name} | {raw_median * 1000:.1f} | {median * 1000:.1f} | {p95 * 1000:.1f} "
            f"| {median / raw_median:.2f} |"
        )
    from tools import bench_docker, bench_kube  # here: they import this module's helpers

    bench_docker.section()
    bench_kube.section()


if __name__ == "__main__":
    main()
