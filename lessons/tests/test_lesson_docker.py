"""Every ▶ docker block of the course, run in order in a student's real terminal through the real
docker gate to the real engine, the way a student presses them: each one runs (a block that says
it will be refused, 거절, is refused), and each check after them passes."""

import pytest

from lessons.catalogue import catalogue
from sandbox.supervisor import playgrounds

pytestmark = [pytest.mark.course, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

# What a command says when a student could not really run it here: the shell has no such
# program, the gate refused it ("배움: …"), or the CLI did not understand it.
NOT_RUNNABLE = ("command not found", "not found", "배움:", "unknown flag", "unknown command")

LESSONS = [
    pytest.param(lesson, id=lesson.slug)
    for lesson in catalogue().values()
    if any(part.kind == "command" and "docker " in part.command for part in lesson.parts)
]


@pytest.fixture
async def docker_terminal(settings, alice):
    settings.SANDBOX_TERMINAL_DOCKER = True
    live = await playgrounds.open_for(alice.pk)
    await live.restored.wait()
    yield alice
    await playgrounds.end_all()


def test_the_docker_track_has_runnable_blocks():
    # Without this the parametrized test below would pass by collecting nothing.
    assert len(LESSONS) >= 5, [lesson.values[0].slug for lesson in LESSONS]


@pytest.mark.parametrize("lesson", LESSONS)
async def test_every_docker_block_runs_and_its_checks_pass(lesson, docker_terminal):
    student = docker_terminal
    for part in lesson.parts:
        if part.kind == "command":
            done = await playgrounds.run_in(student.pk, part.command, 180)
            if "거절" in part.command:
                assert done.exit_code != 0, f"{part.command!r} was meant to be refused"
                continue
            said = done.output.lower()
            broken = [marker for marker in NOT_RUNNABLE if marker in said]
            assert done.exit_code == 0 and not broken, (
                f"{part.command!r} is not runnable here (exit {done.exit_code}):\n"
                f"{done.output[-1500:]}"
            )
        elif part.kind == "check" and part.check is not None:
            done = await playgrounds.run_in(student.pk, part.check.command, 60)
            assert done.exit_code == 0, f"check {part.check.id} fails after the blocks before it"
