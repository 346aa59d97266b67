"""The machine's set-up scripts, run for real on this machine (root, the real engine)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from sandbox import engine

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[1]


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True).stdout


@pytest.fixture
def root():
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root: the machine scripts need it")
        pytest.skip("needs root (ip link, iptables)")


def test_a_bridge_no_engine_network_owns_goes_with_its_nat_rule(root):
    """What an earlier engine left in the kernel (a bridge keeping its subnet, its MASQUERADE
    rule) is removed; a network the running engine owns keeps its bridge."""
    device = f"br-{uuid.uuid4().hex[:12]}"
    rule = ["POSTROUTING", "-s", "10.199.77.0/24", "!", "-o", device, "-j", "MASQUERADE"]
    kept = engine.create_run_network(f"machine-{uuid.uuid4().hex[:8]}")
    try:
        sh("ip", "link", "add", device, "type", "bridge")
        sh("ip", "addr", "add", "10.199.77.1/24", "dev", device)
        sh("iptables", "-t", "nat", "-A", *rule)
        said = sh("bash", str(ROOT / "scripts" / "stale-docker-bridges.sh"))
        assert device in said
        assert device not in sh("ip", "-o", "link", "show", "type", "bridge")
        assert device not in sh("iptables", "-t", "nat", "-S", "POSTROUTING")
        assert engine.bridge_device(kept) in sh("ip", "-o", "link", "show", "type", "bridge")
        # Again, with nothing left to remove (no NAT rule names a br-* bridge): quiet, exit 0.
        assert sh("bash", str(ROOT / "scripts" / "stale-docker-bridges.sh")) == ""
    finally:
        sh("ip", "link", "delete", device, check=False)
        sh("iptables", "-t", "nat", "-D", *rule, check=False)
        engine.remove_network(kept)
