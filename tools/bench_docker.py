"""`make bench`, the docker CLI in a terminal (issue 15): what the gate adds, against the raw
engine in the same run on the same machine.

- `docker run --rm busybox echo hi` typed in a terminal (run there through `exec`, as the
  student's shell would), through the gate, against the host's docker CLI running the same
  container on the engine's own socket, with `exec` of `true` alone beside it (its overhead);
- `docker ps` the same way (the gate narrows the listing to the student's own and shows their
  names).

    python -m tools.bench_docker     # this section alone
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time
import uuid

import django

from tools.bench import _median_p95

ROUNDS = int(os.environ.get("BENCH_DOCKER_ROUNDS", "10"))
OWNER = 990100  # no real user has this id (it only names the gate's objects)
DOCKER = shutil.which("docker") or "docker"


def _timed(call, rounds: int) -> list[float]:
    call()  # a warm-up: the CLI's first start, the exec path
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


def _host(*args: str) -> None:
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr[-300:]}")


def measure() -> dict[str, list[float]]:
    from sandbox import engine
    from sandbox.supervisor import docker_gate, playgrounds

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    run_id = f"bench-docker-{uuid.uuid4().hex[:8]}"
    terminal = ""
    gate = asyncio.run_coroutine_threadsafe(docker_gate.open_gate(OWNER, run_id), loop).result()
    try:
        spec = engine.ContainerSpec(
            "baeum/lab",
            "sleep 3600",
            run_id,
            environment=playgrounds.ENVIRONMENT + docker_gate.ENVIRONMENT,
            docker_gate=str(docker_gate.folder(run_id)),
        )
        terminal = engine.create_container(spec)
        engine.start(terminal)

        def in_terminal(command: str) -> None:
            done = engine.exec_in(terminal, command, 60)
            if done.exit_code != 0:
                raise RuntimeError(f"{command!r} in the terminal: {done.output[-300:]}")

        return {
            "gate_run": _timed(lambda: in_terminal("docker run --rm busybox echo hi"), ROUNDS),
            "host_run": _timed(
                lambda: _host("run", "--rm", "--network", "none", "baeum/lab", "echo", "hi"),
                ROUNDS,
            ),
            "gate_ps": _timed(lambda: in_terminal("docker ps -a"), ROUNDS),
            "host_ps": _timed(lambda: _host("ps", "-a"), ROUNDS),
            "exec": _timed(lambda: in_terminal("true"), ROUNDS),
        }
    finally:
        if terminal:
            engine.remove(terminal)
        asyncio.run_coroutine_threadsafe(docker_gate.close_gate(gate), loop).result()
        from sandbox.supervisor import docker_objects

        docker_objects.remove_made(run_id)
        loop.call_soon_threadsafe(loop.stop)


def section() -> None:
    samples = measure()
    exec_median, _ = _median_p95(samples["exec"])
    print(f"\nThe docker CLI in a terminal, through the gate, {ROUNDS} rounds (ms)\n")
    print("| command | raw host CLI median | through the gate median | p95 | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, gate, host in (
        ("`docker run --rm busybox echo hi`", "gate_run", "host_run"),
        ("`docker ps -a`", "gate_ps", "host_ps"),
    ):
        host_median, _ = _median_p95(samples[host])
        median, p95 = _median_p95(samples[gate])
        print(
            f"| {name} | {host_median * 1000:.0f} | {median * 1000:.0f} | {p95 * 1000:.0f} "
            f"| {median / host_median:.2f} |"
        )
    overhead = exec_median * 1000
    print(f"\n(`exec` of `true` in the terminal alone, part of each gate row: {overhead:.0f} ms)")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
    os.environ["SANDBOX_NAMESPACE"] = f"bench-{uuid.uuid4().hex[:8]}"
    django.setup()
    section()
