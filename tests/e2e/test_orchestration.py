import pytest

from sandbox import engine
from tests.e2e.conftest import serious_accessibility_violations, sign_up

pytestmark = [pytest.mark.docker, pytest.mark.browser]


def test_a_student_walks_the_self_healing_lab(page, live_server_url):
    if not engine.swarm_active():
        pytest.fail("the engine is not in swarm mode: `make orchestration` (CI runs it)")
    sign_up(page, live_server_url, "healer", "/lessons/kubernetes-04-self-healing/")
    lab = page.locator("#lab-self-heal")
    lab.get_by_role("button", name="적용").click()
    lab.locator(".lab-summary", has_text="현재 실행 중 3개").wait_for(timeout=60000)
    lab.locator(".replica--running").nth(2).wait_for(timeout=30000)
    page.wait_for_timeout(1500)  # let the replicas' health checks settle
    lab.locator(".replica--running").first.get_by_role("button", name="죽이기").click()
    lab.locator(".lab-recovery--done").wait_for(timeout=60000)
    assert "초 만에" in lab.locator(".lab-recovery--done").inner_text()
    lab.get_by_role("button", name="확인", exact=True).click()
    lab.locator(".feedback--right").wait_for(timeout=10000)
    lab.scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/self-healing-lab.png")
    assert serious_accessibility_violations(page) == []
