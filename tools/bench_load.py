"""`make bench-load`: what a class sees when everyone presses 실행 within one second, against the
raw engine in the same run, in the single-process default and in the scaled-out shape (Redis,
two web workers behind nginx, the supervisor on its own) on this machine.

Each simulated student (tools/student_client.py: HTTP and websockets, as a browser) signs in,
opens a lesson and, at a random moment within the same second as the others, presses ▶ on an
exercise and reads its output over the run's websocket until the run ends. A press that finds the
server full waits in the run queue, as the page does. Measured per student: the time from the
press to the first output line. Counted: refusals (a press answered in words instead of a run),
errors (an HTTP error, a socket that fails, output that is wrong) and students who never got
output; all three must be 0.

Each level of N students runs twice on the same server, started with no warm container at all
(SANDBOX_POOL_SIZE=0): cold, then as a warmed class (an instructor pressed 수업 시작 on the class
dashboard and the warm pool filled; sandbox/supervisor/warmup.py). Beside them, in the same run,
the raw
engine: N hardened containers of the same command through the docker SDK (create, attach, start,
first output byte, wait, remove), pressed within one second, at most SANDBOX_MAX_TOTAL at a time
(the server's own limit). Reported: p50/p95 of both, their ratio, and each process's peak memory.

    BENCH_LEVELS=30,100 BENCH_MODES=single make bench-load
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

LEVELS = [int(n) for n in os.environ.get("BENCH_LEVELS", "30,100,200").split(",")]
MODES = os.environ.get("BENCH_MODES", "single,scaled").split(",")
SLUG = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"
COMMAND = 'for i in 1 2 3; do echo "$i: load"; sleep 0.3; done'
EXPECTED = "1: load\n2: load\n3: load\n"
SIGN_UPS_AT_ONCE = 6  # password hashing is deliberately slow: sign-ups are not what is timed
PRESS_WITHIN_SECONDS = 1.0
INSTRUCTOR = "bench-prof"
READY = re.compile(r'<dd id="warm-ready">(\d+)개')
TARGET = re.compile(r"미리 준비할 컨테이너 (\d+)개")
SERVER_LIMIT = re.compile(r"≤ (\d+)개")


@dataclass
class Outcome:
    first_line: float | None = None  # seconds from the press to the first output line
    refused: str = ""
    error: str = ""


@dataclass
class Level:
    students: int
    pool: str  # "cold" or "warm"
    outcomes: list[Outcome] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)  # the raw engine's first byte, same N
    seconds: float = 0.0
    memory: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def percentiles(self) -> tuple[float, float]:
        return _p50_p95([o.first_line for o in self.outcomes if o.first_line is not None])

    def no_output(self) -> int:
        return sum(o.first_line is None for o in self.outcomes)


def _p50_p95(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    if not values:
        return float("nan"), float("nan")
    return statistics.median(values), values[
        min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)
    ]


class MemoryWatch:
    """Peak RSS per named process (with its children: nginx's workers), sampled twice a second,
    and CPU seconds used while watching, for these and for the engine and PostgreSQL."""

    def __init__(self, processes: dict) -> None:
        self.pids = {name: process.pid for name, process in processes.items()}
        self.peak: dict[str, float] = dict.fromkeys(self.pids, 0.0)
        self.cpu: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _cpu_now(self) -> dict[str, float]:
        found = {name: _tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        for name in ("dockerd", "containerd", "postgres"):
            found[name] = sum(_cpu_seconds(pid) for pid in _pids_named(name))
        return found

    def __enter__(self) -> MemoryWatch:
        self.cpu_before = self._cpu_now()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        after = self._cpu_now()
        self.cpu = {name: after[name] - self.cpu_before.get(name, 0.0) for name in after}

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], _tree_rss_mib(pid))


def _tree_rss_mib(pid: int) -> float:
    total = 0.0
    for one in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue
        if found := re.search(r"VmRSS:\s+(\d+)", status):
            total += int(found.group(1)) / 1024
    return total


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _tree_cpu_seconds(pid: int) -> float:
    return sum(_cpu_seconds(one) for one in [pid, *_children(pid)])


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


async def _student_run(student, began: float, offset: float) -> Outcome:
    from tools.student_client import StudentError

    outcome = Outcome()
    await asyncio.sleep(max(0.0, began + offset - time.monotonic()))
    pressed = time.monotonic()
    try:
        result = await student.press_run(SLUG, EXERCISE, COMMAND)
        if not result.run_id:
            outcome.refused = result.refused
            return outcome
        result = await student.read_run(result, pressed, timeout=300)
        if result.text != EXPECTED:
            raise StudentError(f"wrong output {result.text[:40]!r} ({result.status})")
        outcome.first_line = result.first_output_seconds
    except Exception as error:  # noqa: BLE001 — every failure is counted and named
        outcome.error = f"{type(error).__name__}: {error}"[:200]
    return outcome


def _raw_container(command: str) -> float:
    """One hardened container through the docker SDK, as a run makes it; returns when its first
    output byte arrived (monotonic)."""
    from sandbox import engine

    container_id = engine.create_container(
        engine.ContainerSpec("baeum/lab", command, f"bench-{uuid.uuid4().hex[:12]}")
    )
    try:
        stream = engine.attach(container_id)
        engine.start(container_id)
        chunks = stream.chunks()
        next(chunks)
        first = time.monotonic()
        for _chunk in chunks:
            pass
        stream.close()
        engine.wait(container_id, 60)
    finally:
        engine.remove(container_id)
    return first


async def _raw_level(count: int, offsets: list[float]) -> list[float]:
    """The same N containers, pressed within one second, at most SANDBOX_MAX_TOTAL at a time."""
    from django.conf import settings

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(settings.SANDBOX_MAX_TOTAL) as engine_slots:

        async def one(offset: float) -> float:
            await asyncio.sleep(max(0.0, began + offset - time.monotonic()))
            pressed = time.monotonic()
            return await loop.run_in_executor(engine_slots, _raw_container, COMMAND) - pressed

        began = time.monotonic()
        return list(await asyncio.gather(*(one(offset) for offset in offsets[:count])))


async def _sign_up_all(base: str, count: int, prefix: str):
    from tools.student_client import Student

    students = [Student(base, f"{prefix}{i:03d}") for i in range(count)]
    gate = asyncio.Semaphore(SIGN_UPS_AT_ONCE)

    async def one(student):
        async with gate:
            await student.sign_up()

    await asyncio.gather(*(one(s) for s in students))
    return students


class Classroom:
    """The bench's class: an instructor, every simulated student joined, and 수업 시작."""

    def __init__(self, server, students) -> None:
        from tools.student_client import PASSWORD, Student

        server.manage("create_instructor", INSTRUCTOR, "--password", PASSWORD)
        out = server.manage("create_class", "부하 측정반", "--instructor", INSTRUCTOR)
        self.pk = int(re.search(r"class (\d+)", out).group(1))
        names = [student.username for student in students]
        server.manage("shell", "-c", JOIN.format(pk=self.pk, names=names))
        self.instructor = Student(server.url, INSTRUCTOR)

    async def warm(self, timeout: float = 180) -> int:
        """Press 수업 시작, then wait until the pool holds what the panel says it will."""
        await self.instructor.sign_in()
        response = await self.instructor.http.post(
            f"/classes/{self.pk}/warm/start/",
            headers={
                "X-CSRFToken": self.instructor.http.cookies.get("csrftoken", ""),
                "HX-Request": "true",
                "Referer": f"{self.instructor.base}/classes/{self.pk}/",
            },
        )
        response.raise_for_status()
        return await self.filled(timeout)

    async def filled(self, timeout: float = 180) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            panel = (await self.instructor.http.get(f"/classes/{self.pk}/warm/")).text
            ready, target = READY.search(panel), TARGET.search(panel)
            limit = SERVER_LIMIT.search(panel)
            settled = ready and target and limit and "준비하는 중" not in panel
            if settled and int(ready.group(1)) >= min(int(target.group(1)), int(limit.group(1))):
                return int(ready.group(1))
            await asyncio.sleep(0.5)
        raise RuntimeError(f"the warm pool did not fill within {timeout} s:\n{panel[:2000]}")

    async def close(self) -> None:
        await self.instructor.close()


JOIN = """
from django.contrib.auth import get_user_model
from lessons.models import Classroom
Classroom.objects.get(pk={pk}).students.add(*get_user_model().objects.filter(username__in={names}))
"""


async def _press_level(server, students, level: Level, offsets: list[float]) -> Level:
    with MemoryWatch(server.processes) as watch:
        began = time.monotonic()
        level.outcomes = await asyncio.gather(
            *(_student_run(s, began, offset) for s, offset in zip(students, offsets, strict=False))
        )
        level.seconds = time.monotonic() - began
    level.memory, level.cpu = dict(watch.peak), dict(watch.cpu)
    return level


async def _levels(server, mode: str) -> list[Level]:
    students = await _sign_up_all(server.url, max(LEVELS), mode)
    for student in students:
        await student.open_lesson(SLUG)
    classroom = Classroom(server, students)
    # The server's first run opens its connections and threads: not what a class sees.
    await _student_run(students[0], time.monotonic(), 0.0)
    levels = []
    try:
        raws = {}
        for count in LEVELS:  # cold: nothing warm, the raw engine beside it
            offsets = [random.uniform(0, PRESS_WITHIN_SECONDS) for _ in range(count)]
            raws[count] = await _raw_level(count, offsets)
            await asyncio.sleep(2)
            level = await _press_level(server, students[:count], Level(count, "cold"), offsets)
            level.raw = raws[count]
            levels.append(level)
            _print_level(mode, level)
            await asyncio.sleep(3)  # let the engine remove the last level's containers
        warm = await classroom.warm()
        print(f"    수업 시작: {warm} warm containers ready", flush=True)
        for count in LEVELS:
            await classroom.filled()
            offsets = [random.uniform(0, PRESS_WITHIN_SECONDS) for _ in range(count)]
            level = await _press_level(server, students[:count], Level(count, "warm"), offsets)
            level.raw = raws[count]
            levels.append(level)
            _print_level(mode, level)
            await asyncio.sleep(3)
    finally:
        await classroom.close()
        for student in students:
            await student.close()
    return levels


def _print_level(mode: str, level: Level) -> None:
    p50, p95 = level.percentiles()
    r50, r95 = _p50_p95(level.raw)
    errors = [o.error for o in level.outcomes if o.error]
    refused = [o.refused for o in level.outcomes if o.refused]
    memory = ", ".join(f"{name} {mib:.0f}" for name, mib in level.memory.items())
    print(
        f"| {mode} | {level.pool} | {level.students} | {p50:.2f} / {p95:.2f} | "
        f"{r50:.2f} / {r95:.2f} | {p50 / r50:.2f} / {p95 / r95:.2f} | {len(refused)} | "
        f"{len(errors)} | {level.no_output()} | {level.seconds:.0f} | {memory} |",
        flush=True,
    )
    cpu = ", ".join(f"{name} {seconds:.0f}" for name, seconds in level.cpu.items() if seconds >= 1)
    print(f"    CPU seconds: {cpu}", flush=True)
    for problem in sorted(set(errors + refused))[:5]:
        print(f"    problem: {problem}", file=sys.stderr, flush=True)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    from tools.cluster import Cluster, SingleServer

    print(f"# bench-load, {os.cpu_count()} cores; levels {LEVELS}", flush=True)
    print(
        "| shape | pool | students | first line p50 / p95 s | raw engine first byte p50 / p95 s "
        "| ÷ raw p50 / p95 | refused | errors | no output | seconds | peak RSS MiB per process |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, shape in (("single", SingleServer), ("scaled", Cluster)):
        if name not in MODES:
            continue
        server = shape()
        server.env["SANDBOX_POOL_SIZE"] = "0"  # cold means cold: warm only when the class is
        server.start()
        print(f"    {name}: logs and database in {server.folder}", flush=True)
        try:
            asyncio.run(_levels(server, name))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
