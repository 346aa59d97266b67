"""The real docker CLI in a student's terminal, through the gate, on the real engine: it works,
names are each student's own, nobody sees anyone else's, everything goes through the hardening
profile, what is not allowed is refused in words, and it all ends with the terminal."""

from __future__ import annotations

import asyncio
import os

import pytest
from django.conf import settings

from sandbox import engine
from sandbox.supervisor import docker_gate, playgrounds, reaper
from sandbox.supervisor.state import SUPERVISED

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
async def ended():
    yield
    await playgrounds.end_all()


async def sh(user, command: str, timeout: int = 60) -> engine.ExecResult:
    if user.id not in SUPERVISED.playgrounds:
        live = await playgrounds.open_for(user.id)
        await asyncio.wait_for(live.restored.wait(), 60)
    return await playgrounds.run_in(user.id, command, timeout)


def mine(user) -> list[engine.LabelledContainer]:
    return engine.labelled_containers(None, f"{docker_gate.OWNER_LABEL}={user.id}")


async def test_the_cli_reaches_the_engine_through_the_gate(alice):
    version = await sh(alice, "docker version --format '{{.Server.APIVersion}}'")
    assert version.exit_code == 0 and version.output.strip() == "1.41", version.output
    kernel = await sh(alice, "docker version --format '[{{.Server.KernelVersion}}]'")
    assert kernel.output.strip() == "[]"  # the host's kernel is not the student's to see
    image = await sh(
        alice, "docker image inspect busybox --format '{{.RepoTags}} {{.Config.Labels}}'"
    )
    assert image.output.strip() == "[busybox:latest] map[]", image.output
    ran = await sh(alice, "docker run --rm busybox echo hello from a container")
    assert ran.exit_code == 0, ran.output
    assert ran.output.strip() == "hello from a container"
    # The engine's own socket is not in the terminal: the gate's is the only way.
    assert (await sh(alice, "test -e /var/run/docker.sock")).exit_code != 0
    assert (await sh(alice, "echo $DOCKER_HOST")).output.strip() == "unix:///run/baeum/docker.sock"


async def test_names_are_each_students_own_and_nobody_sees_anyone_elses(alice, bob):
    for user in (alice, bob):
        made = await sh(user, "docker run -d --name web1 busybox sleep 120")
        assert made.exit_code == 0, made.output  # the same name, no collision
    names = await sh(alice, "docker ps -a --format '{{.Names}} {{.Image}}'")
    assert names.output.split("\n")[0] == "web1 busybox", names.output
    assert len(names.output.strip().splitlines()) == 1
    bobs = mine(bob)[0].id
    # Another student's container answers exactly as a missing one does.
    missing = "0123456789ab" + bobs[12:]
    for command in ("docker rm -f {}", "docker inspect {}", "docker logs {}", "docker stop {}"):
        for ref in (bobs, bobs[:12]):
            tried = await sh(alice, command.format(ref))
            absent = await sh(alice, command.format(missing[: len(ref)]))
            assert tried.exit_code == absent.exit_code, tried.output
            lines = sorted(tried.output.replace(ref, "X").splitlines())  # stdout, stderr: any order
            assert lines == sorted(absent.output.replace(missing[: len(ref)], "X").splitlines())
            assert "No such" in tried.output, tried.output
    assert [c.id for c in mine(bob)] == [bobs]
    logs = await sh(alice, "docker exec web1 sh -c 'echo inside $(id -u)'")
    assert logs.exit_code == 0 and logs.output.strip() == "inside 1000", logs.output
    assert (await sh(alice, "docker rm -f web1")).exit_code == 0
    assert mine(alice) == [] and len(mine(bob)) == 1


async def test_every_container_is_made_through_the_hardening_profile(alice):
    # A label of the project's own, asked for by the student, is not theirs to give.
    made = await sh(
        alice, "docker run -d --name hard -l baeum.owner=999 -l mine=yes busybox sleep 120"
    )
    assert made.exit_code == 0, made.output
    info = engine.inspect(mine(alice)[0].id)
    host = info["HostConfig"]
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert host["Privileged"] is False and host["NetworkMode"] == "none"
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Memory"] == engine.parse_bytes(settings.SANDBOX_MEMORY)
    assert host["PidsLimit"] == settings.SANDBOX_PIDS and not host["Binds"]
    assert info["Config"]["User"] == "1000:1000"
    labels = info["Config"]["Labels"]
    assert labels[engine.SANDBOX_LABEL] == settings.SANDBOX_NAMESPACE
    assert labels[docker_gate.OWNER_LABEL] == str(alice.id) and labels["mine"] == "yes"


