"""kubectl in the lesson page's terminal, in a real browser, against the real cluster."""

import pytest

from tests.e2e.conftest import scaled_out, serious_accessibility_violations, sign_up
from tests.e2e.test_terminal import wait_for_screen

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


def test_a_student_runs_kubectl_in_the_lesson_terminal(page, kubectl_server):
    sign_up(page, kubectl_server.url, "kubeuser", LESSON)
    page.get_by_role("button", name="터미널 열기").click()
    page.locator("[data-terminal-status]", has_text="터미널이 열렸어요").wait_for(timeout=60000)
    wait_for_screen(page, "$ ", timeout=60000)
    page.keyboard.type("kubectl get pods")
    page.keyboard.press("Enter")
    wait_for_screen(page, "No resources found in", timeout=60000)
    page.keyboard.type("kubectl auth can-i list nodes")
    page.keyboard.press("Enter")
    wait_for_screen(page, "\nno", timeout=30000)
    page.screenshot(path="test-artifacts/kubectl-terminal.png")
    assert serious_accessibility_violations(page) == []
