"""Every ▶ kubectl block of the course, run in order in a student's real terminal against the
real cluster, the way a student presses them: each one reaches the cluster and is allowed, and
each check after them passes. (The simulations are tested with the exercises.)"""

import pytest

from lessons.catalogue import catalogue
from sandbox import kube
from sandbox.supervisor import playgrounds

pytestmark = [
    pytest.mark.course,
    pytest.mark.docker,
    pytest.mark.kubernetes,
    pytest.mark.django_db(transaction=True),
]

# What a command says when a student could not really run it here: refused by the API server or
# the shell, an image the cluster does not have, a cluster it cannot reach.
NOT_RUNNABLE = (
    "forbidden",
    "command not found",
    "errimagepull",
    "imagepullbackoff",
    "errimageneverpull",
    "unable to connect",
    "connection refused",
    "unknown flag",
    "unknown command",
    "error: unknown",
)

LESSONS = [
    pytest.param(lesson, id=lesson.slug)
    for lesson in catalogue().values()
    if any(part.kind == "command" and "kubectl" in part.command for part in lesson.parts)
]


@pytest.fixture
async def kubectl_terminal(settings, alice):
    settings.SANDBOX_TERMINAL_KUBECTL = True
    live = await playgrounds.open_for(alice.pk)
    await live.restored.wait()
    assert live.kubeconfig_at is not None, "the terminal has no kubectl"
    yield alice
    await playgrounds.end_all()
    kube.remove(alice.pk)


@pytest.mark.parametrize("lesson", LESSONS)
async def test_every_kubectl_block_runs_and_its_checks_pass(lesson, kubectl_terminal):
    student = kubectl_terminal
    for part in lesson.parts:
        if part.kind == "command":
            done = await playgrounds.run_in(student.pk, part.command, 180)
            said = done.output.lower()
            refused = [marker for marker in NOT_RUNNABLE if marker in said]
            assert not refused, f"{part.command!r} is not runnable here:\n{done.output[-1500:]}"
        elif part.kind == "check" and part.check is not None:
            done = await playgrounds.run_in(student.pk, part.check.command, 60)
            assert done.exit_code == 0, f"check {part.check.id} fails after the blocks before it"