@pytest.mark.parametrize(
    "flags, named",
    [
        ("--privileged", "--privileged"),
        ("-v /etc:/host-etc", "-v"),
        ("--user 0", "--user 0"),
        ("--network host", "--network"),
        ("--pid host", "--pid"),
        ("--cap-add SYS_ADMIN", "--cap-add"),
        ("--device /dev/kmsg", "--device"),
        ("--security-opt seccomp=unconfined", "--security-opt"),
        ("-p 8080:80", "-p"),
        ("--memory 4g", "--memory"),
        ("--health-cmd true --health-interval 1ms", "--health-cmd"),
        ("--stop-timeout 100000", "--stop-timeout"),
    ],
)
async def test_what_the_profile_does_not_allow_is_refused_in_words(alice, flags, named):
    tried = await sh(alice, f"docker run --rm {flags} busybox true")
    assert tried.exit_code != 0
    assert "배움:" in tried.output and named in tried.output, tried.output
    assert mine(alice) == []


async def test_the_shelf_and_what_is_off_the_list_say_so_at_once(alice):
    images = await sh(alice, "docker images --format '{{.Repository}}:{{.Tag}}'")
    assert "busybox:latest" in images.output.split(), images.output  # the shelf's
    pulled = await sh(alice, "docker pull nginx:1.27", timeout=20)
    assert pulled.exit_code != 0 and "선반에 없어요" in pulled.output, pulled.output
    off = await sh(alice, "docker plugin ls")
    assert off.exit_code != 0 and "쓸 수 없는 명령" in off.output, off.output
    info = await sh(alice, "docker info --format '{{.Containers}} {{.OperatingSystem}}'")
    assert info.output.startswith("0 배움"), info.output


async def test_a_student_has_at_most_a_few_containers_and_is_told_how_to_make_room(alice, settings):
    settings.SANDBOX_DOCKER_MAX_CONTAINERS = 2
    for name in ("one", "two"):
        made = await sh(alice, f"docker run -d --name {name} busybox sh -c 'echo {name}; sleep 60'")
        assert made.exit_code == 0, made.output
    over = await sh(alice, "docker run -d --name three busybox sleep 60")
    assert over.exit_code != 0 and "2개까지" in over.output and "docker rm" in over.output
    assert len(mine(alice)) == 2
    assert (await sh(alice, "docker logs one")).output.strip() == "one"
    assert (await sh(alice, "docker stop -t 1 two")).exit_code == 0
    status = await sh(alice, "docker ps -a --filter name=two --format '{{.Status}}'")
    assert status.output.startswith("Exited"), status.output
    assert (await sh(alice, "docker rm two")).exit_code == 0
    assert (await sh(alice, "docker run -d --name three busybox sleep 60")).exit_code == 0


async def test_what_a_student_made_ends_with_their_terminal(alice):
    assert (await sh(alice, "docker network create app")).exit_code == 0
    made = await sh(
        alice, "docker run -d --name keep --network app -v data:/data busybox sleep 300"
    )
    assert made.exit_code == 0, made.output
    assert len(mine(alice)) == 1 and own_networks(alice) and own_volumes(alice)
    live = SUPERVISED.playgrounds[alice.id]
    await playgrounds.end(live, "test")
    assert mine(alice) == [] and own_networks(alice) == [] and own_volumes(alice) == []
    assert alice.id not in SUPERVISED.docker_gates
    # Nor is anything left holding the volume (its keeper went with it).
    run = f"{engine.RUN_LABEL}={playgrounds.run_id(live.playground)}"
    assert engine.labelled_containers(None, run) == []


def own_networks(user) -> list[str]:
    owner = f"{docker_gate.OWNER_LABEL}={user.id}"
    return [n["Name"] for n in engine.networks_labelled(owner)]


def own_volumes(user) -> list[str]:
    owner = f"{docker_gate.OWNER_LABEL}={user.id}"
    return [v["Name"] for v in engine.volumes_labelled(owner)]


SERVE = (
    "docker run -d --name web --network app busybox sh -c "
    "'mkdir /tmp/w && echo hello-from-web > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w'"
)


