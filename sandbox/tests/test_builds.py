import pytest
from django.conf import settings
from django.test import override_settings

from sandbox import engine
from sandbox.api import builds as api_builds
from sandbox.models import Build
from sandbox.supervisor import builds

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

DOCKERFILE = """FROM baeum/lab
COPY app.sh /tmp/app.sh
RUN echo built > /tmp/made
CMD ["sh", "/tmp/app.sh"]
"""
FILES = {"app.sh": "echo app v1\n"}


@pytest.fixture
async def cleanup():
    yield
    await builds.wait_for_all()
    for build in [b async for b in Build.objects.filter(removed=False, state="built")]:
        await __import__("asyncio").to_thread(builds.remove_build_image, build)


async def build(owner, dockerfile=DOCKERFILE, files=FILES, label="test/lab") -> Build:
    started = await api_builds.start_build(api_builds.BuildSpec(owner.pk, label, dockerfile, files))
    await builds.wait_for_all()
    return await Build.objects.aget(pk=started.pk)


async def test_a_rebuild_takes_every_step_from_the_cache(alice, cleanup):
    first = await build(alice, files={"app.sh": f"echo unique-{alice.pk}\n"})
    second = await build(alice, files={"app.sh": f"echo unique-{alice.pk}\n"})
    assert first.state == second.state == Build.State.BUILT
    assert [s["instruction"] for s in second.steps] == [
        "FROM baeum/lab",
        "COPY app.sh /tmp/app.sh",
        "RUN echo built > /tmp/made",
        'CMD ["sh", "/tmp/app.sh"]',
    ]
    assert all(step["cached"] for step in second.steps[1:])
    assert second.image_id == first.image_id


async def test_a_changed_line_rebuilds_from_that_line_on(alice, cleanup):
    await build(alice)
    changed = DOCKERFILE.replace("echo built", "echo rebuilt")
    second = await build(alice, dockerfile=changed)
    assert [s["cached"] for s in second.steps[1:]] == [True, False, False]


async def test_the_layer_table_matches_docker_history(alice, cleanup):
    built = await build(alice)
    rows = await __import__("asyncio").to_thread(builds.layers, built)
    history = engine.image_history(built.image_id)
    assert rows[0]["base"] and [r["instruction"] for r in rows[1:]] == [
        s["instruction"] for s in built.steps[1:]
    ]
    assert sum(r["size"] for r in rows) == sum(h["Size"] for h in history)
    assert len(rows) - 1 == len(built.steps) - 1  # one row per step after FROM


@pytest.mark.parametrize(
    ("dockerfile", "files", "reason"),
    [
        ("FROM alpine:3.20\n", {}, "실습 이미지"),
        ("FROM baeum/lab\nUSER root\n", {}, "USER에는 0이 아닌"),
        ("FROM baeum/lab\nADD https://example.com/x /x\n", {}, "ADD는 쓸 수 없어요"),
        ("FROM baeum/lab\n" + "RUN true\n" * 1000, {}, "너무 커요"),
        ("FROM baeum/lab\n", {"big.txt": "x" * 70000}, "너무 커요"),
        ("FROM baeum/lab\n", {"../escape": "x"}, "쓸 수 없어요"),
        ("RUN true\n", {}, "FROM으로 시작"),
    ],
)
async def test_unsafe_builds_are_refused_before_the_engine_sees_them(
    alice, dockerfile, files, reason
):
    with pytest.raises(api_builds.BuildRefused, match=reason):
        await api_builds.start_build(api_builds.BuildSpec(alice.pk, "test/lab", dockerfile, files))
    assert not await Build.objects.aexists()


async def test_run_steps_have_no_network(alice, cleanup):
    built = await build(
        alice,
        dockerfile="FROM baeum/lab\nRUN wget -q -T 2 -O- http://example.com/ || (echo no-network; exit 1)\n",
    )
    assert built.state == Build.State.FAILED
    assert "no-network" in built.log or "bad address" in built.log
    assert "빌드가 실패했어요" in built.message


async def test_a_build_past_its_time_limit_is_stopped(alice, cleanup):
    with override_settings(SANDBOX_BUILD_SECONDS=3):
        built = await build(alice, dockerfile="FROM baeum/lab\nRUN sleep 1000\n")
    assert built.state == Build.State.FAILED and "시간 제한" in built.message


async def test_a_student_keeps_only_the_latest_images(alice, cleanup):
    with override_settings(SANDBOX_BUILD_IMAGES=2):
        made = [await build(alice, files={"app.sh": f"echo {n}\n"}) for n in range(3)]
    removed = [await Build.objects.aget(pk=b.pk) for b in made]
    assert [b.removed for b in removed] == [True, False, False]
    assert not engine.image_exists(made[0].reference)
    assert engine.image_exists(made[2].reference)


async def test_versions_are_tags_in_the_students_own_namespace(alice, bob, cleanup):
    first = await build(alice)
    await __import__("asyncio").to_thread(builds.tag_version, first, "v1")
    assert engine.image_exists(f"{first.repository}:v1")
    assert first.repository == f"baeum-build/{settings.SANDBOX_NAMESPACE}-u{alice.pk}-test-lab"
    theirs = await build(bob, label="test/lab")
    assert theirs.repository != first.repository
    with pytest.raises(api_builds.BuildRefused):
        await __import__("asyncio").to_thread(builds.tag_version, first, "V1; rm -rf /")
