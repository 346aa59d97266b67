"""A student's terminal, from web code: what its sockets and views ask of the supervisor, which
holds the terminal itself (sandbox/supervisor/playgrounds.py). Any web worker may ask."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from sandbox import seam


@dataclass(frozen=True)
class CheckResult:
    """A lesson's check run in the terminal: its exit code and output (as the engine's exec)."""

    exit_code: int | None
    output: str


MAX_INPUT_CHARS = 4096


class TooMuchInput(ValueError):
    pass


def group_name(owner_id) -> str:
    """The group of every socket showing the owner's terminal (theirs and watchers')."""
    return f"terminal_u{owner_id}"


class NoPlayground(LookupError):
    pass


async def request_open(owner_id: int) -> dict:
    """Open (or reattach to) the owner's terminal: its id, expiry, scrollback and the sequence
    number the scrollback reaches. Join the group first: later frames have higher numbers."""
    return await seam.ask("terminal.open", owner_id=owner_id)


async def request_watch(owner_id: int, playground_id: str) -> dict | None:
    """A read-only view of the owner's terminal, if `playground_id` is the live one."""
    return await seam.ask("terminal.watch", owner_id=owner_id, playground_id=playground_id)


async def request_input(owner_id: int, data: str) -> None:
    if len(data) > MAX_INPUT_CHARS:
        raise TooMuchInput(
            _("한 번에 보낼 수 있는 입력은 {n}자까지예요.").format(n=MAX_INPUT_CHARS)
        )
    await seam.tell("terminal.input", owner_id=owner_id, data=data)


async def request_resize(owner_id: int, rows: int, cols: int) -> None:
    await seam.tell("terminal.resize", owner_id=owner_id, rows=rows, cols=cols)


async def request_left(owner_id: int) -> None:
    """A tab of the owner's closed: the idle clock starts when the last one goes."""
    await seam.tell("terminal.left", owner_id=owner_id)


async def request_check(owner_id: int, command: str, timeout: int) -> CheckResult:
    """Run a lesson's check in the owner's terminal (NoPlayground if none is open)."""
    found = await seam.ask("terminal.check", owner_id=owner_id, command=command, timeout=timeout)
    if found is None:
        raise NoPlayground(owner_id)
    return CheckResult(**found)