async def test_containers_on_a_students_network_reach_each_other_by_name(alice, bob):
    assert (await sh(alice, "docker network create app")).exit_code == 0
    assert (await sh(alice, SERVE)).exit_code == 0
    fetched = await sh(
        alice, "docker run --rm --network app busybox wget -qO- -T 5 http://web:8080/"
    )
    assert fetched.output.strip() == "hello-from-web", fetched.output
    # A --network-alias, and a container connected afterwards, are reached the same way.
    assert (await sh(alice, "docker run -d --name solo busybox sleep 120")).exit_code == 0
    connected = await sh(alice, "docker network connect --alias lonely app solo")
    assert connected.exit_code == 0, connected.output
    again = await sh(alice, "docker exec solo wget -qO- -T 5 http://web:8080/")
    assert again.output.strip() == "hello-from-web", again.output
    on_app = await sh(alice, "docker ps --filter network=app --format '{{.Names}}'")
    assert sorted(on_app.output.split()) == ["solo", "web"], on_app.output
    listed = await sh(alice, "docker network ls --format '{{.Name}} {{.Driver}}'")
    assert listed.output.strip() == "app bridge", listed.output
    shown = await sh(
        alice,
        "docker network inspect app --format "
        "'{{.Name}} {{.Internal}} {{range .Containers}}{{.Name}} {{end}}'",
    )
    assert shown.output.split()[:2] == ["app", "true"], shown.output  # no route out
    assert sorted(shown.output.split()[2:]) == ["solo", "web"], shown.output
    on = await sh(
        alice,
        "docker inspect web --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}'",
    )
    assert on.output.strip() == "app", on.output
    # Bob sees none of it, cannot join it, and has an `app` of his own.
    assert (await sh(bob, "docker network ls -q")).output.strip() == ""
    joined = await sh(bob, "docker run --rm --network app busybox true")
    assert joined.exit_code != 0 and "network app not found" in joined.output, joined.output
    assert (await sh(bob, "docker network inspect app")).exit_code != 0
    assert (await sh(bob, "docker network create app")).exit_code == 0
    lonely = await sh(bob, "docker network create --driver host x")
    assert "bridge 네트워크만" in lonely.output, lonely.output
    subnet = await sh(bob, "docker network create --subnet 172.17.0.0/16 wide")
    assert subnet.exit_code != 0 and "--subnet" in subnet.output, subnet.output
    # A network with containers on it stays; emptied, it goes.
    busy = await sh(alice, "docker network rm app")
    assert busy.exit_code != 0 and "active endpoints" in busy.output, busy.output
    assert (await sh(alice, "docker rm -f web solo")).exit_code == 0
    assert (await sh(alice, "docker network rm app")).exit_code == 0
    assert own_networks(alice) == []


async def test_a_students_networks_are_few_and_internal(alice, settings):
    settings.SANDBOX_DOCKER_MAX_NETWORKS = 1
    assert (await sh(alice, "docker network create one")).exit_code == 0
    over = await sh(alice, "docker network create two")
    assert over.exit_code != 0 and "1개까지" in over.output, over.output
    network = engine.networks_labelled(f"{docker_gate.OWNER_LABEL}={alice.id}")[0]
    assert network["Internal"] is True
    assert network["Name"] == f"{settings.SANDBOX_NAMESPACE}-u{alice.id}-one"
    subnet = network["IPAM"]["Config"][0]["Subnet"]
    assert subnet.endswith("/28") and subnet.startswith("10.151."), subnet


async def test_a_volume_keeps_files_between_containers_in_memory_and_within_its_caps(
    alice, bob, settings
):
    settings.SANDBOX_DOCKER_MAX_VOLUMES = 2
    assert (await sh(alice, "docker volume create data")).output.strip() == "data"
    wrote = await sh(alice, "docker run --rm -v data:/data busybox sh -c 'echo kept > /data/f'")
    assert wrote.exit_code == 0, wrote.output
    read = await sh(
        alice, "docker run --rm --mount type=volume,source=data,target=/d,readonly busybox cat /d/f"
    )
    assert read.output.strip() == "kept", read.output  # another container, the same files
    shown = await sh(alice, "docker volume inspect data --format '{{.Name}} [{{.Mountpoint}}]'")
    assert shown.output.strip() == "data []", shown.output  # not where it lies on the host
    volume = engine.volumes_labelled(f"{docker_gate.OWNER_LABEL}={alice.id}")[0]
    assert volume["Options"]["type"] == "tmpfs"  # nothing reaches the host's disk
    full = await sh(
        alice, "docker run --rm -v data:/data busybox dd if=/dev/zero of=/data/big bs=1M count=40"
    )
    assert full.exit_code != 0 and "space" in full.output, full.output
    # `-v other:/x` makes `other` as the CLI would; a third is over the quota.
    assert (await sh(alice, "docker run --rm -v other:/x busybox true")).exit_code == 0
    over = await sh(alice, "docker volume create third")
    assert over.exit_code != 0 and "2개까지" in over.output, over.output
    listed = await sh(alice, "docker volume ls -q")
    assert sorted(listed.output.split()) == ["data", "other"], listed.output
    # Bob's `data` is his own, empty one; alice's is not his to see or remove.
    assert (await sh(bob, "docker run --rm -v data:/data busybox cat /data/f")).exit_code != 0
    assert (await sh(bob, "docker volume rm other")).exit_code != 0
    # In use, a volume stays; then it goes, and its keeper with it.
    assert (
        await sh(alice, "docker run -d --name user -v data:/data busybox sleep 120")
    ).exit_code == 0
    users = await sh(alice, "docker ps --filter volume=data --format '{{.Names}}'")
    assert users.output.split() == ["user"], users.output
    busy = await sh(alice, "docker volume rm data")
    assert busy.exit_code != 0 and "in use" in busy.output, busy.output
    assert (await sh(alice, "docker rm -f user")).exit_code == 0
    assert (await sh(alice, "docker volume rm data")).exit_code == 0
    assert len(own_volumes(alice)) == 1
    # The reaper leaves a followed terminal's volumes alone.
    await asyncio.to_thread(reaper.reap_everywhere, 0)
    assert len(own_volumes(alice)) == 1


