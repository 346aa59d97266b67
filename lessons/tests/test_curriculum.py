"""The course itself under test: every exercise passes its own check in the real lab image and
its plausible mistake (`wrong`) fails it, and every question has exactly the answers it
claims."""

import pytest

from lessons.catalogue import TRACKS, catalogue
from lessons.checks import verdict
from lessons.views import _run_spec
from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following

# The course's own content, checked once (the scaled-out pass tests the shape, not the lessons).
pytestmark = pytest.mark.course


def every(kind: str) -> list:
    """(lesson, block) for every block of one kind in the course, named for the test report."""
    return [
        pytest.param(lesson, block, id=f"{lesson.slug}/{block.id}")
        for lesson in catalogue().values()
        for block in getattr(lesson, kind).values()
    ]


EXERCISES = every("exercises")
QUESTIONS = every("questions")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lesson", "exercise"), EXERCISES)
async def test_every_exercise_passes_its_own_check(alice, lesson, exercise):
    run = await runs.start_run(_run_spec(lesson, exercise, exercise.command, alice.pk))
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    passed, reason = verdict(run, exercise)
    assert passed, f"{reason}\n--- output ---\n{run.transcript[-2000:]}"


WRONGS = [param for param in EXERCISES if param.values[1].has_wrong]


@pytest.mark.parametrize(("lesson", "exercise"), EXERCISES)
def test_every_exercise_names_a_plausible_mistake(lesson, exercise):
    assert exercise.has_wrong, "add `wrong:` (a command a student might run that must fail)"


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lesson", "exercise"), WRONGS)
async def test_every_exercise_fails_its_plausible_mistake(alice, lesson, exercise):
    mistaken = exercise.mistaken()
    run = await runs.start_run(_run_spec(lesson, mistaken, mistaken.command, alice.pk))
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    passed, _reason = verdict(run, exercise)
    assert not passed, f"the mistake passed\n--- output ---\n{run.transcript[-2000:]}"


@pytest.mark.parametrize(("lesson", "question"), QUESTIONS)
def test_every_question_accepts_exactly_its_answers(lesson, question):
    for answer in question.answers:
        assert question.is_right(answer)
        assert question.is_right(f"  {answer.upper()} ")
    for choice in question.choices:
        assert question.is_right(choice) == (choice in question.answers)
    assert not question.is_right("")
    if question.choices:
        assert len(question.answers) == 1 and question.answers[0] in question.choices
        return
    for answer in question.answers:
        full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in answer)
        assert question.is_right(full_width) and question.is_right(f"`{answer}`.")
        assert not question.is_right(f"{answer}ㅋ0"), "a longer answer is a different answer"


def test_the_course_has_both_tracks_in_order():
    lessons = list(catalogue().values())
    for track in TRACKS:
        orders = [lesson.order for lesson in lessons if lesson.track == track]
        assert orders == list(range(1, len(orders) + 1)), f"{track}: lessons {orders}"


@pytest.mark.parametrize("lesson", [pytest.param(ls, id=ls.slug) for ls in catalogue().values()])
def test_every_lesson_opens_with_goals_and_ends_with_a_summary(lesson):
    html = "".join(part.html for part in lesson.parts if part.kind == "html")
    assert "이 장에서 할 수 있게 되는 것" in html
    assert "정리" in html[-3000:]
    assert 5 <= lesson.minutes <= MAX_LESSON_MINUTES
    assert lesson.exercises or lesson.questions


MAX_LESSON_MINUTES = 15


@pytest.mark.parametrize("lesson", [pytest.param(ls, id=ls.slug) for ls in catalogue().values()])
def test_every_lesson_declares_the_minutes_it_takes(lesson):
    """Reading plus activities (the rule in DESIGN.md), within a quarter or two minutes."""
    declared, estimate = lesson.minutes, lesson.estimated_minutes
    assert abs(declared - estimate) <= max(2, 0.25 * estimate), (
        f"declared {declared}, estimated {estimate}"
    )


@pytest.mark.parametrize("lesson", [pytest.param(ls, id=ls.slug) for ls in catalogue().values()])
def test_no_lesson_takes_more_than_a_quarter_hour(lesson):
    estimate = lesson.estimated_minutes
    assert estimate <= MAX_LESSON_MINUTES, f"{estimate} minutes: split it"


BUILDS = every("builds")


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lesson", "block"), BUILDS)
async def test_every_build_exercise_builds_and_its_image_passes(alice, lesson, block):
    import asyncio

    from lessons.checks import purpose, run_label
    from sandbox.api import builds as api_builds
    from sandbox.models import Build
    from sandbox.supervisor import builds

    made = []
    for dockerfile, files in [(block.dockerfile, dict(block.files))] + [
        (d, dict(f)) for _name, d, f in block.variants
    ]:
        spec = api_builds.BuildSpec(
            alice.pk,
            run_label(lesson.slug, block.id),
            dockerfile,
            files,
            purpose(lesson.slug, block.id),
        )
        started = await api_builds.start_build(spec)
        await builds.wait_for_all()
        made.append(await Build.objects.aget(pk=started.pk))
    assert all(b.state == Build.State.BUILT for b in made), [b.message for b in made]
    run = await runs.start_run(
        runs.RunSpec(made[0].reference, block.run, alice.pk, "test", timeout=20)
    )
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    assert block.expect.failures(run.exit_code, run.transcript, run.oom_killed) == []
    for build in made:
        await asyncio.to_thread(builds.remove_build_image, build)


BUILD_WRONGS = [param for param in BUILDS if param.values[1].wrong]


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("lesson", "block"), BUILD_WRONGS)
async def test_every_build_exercise_fails_its_plausible_mistake(alice, lesson, block):
    import asyncio

    from lessons.checks import purpose, run_label
    from sandbox.api import builds as api_builds
    from sandbox.models import Build
    from sandbox.supervisor import builds

    dockerfile, files = block.wrong
    spec = api_builds.BuildSpec(
        alice.pk,
        run_label(lesson.slug, block.id),
        dockerfile,
        dict(files),
        purpose(lesson.slug, block.id),
    )
    started = await api_builds.start_build(spec)
    await builds.wait_for_all()
    build = await Build.objects.aget(pk=started.pk)
    if build.state != Build.State.BUILT:
        return  # a mistake the build itself refuses is caught too
    run = await runs.start_run(
        runs.RunSpec(build.reference, block.run, alice.pk, "test", timeout=20)
    )
    await following.wait_for_all()
    run = await Run.objects.aget(pk=run.pk)
    await asyncio.to_thread(builds.remove_build_image, build)
    assert block.expect.failures(run.exit_code, run.transcript, run.oom_killed), run.transcript


LABS = every("labs")


@pytest.mark.parametrize(("lesson", "lab"), LABS)
def test_every_orchestration_lab_manifest_is_valid_and_supported(lesson, lab):
    from sandbox import manifests

    deployment = manifests.parse(lab.manifest)
    assert 1 <= deployment.replicas <= manifests.MAX_REPLICAS
    assert lab.kubectl, "every lab shows the kubectl commands that mean the same"


def test_the_kubernetes_track_has_a_hands_on_lab_for_every_goal():
    # Every orchestration goal is practised on the real orchestrator somewhere in the track.
    goals = {
        lab.goal
        for ls in catalogue().values()
        if ls.track == "kubernetes"
        for lab in ls.labs.values()
    }
    assert goals == {"apply", "heal", "scale", "update", "rollback", "balance"}
