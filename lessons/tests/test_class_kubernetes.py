"""The instructor sees a student's pods and what they applied, on the student's terminal view:
only an instructor of the student's class, through the supervisor, from the real cluster."""

from __future__ import annotations

import glob
import shutil
import subprocess

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from sandbox import kube

pytestmark = [pytest.mark.kubernetes, pytest.mark.django_db(transaction=True)]

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "baeum/web:v1"}
"""


def kubectl_binary() -> str:
    """The cluster's own kubectl (`make kubernetes` builds it), else one on the PATH."""
    built = sorted(glob.glob("/var/cache/baeum/kubernetes/*/bin/kubectl"))
    found = built[-1] if built else shutil.which("kubectl")
    if found is None:
        pytest.fail("no kubectl: `make kubernetes` builds one", pytrace=False)
    return found


def student_applies(owner_id: int, tmp_path) -> None:
    """What the student does in their terminal: `kubectl apply` as themselves."""
    kube.provision(owner_id)
    config = tmp_path / "student.kubeconfig"
    config.write_text(kube.student_kubeconfig(owner_id))
    done = subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(config), "apply", "-f", "-"],
        input=MANIFEST,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(config), "rollout", "status", "deployment/web"],
        capture_output=True,
        timeout=90,
        check=True,
    )


async def _client(user) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    return client


@pytest.fixture
def namespaces():
    yield
    kube.remove_all()


async def test_the_instructor_sees_the_students_pods_and_what_they_applied(
    classroom, teacher, other_teacher, alice, bob, tmp_path, namespaces
):
    url = f"/classes/{classroom.pk}/students/{alice.pk}/kubernetes/"
    page = (await (await _client(teacher)).get(url)).content.decode()
    assert "아직 kubectl을 쓰지 않았어요" in page

    await sync_to_async(student_applies)(alice.pk, tmp_path)
    page = (await (await _client(teacher)).get(url)).content.decode()
    assert kube.namespace_name(alice.pk) in page
    assert "<code>web</code>" in page and "2/2" in page and "baeum/web:v1" in page
    assert page.count("Running") == 2
    assert "마지막으로 적용한(apply) 매니페스트" in page and "replicas: 2" in page

    # Nobody else: another instructor, the student herself, a student of no class of theirs.
    assert (await (await _client(other_teacher)).get(url)).status_code == 403
    assert (await (await _client(alice)).get(url)).status_code == 403
    stranger = f"/classes/{classroom.pk}/students/{bob.pk}/kubernetes/"
    assert (await (await _client(teacher)).get(stranger)).status_code == 404
    assert (await AsyncClient().get(url)).status_code in (302, 403)


async def test_without_a_cluster_the_panel_says_so(classroom, teacher, alice, settings):
    settings.KUBERNETES_KUBECONFIG = ""
    url = f"/classes/{classroom.pk}/students/{alice.pk}/kubernetes/"
    page = (await (await _client(teacher)).get(url)).content.decode()
    assert "쿠버네티스 클러스터가 없어요" in page