@pytest.mark.parametrize(
    "flags, named",
    [
        ("-v /work:/w", "호스트의 경로"),
        ("-v ./site:/w", "호스트의 경로"),
        ("-v data:/proc/x", "/proc/x"),
        ("--mount type=bind,source=/etc,target=/x", "--mount type=bind"),
        ("--mount type=tmpfs,target=/x", "--mount type=tmpfs"),
        ("--network container:abc", "--network container:abc"),
    ],
)
async def test_what_a_volume_or_network_may_not_be_is_refused_in_words(alice, flags, named):
    tried = await sh(alice, f"docker run --rm {flags} busybox true")
    assert tried.exit_code != 0
    assert "배움:" in tried.output and named in tried.output, tried.output
    assert own_volumes(alice) == []


async def test_a_terminal_readopted_after_a_restart_has_its_gate_and_containers_again(alice):
    assert (await sh(alice, "docker run -d --name kept busybox sleep 120")).exit_code == 0
    kept = mine(alice)[0].id
    # The supervisor dies: its gate stops answering (the folder stays, as a killed process leaves
    # it), its relays and streams go, nothing is recorded.
    gate = SUPERVISED.docker_gates.pop(alice.id)
    assert gate.server is not None
    gate.server.close()
    live = SUPERVISED.playgrounds.pop(alice.id)
    assert live.relay is not None
    live.relay.cancel()
    live.stream.close()
    playgrounds._OPENING.clear()
    await asyncio.sleep(0.2)
    # The next one recovers the terminal, and its reap spares what the student made.
    await asyncio.to_thread(reaper.recover_after_restart)
    await asyncio.to_thread(reaper.reap_everywhere, 0)
    assert [c.id for c in mine(alice)] == [kept]
    await playgrounds.open_for(alice.id)  # the student's next open adopts it
    names = await sh(alice, "docker ps --format '{{.Names}}'")
    assert names.exit_code == 0 and names.output.strip() == "kept", names.output


async def test_top_shows_the_containers_processes_never_the_hosts(alice):
    assert (await sh(alice, "docker run -d --name top1 busybox sleep 120")).exit_code == 0
    # `ps` options of the student's would make the engine list the host's processes.
    for options in ("", "aux", "f e -p 1 -o args,tty,pid"):
        shown = await sh(alice, f"docker top top1 {options}")
        assert "sleep 120" in shown.output, shown.output
        assert "dockerd" not in shown.output and "daphne" not in shown.output


async def test_presses_at_once_cannot_pass_the_quota_together(alice, settings):
    settings.SANDBOX_DOCKER_MAX_CONTAINERS = 2
    await sh(alice, "true")
    await sh(alice, "for i in 1 2 3 4 5 6 7 8; do docker create busybox sleep 60 & done; wait")
    assert len(mine(alice)) == 2


async def test_a_listing_filter_that_would_look_among_everyones_is_refused(alice, bob):
    assert (await sh(bob, "docker run -d --name web1 busybox sleep 120")).exit_code == 0
    prefix = f"{settings.SANDBOX_NAMESPACE}-u{bob.id}-web1"
    for kind in ("before", "since"):
        tried = await sh(alice, f"docker ps -a --filter {kind}={prefix}")
        assert tried.exit_code != 0 and f"--filter {kind}" in tried.output, tried.output


