"""Every request the supervisor answers, by name: the one table of them (sandbox/seam.py carries
the names; a new request is a handler and a row here).

A process that supervises installs the table into the seam at start-up (`install`, from
sandbox/apps.py when SANDBOX_SUPERVISOR=inside); `manage.py sandbox_supervisor` answers from it
over the channel layer (sandbox/supervisor/serve.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sandbox import seam
from sandbox.supervisor import (
    builds,
    engine_threads,
    kube_objects,
    labs,
    playgrounds,
    runs,
    terminal_time,
    warmup,
    workspace_files,
)

Handler = Callable[..., Awaitable[object]]

TABLE: dict[str, Handler] = {
    "run.start": runs.on_start,
    "run.stop": runs.on_stop,
    "build.start": builds.on_start,
    "build.tag": builds.on_tag,
    "build.layers": builds.on_layers,
    "terminal.open": playgrounds.on_open,
    "terminal.watch": playgrounds.on_watch,
    "terminal.input": playgrounds.on_input,
    "terminal.resize": playgrounds.on_resize,
    "terminal.left": playgrounds.on_left,
    "terminal.check": playgrounds.on_check,
    "terminal.extend": terminal_time.on_extend,
    "terminal.extend_many": terminal_time.on_extend_many,
    "workspace.reset": playgrounds.on_reset,
    "workspace.put": workspace_files.on_put,
    "workspace.get": workspace_files.on_get,
    "workspace.piece": workspace_files.on_piece,
    "workspace.list": workspace_files.on_list,
    "lab.apply": labs.on_apply,
    "lab.state": labs.on_state,
    "lab.kill": labs.on_kill,
    "lab.rollback": labs.on_rollback,
    "lab.balance": labs.on_balance,
    "pool.warm": warmup.on_warm,
    "pool.cool": warmup.on_cool,
    "pool.state": warmup.on_state,
    "kube.objects": kube_objects.on_objects,
}


async def call(name: str, payload: dict) -> object:
    """A request handled in this process (SANDBOX_SUPERVISOR=inside): its engine calls go to
    the engine executor of the loop it runs on."""
    engine_threads.install()
    return await TABLE[name](**payload)


def install() -> None:
    seam.install_inside(call)
