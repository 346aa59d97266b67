"""The shelf's images (`make shelf`, scripts/build-shelf.sh) work under the hardening profile, on
the real engine: each container is made by engine.create_container, so read-only root, uid 1000,
no capabilities, tmpfs at /tmp and /work. Without the images the tests skip, under CI they fail.
"""

from __future__ import annotations

import os
import shlex
import uuid
from collections.abc import Iterator

import pytest

from sandbox import engine
from sandbox.shelf import SHELF

pytestmark = [pytest.mark.docker]

# A server's client tries for up to ten seconds: the server is started just before it.
RETRY = "for i in $(seq 50); do {} && exit 0; sleep 0.2; done; exit 1"


def shelf_image(name: str) -> str:
    """The shelf's local image for `name`; a skip without it, a failure under CI."""
    image = SHELF[name]
    if not engine.image_exists(image):
        message = f"{image} is missing: `make shelf` builds it"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " — CI must have it", pytrace=False)
        pytest.skip(message)
    return image


@pytest.fixture
def run_id() -> Iterator[str]:
    """A run of its own for a test's containers and network; all of them removed after."""
    run = f"shelf-{uuid.uuid4().hex[:8]}"
    yield run
    for container in engine.labelled_containers(also=f"{engine.RUN_LABEL}={run}"):
        engine.remove(container.id)
    for network in engine.labelled_networks():
        if network.run_id == run:
            engine.remove_network(network.name)


def run_to_end(spec: engine.ContainerSpec) -> tuple[int | None, str]:
    """Create, attach, start; its exit code and its output once it has ended."""
    container_id = engine.create_container(spec)
    stream = engine.attach(container_id)
    engine.start(container_id)
    try:
        output = b"".join(stream.chunks()).decode(errors="replace")
    finally:
        stream.close()
    engine.wait(container_id, timeout=30)
    return engine.exit_state(container_id).exit_code, output


def own_command(image: str) -> str:
    """The image's own CMD as the `sh -c` line ContainerSpec runs (as the engine would run it:
    the server is the container's main process, under the profile's init)."""
    return "exec " + shlex.join(engine.image_info(image)["Config"]["Cmd"])


def start_server(image: str, run_id: str, network: str, hostname: str) -> str:
    spec = engine.ContainerSpec(
        image, own_command(image), run_id, network=network, hostname=hostname
    )
    container_id = engine.create_container(spec)
    engine.start(container_id)
    return container_id


@pytest.mark.parametrize("name", [name for name in SHELF if name != "busybox"])
def test_each_image_is_made_for_the_profile(name):
    config = engine.image_info(shelf_image(name))["Config"]
    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/work"
    assert config["Labels"]["baeum.shelf"] == name
    assert config["Labels"]["baeum.shelf.recipe"]
    assert config["Cmd"]
    ports = {"nginx": {"8080/tcp"}, "redis": {"6379/tcp"}}.get(name, set())
    assert set(config.get("ExposedPorts") or {}) == ports


def test_the_shelf_names_what_students_type():
    assert SHELF["busybox"] == "baeum/lab:latest"
    for name in ("debian", "nginx", "redis", "python"):
        assert SHELF[name] == f"baeum/shelf-{name}:latest"


def test_debian_is_bookworm_and_runs_confined(run_id):
    command = (
        "cat /etc/os-release; id -u; whoami; "
        "touch /etc/x 2>/dev/null && echo root-writable || echo root-read-only; "
        "echo kept > /work/f && cat /work/f"
    )
    code, output = run_to_end(engine.ContainerSpec(shelf_image("debian"), command, run_id))
    assert code == 0, output
    assert "VERSION_CODENAME=bookworm" in output
    lines = output.split("\n")
    assert lines[-5:-1] == ["1000", "student", "root-read-only", "kept"]


def test_python_computes(run_id):
    command = (
        "python -c 'print(sum(i * i for i in range(10)))'; "
        "python3 -c 'import json, sqlite3; print(json.dumps({\"답\": 6 * 7}, ensure_ascii=False))'"
    )
    code, output = run_to_end(engine.ContainerSpec(shelf_image("python"), command, run_id))
    assert code == 0, output
    assert output.split() == ["285", '{"답":', "42}"]


def test_nginx_serves_its_page_on_8080_to_a_busybox_on_the_network(run_id):
    network = engine.create_run_network(run_id)
    start_server(shelf_image("nginx"), run_id, network, "web")
    wget = RETRY.format("wget -q -T 3 -O- http://web:8080/")
    code, output = run_to_end(
        engine.ContainerSpec("baeum/lab:latest", wget, run_id, network=network, hostname="client")
    )
    assert code == 0, output
    assert "<title>Welcome to nginx!</title>" in output


def test_redis_answers_ping_from_a_second_redis_container(run_id):
    network = engine.create_run_network(run_id)
    image = shelf_image("redis")
    start_server(image, run_id, network, "db")
    ping = RETRY.format("redis-cli -h db ping 2>/dev/null | grep -x PONG")
    code, output = run_to_end(
        engine.ContainerSpec(image, ping, run_id, network=network, hostname="client")
    )
    assert code == 0, output
    assert output.strip() == "PONG"