async def test_a_container_the_platform_ran_for_a_student_is_not_theirs_to_touch(alice, tmp_path):
    # A run of a student's built image carries the image's owner label (the build lab's); only
    # the containers made through the gate are the student's through the CLI.
    (tmp_path / "Dockerfile").write_text("FROM baeum/lab:latest\n")
    tag = f"baeum-test/owned-{settings.SANDBOX_NAMESPACE}:v1"
    owner = {docker_gate.OWNER_LABEL: str(alice.id)}
    await asyncio.to_thread(engine.build_image, tag, str(tmp_path), {}, owner)
    spec = engine.ContainerSpec(tag, "sleep 120", "platform-run")
    platform = await asyncio.to_thread(engine.create_container, spec)
    try:
        assert engine.inspect(platform)["Config"]["Labels"][docker_gate.OWNER_LABEL] == str(
            alice.id
        )
        listed = await sh(alice, "docker ps -a -q --no-trunc")
        assert platform not in listed.output
        tried = await sh(alice, f"docker rm -f {platform}")
        assert "No such container" in tried.output
        assert platform in {c.id for c in engine.labelled_containers()}
    finally:
        await asyncio.to_thread(engine.remove, platform)
        await asyncio.to_thread(engine.remove_image, tag)


async def snapshot_of(user, until, timeout: float = 10) -> list[dict]:
    """The playground's container snapshot once `until(snapshot)` holds (it is written in the
    background), or the last one seen."""
    from sandbox.models import Playground

    live = SUPERVISED.playgrounds[user.id]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        playground = await Playground.objects.aget(pk=live.playground.pk)
        if until(playground.docker_containers) or loop.time() > deadline:
            return playground.docker_containers
        await asyncio.sleep(0.2)


async def test_the_instructor_sees_each_call_in_the_clis_words_and_the_containers(
    alice, monkeypatch
):
    from sandbox.models import DockerCall
    from sandbox.supervisor import docker_audit

    monkeypatch.setattr(docker_audit, "REFRESH_SECONDS", 1)
    assert (await sh(alice, "docker run -d --name web busybox sleep 120")).exit_code == 0
    assert (await sh(alice, "docker run --rm --privileged busybox true")).exit_code != 0
    assert (await sh(alice, "docker ps")).exit_code == 0  # a read: not recorded
    running = await snapshot_of(alice, lambda shown: len(shown) == 1)
    assert [(c["name"], c["image"], c["state"]) for c in running] == [("web", "busybox", "running")]
    # One that ends by itself leaves «지금 실행 중» without another call.
    assert (await sh(alice, "docker run -d --name brief busybox sleep 1")).exit_code == 0
    ended = await snapshot_of(
        alice, lambda shown: any(c["name"] == "brief" and c["state"] == "exited" for c in shown)
    )
    assert {c["name"]: c["state"] for c in ended} == {"web": "running", "brief": "exited"}
    calls = [
        (call.summary, call.refused)
        async for call in DockerCall.objects.filter(
            playground_id=SUPERVISED.playgrounds[alice.id].playground.pk
        ).order_by("created_at")
    ]
    said = [summary for summary, _refused in calls]
    assert "create --name web busybox sleep 120" in said and "start web" in said, calls
    refused = [summary for summary, was_refused in calls if was_refused]
    assert len(refused) == 1 and "--privileged" in refused[0], calls
    assert not any(summary == "ps" or "json" in summary for summary in said), calls
    assert all(f"-u{alice.id}-" not in summary for summary in said), calls  # their own names


DOCKERFILE = (
    "mkdir -p app && cd app && echo built-by-alice > hello.txt && printf '%s\\n' "
    "'FROM busybox' 'COPY hello.txt /hello.txt' 'RUN wc -c /hello.txt' "
    '\'CMD ["cat", "/hello.txt"]\' > Dockerfile'
)


def own_images(user) -> list[str]:
    """The images the student built through a gate, in this deployment."""
    labels = [
        f"{engine.SANDBOX_LABEL}={settings.SANDBOX_NAMESPACE}",
        f"{docker_gate.OWNER_LABEL}={user.id}",
        f"{docker_gate.VIA_LABEL}={docker_gate.VIA}",
    ]
    return [tag for image in engine.images_labelled(*labels) for tag in image["RepoTags"] or []]


