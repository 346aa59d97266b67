"""Shared test set-up: named users, the Docker Engine check, and a per-run sandbox namespace."""

from __future__ import annotations

import os
import uuid

import pytest

from sandbox import engine
from sandbox.supervisor.state import SUPERVISED


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def docker_engine():
    """The real engine. On a laptop without one the test skips; under CI it fails."""
    if not engine.ping():
        message = "no Docker Engine answers (start dockerd, or set DOCKER_HOST)"
        if _ci():
            pytest.fail(message + " — CI must have one", pytrace=False)
        pytest.skip(message)
    if not engine.image_exists("baeum/lab"):
        pytest.fail("the lab image is missing: run `manage.py build_lab_images`", pytrace=False)


@pytest.fixture(scope="session")
def kubernetes_cluster():
    """The real cluster (`make kubernetes`, or KUBERNETES_KUBECONFIG). On a laptop without one
    the test skips; under CI it fails."""
    from sandbox import kube

    try:
        kube.namespaces()
    except kube.ClusterUnavailable as error:
        message = f"no Kubernetes cluster answers ({error}): `make kubernetes`"
        if _ci():
            pytest.fail(message + " — CI must have one", pytrace=False)
        pytest.skip(message)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "docker" in item.keywords:
            item.fixturenames.insert(0, "docker_engine")
        if "kubernetes" in item.keywords:
            item.fixturenames.insert(0, "kubernetes_cluster")


@pytest.fixture(autouse=True, scope="session")
def sandbox_namespace(tmp_path_factory):
    # This test run's containers are labelled apart from a developer's running server, so the
    # reaper of one never touches the other; the suite checks its own namespace is left empty.
    from django.conf import settings

    settings.SANDBOX_NAMESPACE = f"test-{uuid.uuid4().hex[:8]}"
    # Saved /work tars of this run apart from the developer's and from earlier runs' (user ids
    # start at 1 in every test database): in this process and in servers the tests start.
    workspaces = tmp_path_factory.mktemp("workspaces")
    settings.SANDBOX_WORKSPACE_DIR = workspaces
    os.environ["SANDBOX_WORKSPACE_DIR"] = str(workspaces)
    # Tests take the cold path unless they ask for the pool (and drain it when done).
    settings.SANDBOX_POOL_SIZE = 0
    # Terminals without kubectl unless a test asks (the kubectl tests, with a cluster): the other
    # terminal tests need neither the cluster nor its gate (here and in servers tests start).
    settings.SANDBOX_TERMINAL_KUBECTL = False
    os.environ["SANDBOX_TERMINAL_KUBECTL"] = "0"
    yield settings.SANDBOX_NAMESPACE
    # Whatever the tests did, they must leave nothing behind on the engine.
    if engine.ping():
        engine.remove_volumes()
        left = engine.labelled_containers(), engine.labelled_networks()
        assert left == ([], []), f"the suite left sandbox containers/networks behind: {left}"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="correct horse battery")


@pytest.fixture
def swarm(docker_engine):
    """The engine in swarm mode (the orchestration labs); labs a test left are ended."""
    from sandbox.supervisor import labs as orchestra

    if not engine.swarm_active():
        if _ci():
            pytest.fail("the engine is not in swarm mode: `make orchestration` (CI runs it)")
        pytest.skip("the engine is not in swarm mode (`make orchestration`)")
    yield
    for owner_id in list(SUPERVISED.labs):
        orchestra.end(owner_id)


@pytest.fixture
async def queue_left_empty():
    """Whatever a test did, nothing waits and nothing ticks on into the next test."""
    from sandbox.api import queue as runqueue
    from sandbox.models import QueuedRun
    from sandbox.supervisor import runs

    yield
    await QueuedRun.objects.all().adelete()
    await runqueue.settle()
    await runs.wait_for_all()
