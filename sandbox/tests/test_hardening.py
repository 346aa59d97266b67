import uuid

import pytest
from django.conf import settings

from sandbox import engine
from sandbox.tests.helpers import run_to_end


def test_profile_asks_for_every_confinement():
    profile = engine.hardening()
    assert profile["network_mode"] == "none"
    assert profile["mem_limit"] == profile["memswap_limit"] == settings.SANDBOX_MEMORY
    assert profile["pids_limit"] == settings.SANDBOX_PIDS
    assert profile["nano_cpus"] == int(settings.SANDBOX_CPUS * 1e9)
    assert profile["read_only"] is True
    assert profile["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in profile["security_opt"]
    assert profile["privileged"] is False
    assert profile["user"] == "1000:1000"
    assert profile["init"] is True
    assert {u["Name"] for u in profile["ulimits"]} == {"nofile", "fsize"}
    assert set(profile["tmpfs"]) == {"/tmp", "/work"}
    assert all("size=" in options for options in profile["tmpfs"].values())
    # Never anything that reaches the host.
    for forbidden in ("volumes", "devices", "cap_add", "pid_mode", "ipc_mode", "mounts"):
        assert forbidden not in profile


def test_an_exercise_may_lower_memory_but_never_raise_it():
    assert engine.hardening("32m")["mem_limit"] == "32m"
    assert engine.hardening("32m")["memswap_limit"] == "32m"
    assert engine.hardening("4g")["mem_limit"] == settings.SANDBOX_MEMORY


@pytest.mark.docker
def test_the_engine_creates_the_container_as_hardened():
    run_id = str(uuid.uuid4())
    container_id = engine.create_container(engine.ContainerSpec("baeum/lab", "true", run_id))
    try:
        info = engine.inspect(container_id)
    finally:
        engine.remove(container_id)
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == engine.parse_bytes(settings.SANDBOX_MEMORY)
    assert host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == settings.SANDBOX_PIDS
    assert host["NanoCpus"] == int(settings.SANDBOX_CPUS * 1e9)
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert not host["CapAdd"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert not any(opt.startswith("seccomp=unconfined") for opt in host["SecurityOpt"])
    assert host["Privileged"] is False
    assert host["Init"] is True
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "1"}}
    assert set(host["Tmpfs"]) == {"/tmp", "/work"}
    for options in host["Tmpfs"].values():
        assert "size=16m" in options and "nr_inodes=4096" in options and "nosuid" in options
    assert not host["Binds"] and not host["Devices"]
    assert not info["Mounts"] or all(m["Type"] == "tmpfs" for m in info["Mounts"])
    assert host["PidMode"] == "" and host["IpcMode"] in ("private", "")
    assert {(u["Name"], u["Soft"], u["Hard"]) for u in host["Ulimits"]} == {
        ("nofile", 256, 256),
        ("fsize", 16 * 2**20, 16 * 2**20),
    }
    assert info["Config"]["User"] == "1000:1000"
    assert info["Config"]["Labels"][engine.SANDBOX_LABEL] == settings.SANDBOX_NAMESPACE
    assert info["Config"]["Labels"][engine.RUN_LABEL] == run_id


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
async def test_inside_the_sandbox_nothing_reaches_out(alice):
    command = (
        "id -u; "
        "touch /etc/x 2>/dev/null && echo root-writable || echo root-read-only; "
        "awk -F: 'NR>2 {print \"dev\", $1}' /proc/net/dev; "
        "echo routes $(($(wc -l < /proc/net/route) - 1)); "
        "grep CapEff /proc/self/status"
    )
    run = await run_to_end(alice, command)
    lines = run.transcript.split("\n")
    assert lines[0] == "1000"
    assert "root-read-only" in lines
    assert [line.split()[1] for line in lines if line.startswith("dev")] == ["lo"]
    assert "routes 0" in lines  # no route anywhere, not even a default one
    assert "CapEff:\t0000000000000000" in run.transcript