async def test_a_student_builds_an_image_runs_it_and_nobody_else_sees_it(alice, bob):
    assert (await sh(alice, DOCKERFILE)).exit_code == 0
    built = await sh(alice, "cd app && docker build -t myapp:v1 .", timeout=180)
    assert built.exit_code == 0, built.output
    assert "FROM busybox" in built.output and "Successfully tagged myapp:v1" in built.output
    assert "baeum" not in built.output, built.output  # their names, not the engine's
    ran = await sh(alice, "docker run --rm myapp:v1")
    assert ran.output.strip() == "built-by-alice", ran.output
    listed = await sh(alice, "docker images --format '{{.Repository}}:{{.Tag}}'")
    assert {"busybox:latest", "myapp:v1"} <= set(listed.output.split()), listed.output
    history = await sh(alice, "docker history myapp:v1 --format '{{.CreatedBy}}'")
    assert "COPY" in history.output and "baeum" not in history.output, history.output
    # Their own image is a base for the next, and tags and removal are theirs.
    second = "cd app && printf '%s\\n' 'FROM myapp:v1' 'CMD [\"echo\", \"second\"]' > Dockerfile.v2"
    assert (await sh(alice, second)).exit_code == 0
    built = await sh(alice, "cd app && docker build -f Dockerfile.v2 -t myapp:v2 .", timeout=180)
    assert built.exit_code == 0, built.output
    assert (await sh(alice, "docker run --rm myapp:v2")).output.strip() == "second"
    assert (await sh(alice, "docker tag myapp:v1 myapp:keep")).exit_code == 0
    assert (await sh(alice, "docker rmi myapp:keep")).exit_code == 0
    assert (await sh(alice, "docker rmi busybox")).exit_code != 0  # the shelf stays
    # Bob sees none of it, and cannot run, tag or build from it.
    listed = await sh(bob, "docker images --format '{{.Repository}}'")
    assert "busybox" in listed.output.split() and "myapp" not in listed.output, listed.output
    assert (await sh(bob, "docker run --rm myapp:v1")).exit_code != 0
    assert (await sh(bob, "docker tag myapp:v1 mine:v1")).exit_code != 0
    stolen = await sh(
        bob,
        "mkdir -p b && cd b && printf 'FROM myapp:v1\\n' > Dockerfile && docker build -t x .",
        timeout=60,
    )
    assert stolen.exit_code != 0 and "FROM" in stolen.output, stolen.output
    assert sorted(own_images(alice)) == [
        f"{images_prefix(alice)}myapp:v1",
        f"{images_prefix(alice)}myapp:v2",
    ]
    # The images go with the terminal.
    await playgrounds.end(SUPERVISED.playgrounds[alice.id], "test")
    assert own_images(alice) == []


def images_prefix(user) -> str:
    return f"baeum-docker/{settings.SANDBOX_NAMESPACE.lower()}-u{user.id}/"


@pytest.mark.parametrize(
    "dockerfile, named",
    [
        ("FROM busybox\\nADD http://example.com/x /x", "ADD"),
        ("FROM nginx:1.27", "FROM"),
        ("FROM busybox\\nUSER 0", "USER"),
        ("ARG B=busybox\\nFROM $B", "변수 없이"),
        ("FROM busybox AS one\\nFROM busybox\\nCOPY --from=busybox /bin/sh /x", "COPY --from"),
        ("FROM busybox\\nLABEL baeum.via=docker-gate", "LABEL"),
    ],
)
async def test_a_build_is_judged_as_the_build_lab_judges_it(alice, dockerfile, named):
    made = await sh(alice, f"mkdir -p j && cd j && printf '{dockerfile}\\n' > Dockerfile")
    assert made.exit_code == 0
    tried = await sh(alice, "cd j && docker build -t judged .", timeout=60)
    assert tried.exit_code != 0 and named in tried.output, tried.output
    assert own_images(alice) == []


async def test_a_build_has_no_network(alice):
    offline = "mkdir -p n && cd n && printf '%s\\n' 'FROM busybox' 'RUN wget -T 3 http://10.0.0.1/' > Dockerfile"
    assert (await sh(alice, offline)).exit_code == 0
    tried = await sh(alice, "cd n && docker build -t offline .", timeout=120)
    assert tried.exit_code != 0 and "returned a non-zero code" in tried.output, tried.output


async def test_build_args_are_judged_with_the_dockerfile(alice):
    made = await sh(
        alice,
        "mkdir -p a && cd a && printf '%s\\n' 'FROM busybox' 'ARG U=1000' 'ARG MSG=default'"
        " 'USER $U' 'RUN echo said-$MSG' > Dockerfile",
    )
    assert made.exit_code == 0
    said = await sh(alice, "cd a && docker build --build-arg MSG=hello -t args .", timeout=120)
    assert said.exit_code == 0 and "said-hello" in said.output, said.output
    root = await sh(alice, "cd a && docker build --build-arg U=0 -t args .", timeout=60)
    assert root.exit_code != 0 and "USER" in root.output, root.output  # root, refused


def shelf_built() -> bool:
    from sandbox.shelf import SHELF

    missing = [name for name, local in SHELF.items() if not engine.image_exists(local)]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"the shelf is not built here ({', '.join(missing)}): make shelf")
    return not missing


