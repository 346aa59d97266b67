"""`make bench-load`: many students at once, against the single-process default and the
scaled-out shape (Redis, two web workers behind nginx, the supervisor on its own) on this
machine.

Each simulated student (tools/student_client.py: HTTP and websockets, as a browser) signs in,
opens a lesson, presses ▶ on an exercise and reads its output over the run's websocket until
the run ends. All of a level press at the same moment. A press refused over quota is an answer
(the page says so in words): the student presses again a second later, as a person would, and
the click-to-first-output time counts from the first press. Anything else — an HTTP error, a
socket that fails, a run whose output is wrong — is an error.

Reported per level: click-to-first-output p50/p95 (from the first press, and from the press that
was accepted), quota answers, errors, and the peak memory (RSS) of each process.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

LEVELS = [int(n) for n in os.environ.get("BENCH_LEVELS", "50,100,200").split(",")]
MODES = os.environ.get("BENCH_MODES", "single,scaled").split(",")
SLUG = "docker-01-what-is-a-container"
EXERCISE = "my-hostname"
COMMAND = 'for i in 1 2 3; do echo "$i: load"; sleep 0.3; done'
EXPECTED = "1: load\n2: load\n3: load\n"
SIGN_UPS_AT_ONCE = 6  # password hashing is deliberately slow: sign-ups are not what is timed
GIVE_UP_SECONDS = 240


@dataclass
class Outcome:
    from_first_press: float | None = None
    from_accepted_press: float | None = None
    quota_answers: int = 0
    error: str = ""


@dataclass
class Level:
    students: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    memory: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def percentiles(self, attribute: str) -> tuple[float, float]:
        values = sorted(getattr(o, attribute) for o in self.outcomes if not o.error)
        if not values:
            return float("nan"), float("nan")
        return statistics.median(values), values[min(len(values) - 1, int(0.95 * len(values)))]


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


async def _student_run(student, pressed: float) -> Outcome:
    from tools.student_client import StudentError

    outcome = Outcome()
    try:
        await student.open_lesson(SLUG)
        while True:
            accepted = time.monotonic()
            result = await student.press_run(SLUG, EXERCISE, COMMAND)
            if result.run_id:
                break
            outcome.quota_answers += 1
            if time.monotonic() - pressed > GIVE_UP_SECONDS:
                raise StudentError(f"still refused after {GIVE_UP_SECONDS} s: {result.refused}")
            await asyncio.sleep(1.0)
        result = await student.read_run(result, accepted, timeout=120)
        if result.text != EXPECTED:
            raise StudentError(f"wrong output {result.text[:40]!r} ({result.status})")
        outcome.from_accepted_press = result.first_output_seconds
        outcome.from_first_press = accepted - pressed + result.first_output_seconds
    except Exception as error:  # noqa: BLE001 — every failure is counted and named
        outcome.error = f"{type(error).__name__}: {error}"[:200]
    return outcome


async def _sign_up_all(base: str, count: int, prefix: str):
    from tools.student_client import Student

    students = [Student(base, f"{prefix}{i:03d}") for i in range(count)]
    gate = asyncio.Semaphore(SIGN_UPS_AT_ONCE)

    async def one(student):
        async with gate:
            await student.sign_up()

    await asyncio.gather(*(one(s) for s in students))
    return students


async def _levels(server, prefix: str) -> list[Level]:
    students = await _sign_up_all(server.url, max(LEVELS), prefix)
    levels = []
    try:
        for count in LEVELS:
            level = Level(count)
            with MemoryWatch(server.processes) as watch:
                began = time.monotonic()
                level.outcomes = await asyncio.gather(
                    *(_student_run(s, began) for s in students[:count])
                )
                level.seconds = time.monotonic() - began
            level.memory = dict(watch.peak)
            level.cpu = dict(watch.cpu)
            levels.append(level)
            _print_level(prefix, level)
            await asyncio.sleep(3)  # let the engine remove the last level's containers
    finally:
        for student in students:
            await student.close()
    return levels


def _print_level(mode: str, level: Level) -> None:
    p50, p95 = level.percentiles("from_first_press")
    a50, a95 = level.percentiles("from_accepted_press")
    errors = [o.error for o in level.outcomes if o.error]
    quota = sum(o.quota_answers for o in level.outcomes)
    memory = ", ".join(f"{name} {mib:.0f}" for name, mib in level.memory.items())
    print(
        f"| {mode} | {level.students} | {p50:.2f} / {p95:.2f} | {a50:.2f} / {a95:.2f} | "
        f"{quota} | {len(errors)} | {level.seconds:.0f} | {memory} |",
        flush=True,
    )
    cpu = ", ".join(f"{name} {seconds:.0f}" for name, seconds in level.cpu.items() if seconds >= 1)
    print(f"    CPU seconds: {cpu}", flush=True)
    for error in sorted(set(errors))[:5]:
        print(f"    error: {error}", file=sys.stderr, flush=True)


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    from tools.cluster import Cluster, SingleServer

    print(f"# bench-load, {os.cpu_count()} cores; levels {LEVELS}", flush=True)
    print(
        "| mode | students | first output p50 / p95 s (from first press) "
        "| p50 / p95 s (from accepted press) | quota answers | errors | seconds "
        "| peak RSS MiB per process |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, shape in (("single", SingleServer), ("scaled", Cluster)):
        if name not in MODES:
            continue
        server = shape().start()
        try:
            asyncio.run(_levels(server, name))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
