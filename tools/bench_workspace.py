"""How much a persistent /work adds to opening a terminal (issue 19: at most 1.2×).

Opens a student's terminal (`playgrounds.open_for`: create, attach, start, and restore) over
and over, with nothing saved and with a saved /work of two sizes, alternating so that a busy
moment on a shared machine hits every kind alike; each open is ended (and saved) before the
next. Reports medians and p95 in ms and the ratios to the open with nothing saved, from the
same run. Run: `.venv/bin/python -m tools.bench_workspace` (BENCH_ROUNDS, default 15).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import django

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
# name → shell command that fills /work before the save
KINDS = {
    "nothing saved": None,
    "saved, 20 files (~100 KiB)": (
        "mkdir -p /work/app && "
        "for i in $(seq 20); do head -c 5000 /dev/urandom > /work/app/f$i; done"
    ),
    "saved, 8 MiB": "head -c 8388608 /dev/urandom > /work/big",
}


def _setup(folder: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["SANDBOX_WORKSPACE_DIR"] = str(folder / "workspaces")
    os.environ.setdefault("SANDBOX_NAMESPACE", f"bench-ws-{os.getpid()}")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


async def _run() -> dict[str, dict[str, list[float]]]:
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import User

    from sandbox import engine
    from sandbox.api import workspaces as api_workspaces
    from sandbox.supervisor import playgrounds, workspaces

    users = {}
    for index, (kind, fill) in enumerate(KINDS.items()):
        user = await sync_to_async(User.objects.create)(username=f"bench{index}")
        users[kind] = user.pk
        if fill:  # one terminal to make the /work that every later open restores
            live = await playgrounds.open_for(user.pk)
            await asyncio.to_thread(engine.exec_in, live.playground.container_id, fill, 30)
            await playgrounds.end(live, "bench")
            print(
                f"{kind}: tar of {api_workspaces.mib(workspaces.tar_path(user.pk).stat().st_size)}"
            )
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    usable: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _round in range(ROUNDS):
        for kind, owner_id in users.items():
            began = time.perf_counter()
            live = await playgrounds.open_for(owner_id)
            samples[kind].append(time.perf_counter() - began)
            # Keystrokes wait until the saved /work is back: that is when it is usable.
            await live.restored.wait()
            usable[kind].append(time.perf_counter() - began)
            # Not saved at the end: the tar stays the one made above, round after round.
            await playgrounds.end(live, str(playgrounds.RESET_REASON), save=False)
    return {"open (the tab's first screen)": samples, "until /work is back (typing)": usable}


def _report(title: str, samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["nothing saved"])
    print(f"\n{title}, {ROUNDS} rounds each, alternating (ms):")
    for kind, values in samples.items():
        ordered = sorted(values)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"  {kind:30} median {median * 1000:6.0f}  p95 {p95 * 1000:6.0f}  ×{median / base:.2f}"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        _setup(Path(folder))
        samples = asyncio.run(_run())
    for title, measured in samples.items():
        _report(title, measured)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