async def test_the_shelfs_images_work_through_the_cli(alice):
    assert await asyncio.to_thread(shelf_built), "make shelf: CI builds the shelf first"
    python = await sh(alice, "docker run --rm python python -c 'print(6 * 7)'")
    assert python.output.strip() == "42", python.output
    debian = await sh(alice, "docker run --rm debian cat /etc/debian_version")
    assert debian.output.strip().startswith("12."), debian.output
    assert (await sh(alice, "docker network create app")).exit_code == 0
    assert (await sh(alice, "docker run -d --name web --network app nginx")).exit_code == 0
    assert (await sh(alice, "docker run -d --name cache --network app redis")).exit_code == 0
    page = await sh(
        alice,
        "for i in 1 2 3 4 5 6 7 8 9 10; do docker run --rm --network app busybox "
        "wget -qO- -T 2 http://web:8080/ && break; sleep 0.5; done",
    )
    assert "Welcome to nginx" in page.output, page.output
    pong = await sh(
        alice,
        "for i in 1 2 3 4 5 6 7 8 9 10; do docker run --rm --network app redis "
        "redis-cli -h cache ping && break; sleep 0.5; done",
    )
    assert "PONG" in pong.output, pong.output
    listed = await sh(alice, "docker images --format '{{.Repository}}'")
    assert set(listed.output.split()) == {"busybox", "debian", "nginx", "redis", "python"}


COMPOSE_FILE = """mkdir -p proj && cd proj && cat > compose.yaml <<'YAML'
services:
  web:
    image: busybox
    command: sh -c 'mkdir -p /tmp/w && echo hello-compose > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w'
  probe:
    image: busybox
    command: sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 http://web:8080/ && exit; sleep 0.5; done'
    depends_on: [web]
    volumes: [data:/data]
volumes:
  data: {}
YAML
"""


async def test_compose_brings_a_project_up_and_down_through_the_gate(alice, bob):
    assert (await sh(alice, COMPOSE_FILE)).exit_code == 0
    up = await sh(alice, "cd proj && docker compose up -d", timeout=120)
    assert up.exit_code == 0 and "Container proj-web-1  Started" in up.output, up.output
    listed = await sh(alice, "cd proj && docker compose ps -a --format '{{.Name}}'")
    assert sorted(listed.output.split()) == ["proj-probe-1", "proj-web-1"], listed.output
    logs = await sh(
        alice,
        "cd proj && for i in $(seq 20); do docker compose logs probe | grep -q hello-compose"
        " && break; sleep 0.5; done; docker compose logs --no-log-prefix probe",
    )
    assert "hello-compose" in logs.output, logs.output  # by the service's name, on its network
    assert own_networks(alice) and own_volumes(alice)  # made through the gate, as theirs
    # Bob's compose sees no project of that name.
    theirs = await sh(bob, "docker compose -p proj ps -a -q")
    assert theirs.exit_code == 0 and theirs.output.strip() == "", theirs.output
    down = await sh(alice, "cd proj && docker compose down -v", timeout=120)
    assert down.exit_code == 0, down.output
    assert mine(alice) == [] and own_networks(alice) == [] and own_volumes(alice) == []


async def test_a_student_pushes_to_the_registry_and_pulls_back_their_own(alice, bob):
    from sandbox.supervisor import docker_registry

    if not docker_registry.available():
        if os.environ.get("CI") == "true":
            pytest.fail("no baeum/registry: prepare-machine keeps docker-registry's binary")
        pytest.skip("no docker-registry binary here: bash scripts/prepare-machine.sh")
    assert (await sh(alice, DOCKERFILE)).exit_code == 0
    assert (await sh(alice, "cd app && docker build -q -t myapp:v1 .", timeout=180)).exit_code == 0
    tagged = await sh(alice, "docker tag myapp:v1 localhost:5000/myapp:v1")
    assert tagged.exit_code == 0, tagged.output
    pushed = await sh(alice, "docker push localhost:5000/myapp:v1", timeout=120)
    assert pushed.exit_code == 0 and "v1: digest: sha256:" in pushed.output, pushed.output
    assert "127.0.0.1" not in pushed.output and "baeum" not in pushed.output, pushed.output
    removed = await sh(alice, "docker rmi localhost:5000/myapp:v1 myapp:v1")
    assert removed.exit_code == 0, removed.output
    pulled = await sh(alice, "docker pull localhost:5000/myapp:v1", timeout=120)
    assert pulled.exit_code == 0, pulled.output
    ran = await sh(alice, "docker run --rm localhost:5000/myapp:v1")
    assert ran.output.strip() == "built-by-alice", ran.output
    listed = await sh(alice, "docker images --format '{{.Repository}}:{{.Tag}}'")
    assert "localhost:5000/myapp:v1" in listed.output.split(), listed.output
    # Bob's localhost:5000 is his own path: alice's image is not there.
    theirs = await sh(bob, "docker pull localhost:5000/myapp:v1", timeout=60)
    assert theirs.exit_code != 0, theirs.output
    assert "127.0.0.1" not in theirs.output and f"u{alice.id}" not in theirs.output, theirs.output
    refused = await sh(alice, "docker push myapp:v1")
    assert refused.exit_code != 0 and "localhost:5000" in refused.output, refused.output


