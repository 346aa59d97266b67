"""Who may watch a run. The owner always; anyone else only if a registered check vouches.

`sandbox` knows no classes or lessons: `lessons` registers a check at start-up (an instructor of
the owner's class may watch), keeping the dependency pointing from lessons to sandbox.
"""

from collections.abc import Callable

from sandbox.models import Run

WatchCheck = Callable[[object, Run], bool]
_watch_checks: list[WatchCheck] = []


def register_watch_check(check: WatchCheck) -> None:
    if check not in _watch_checks:
        _watch_checks.append(check)


def may_watch(user, run: Run) -> bool:
    if not user.is_authenticated:
        return False
    if run.owner_id == user.pk:
        return True
    return any(check(user, run) for check in _watch_checks)
