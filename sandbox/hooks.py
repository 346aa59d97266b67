"""Where other apps plug into runs without `sandbox` knowing them.

`sandbox` knows users and runs, not lessons or classes. `lessons` registers, at start-up:
- a watch check: who besides the owner may watch a run (an instructor of the owner's class);
- a start hook: called once a run's container is running (the class dashboards refresh);
- a finish hook: called once a run's transcript is saved (it records the exercise attempt);
- an end fragment: extra HTML the output socket sends when a run ends (the exercise verdict);
- a terminal hook: called when a student's terminal is closed (the class dashboards refresh).
The dependency keeps pointing from lessons to sandbox.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.models import Build, Playground, QueuedRun, Run

# What may be watched: anything a student owns (a run, a build, a terminal, a queued press).
Owned = Run | Build | Playground | QueuedRun
WatchCheck = Callable[[object, Owned], bool]
RunHook = Callable[[Run], None]
EndFragment = Callable[[Run], str]

_watch_checks: list[WatchCheck] = []
_start_hooks: list[RunHook] = []
_finish_hooks: list[RunHook] = []
_end_fragments: list[EndFragment] = []
_build_end_fragments: list[Callable[[Build], str]] = []
_terminal_hooks: list[Callable[[int], None]] = []


def _register(registry: list, function) -> None:
    if function not in registry:
        registry.append(function)


def register_watch_check(check: WatchCheck) -> None:
    _register(_watch_checks, check)


def register_start_hook(hook: RunHook) -> None:
    _register(_start_hooks, hook)


def register_finish_hook(hook: RunHook) -> None:
    _register(_finish_hooks, hook)


def register_end_fragment(fragment: EndFragment) -> None:
    _register(_end_fragments, fragment)


def register_build_end_fragment(fragment: Callable[[Build], str]) -> None:
    _register(_build_end_fragments, fragment)


def register_terminal_hook(hook: Callable[[int], None]) -> None:
    """Called with the owner's id when a student's terminal is closed (the dashboards)."""
    _register(_terminal_hooks, hook)


def terminal_changed(owner_id: int) -> None:
    """Synchronous: call from a worker thread."""
    for hook in _terminal_hooks:
        hook(owner_id)


def build_end_fragments(build) -> str:
    """Synchronous: call from a worker thread."""
    return "".join(fragment(build) for fragment in _build_end_fragments)


def may_watch(user, run: Owned) -> bool:
    if not user.is_authenticated:
        return False
    if run.owner_id == user.pk:
        return True
    return any(check(user, run) for check in _watch_checks)


def run_started(run: Run) -> None:
    """Synchronous: call from a worker thread."""
    for hook in _start_hooks:
        hook(run)


def run_finished(run: Run) -> None:
    """Synchronous: call from a worker thread."""
    for hook in _finish_hooks:
        hook(run)


def end_fragments(run: Run) -> str:
    """Synchronous: call from a worker thread."""
    return "".join(fragment(run) for fragment in _end_fragments)
