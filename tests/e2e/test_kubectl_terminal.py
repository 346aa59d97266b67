"""kubectl in the lesson page's terminal, in a real browser, against the real cluster; the
instructor, watching, sees the student's pods appear."""

import pytest

from tests.e2e.conftest import scaled_out, serious_accessibility_violations, sign_in, sign_up
from tests.e2e.test_dashboard import new_class
from tests.e2e.test_terminal import open_terminal, type_line, wait_for_screen

pytestmark = [pytest.mark.docker, pytest.mark.kubernetes, pytest.mark.browser]

LESSON = "/lessons/docker-01-what-is-a-container/"


@pytest.fixture(scope="module")
def kubectl_server(tmp_path_factory):
    """A server of the suite's shape whose terminals have kubectl (the suite's others do not)."""
    from tools.cluster import Cluster, SingleServer

    shape = Cluster if scaled_out() else SingleServer
    server = shape(tmp_path_factory.mktemp("kubectl-site"))
    server.env["SANDBOX_TERMINAL_KUBECTL"] = "1"
    server.start()
    try:
        yield server
    finally:
        server.manage("shell", "-c", "from sandbox import kube; kube.remove_all()")
        server.stop()


def test_a_student_runs_kubectl_and_the_instructor_sees_the_pods(browser, kubectl_server):
    base = kubectl_server.url
    pk, code = new_class(kubectl_server, "kubeprof", "쿠버네티스 반")
    teacher, student = browser.new_context(), browser.new_context()
    try:
        page = student.new_page()
        sign_up(page, base, "kubeuser", LESSON, code)
        open_terminal(page, timeout=60000)
        type_line(page, "kubectl get pods")
        wait_for_screen(page, "No resources found in", timeout=60000)
        type_line(page, "kubectl auth can-i list nodes")
        wait_for_screen(page, "\nno", timeout=30000)

        watching = teacher.new_page()
        sign_in(watching, base, "kubeprof", "prof-passphrase-42")
        watching.goto(f"{base}/classes/{pk}/")
        watching.get_by_role("link", name="터미널 보기").click()
        panel = watching.locator("#student-kubernetes")
        panel.get_by_text("파드가 없어요").wait_for(timeout=30000)

        type_line(page, "kubectl create deployment web --image=baeum/web:v1 --replicas=2")
        wait_for_screen(page, "deployment.apps/web created", timeout=30000)
        page.screenshot(path="test-artifacts/kubectl-terminal.png")
        assert serious_accessibility_violations(page) == []

        # The instructor's panel refreshes itself: the workload, then both pods running.
        panel.get_by_role("cell", name="2/2").wait_for(timeout=60000)
        assert panel.get_by_role("cell", name="Running").count() == 2
        watching.screenshot(path="test-artifacts/kubectl-instructor.png", full_page=True)
        assert serious_accessibility_violations(watching) == []
    finally:
        teacher.close()
        student.close()