def dockerfile(folder: str, *lines: str) -> str:
    """A shell line writing a Dockerfile of `lines` in /work/`folder`."""
    quoted = " ".join(f"'{line}'" for line in lines)
    return f"mkdir -p {folder} && cd {folder} && printf '%s\\n' {quoted} > Dockerfile"


async def test_an_images_volume_and_health_check_are_the_profiles(alice):
    made = dockerfile("v", "FROM busybox", "VOLUME /data", "HEALTHCHECK --interval=1s CMD true")
    assert (await sh(alice, made)).exit_code == 0
    assert (await sh(alice, "cd v && docker build -q -t vol .", timeout=120)).exit_code == 0
    ran = await sh(alice, "docker run -d --name w vol sh -c 'echo x > /data/f; sleep 60'")
    assert ran.exit_code == 0, ran.output
    info = engine.inspect(mine(alice)[0].id)
    # No anonymous volume on the host's disk: a capped tmpfs where the image wants one.
    assert [m for m in info["Mounts"] if m["Type"] == "volume"] == [], info["Mounts"]
    assert "size=16m" in info["HostConfig"]["Tmpfs"]["/data"]
    assert info["Config"]["Healthcheck"]["Test"] == ["NONE"]  # never the engine's own loop
    shown = await sh(
        alice, "docker inspect w --format '[{{.NetworkSettings.SandboxKey}}] {{.State.Pid}}'"
    )
    assert shown.output.strip() == "[] 0", shown.output  # the host's netns path and pid


async def test_builds_are_counted_timed_and_run_in_the_builds_cgroup(alice, settings):
    settings.SANDBOX_DOCKER_MAX_IMAGES = 1
    assert (
        await sh(alice, dockerfile("c", "FROM busybox", "RUN cat /proc/self/cgroup"))
    ).exit_code == 0
    built = await sh(alice, "cd c && docker build --no-cache -t one .", timeout=120)
    assert built.exit_code == 0 and "/baeum-builds/" in built.output, built.output
    untagged = await sh(alice, "cd c && docker build --no-cache .", timeout=60)
    assert untagged.exit_code != 0 and "1개까지" in untagged.output, untagged.output
    assert (await sh(alice, "docker rmi one")).exit_code == 0
    settings.SANDBOX_BUILD_SECONDS = 3
    assert (await sh(alice, dockerfile("s", "FROM busybox", "RUN sleep 30"))).exit_code == 0
    slow = await sh(alice, "cd s && docker build --no-cache -t slow .", timeout=60)
    assert slow.exit_code != 0 and "3초를 넘어서 멈췄어요" in slow.output, slow.output
    # The engine cancels the build once its connection closes: no RUN step lives on.
    assert await builds_left_running(timeout=15) == 0
    assert own_images(alice) == []


async def builds_left_running(timeout: float) -> int:
    """The processes in the builds' cgroup once none are left, or after `timeout`."""
    current = "/sys/fs/cgroup/pids/baeum-builds/pids.current"
    for _ in range(int(timeout * 4)):
        with open(current) as count:
            left = int(count.read())
        if left == 0:
            return 0
        await asyncio.sleep(0.25)
    return left


async def test_a_second_build_at_once_is_refused(alice, settings):
    assert (await sh(alice, dockerfile("t", "FROM busybox", "RUN sleep 4"))).exit_code == 0
    both = await sh(
        alice,
        "cd t && (docker build --no-cache -q -t first . >/tmp/first 2>&1 &) && sleep 1.5 && "
        "docker build --no-cache -t second . ; sleep 4",
        timeout=120,
    )
    assert "이미 빌드 중이에요" in both.output, both.output


async def test_a_stop_timeout_past_the_bound_is_refused(alice):
    assert (await sh(alice, "docker run -d --name s busybox sleep 60")).exit_code == 0
    long = await sh(alice, "docker stop -t 100000 s")
    assert long.exit_code != 0 and "30초까지" in long.output, long.output


async def test_a_body_of_the_wrong_shape_is_answered_in_words(alice):
    assert (await sh(alice, "true")).exit_code == 0  # the terminal and its gate are up
    gate = SUPERVISED.docker_gates[alice.id]
    reader, writer = await asyncio.open_unix_connection(
        str(docker_gate.folder(gate.run_id) / "docker.sock")
    )
    body = b'{"Image": "busybox", "HostConfig": [1]}'
    writer.write(
        b"POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json"
        b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    answer = (await asyncio.wait_for(reader.read(4096), 10)).decode()
    writer.close()
    assert answer.startswith("HTTP/1.1 400") and "읽을 수 없어요" in answer, answer
