import uuid

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_up

pytestmark = [pytest.mark.docker, pytest.mark.browser]


def build(page, block):
    panel = block.locator("section.build")
    before = panel.get_attribute("id") if panel.count() else None
    block.get_by_role("button", name="빌드").click()
    fresh = block.locator(f"section.build:not([id='{before}'])") if before else panel
    fresh.locator(".run-status", has_text="빌드 완료").wait_for(timeout=60000)


def tag(page, block, version):
    form = block.locator(".tag-form").last
    form.get_by_label("이 빌드에 버전 이름 붙이기").fill(version)
    form.get_by_role("button", name="태그 붙이기").click()
    block.locator(".build-versions li", has_text=version).first.wait_for()


def test_build_rebuild_from_cache_and_change_a_line(page, live_server_url):
    sign_up(page, live_server_url, "builder", "/lessons/docker-08-build-cache/")
    block = page.locator("#build-layer-cache-lab")
    build(page, block)
    build(page, block)
    steps = block.locator(".build-step").all_inner_texts()
    assert all("캐시 사용" in step for step in steps[1:]), steps
    assert "지난 빌드" in block.locator(".build-compare").inner_text()
    assert "모든 단계가 캐시" in block.locator(".build-why").inner_text()
    assert block.locator(".layer-table tbody tr").count() == 4  # base + COPY, RUN, CMD
    page.screenshot(path="test-artifacts/build-cached.png", full_page=False)

    # Unique content: the engine's build cache outlives test runs.
    block.get_by_label("빌드에 넣을 파일: greeting.txt").fill(f"바뀐 인사말 {uuid.uuid4()}\n")
    build(page, block)
    states = [s.split("·")[0] for s in block.locator(".build-step-state").all_inner_texts()]
    assert [("캐시" in s) for s in states[1:]] == [False, False, False]
    assert "2단계" in block.locator(".build-why").inner_text()
    block.scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/build-lab.png", full_page=False)
    assert serious_accessibility_violations(page) == []


def test_tag_two_versions_and_roll_back(page, live_server_url):
    sign_up(page, live_server_url, "roller", "/lessons/docker-09-rollback/")
    block = page.locator("#build-rollback-lab")
    build(page, block)
    tag(page, block, "v1")
    block.get_by_role("button", name="v2-broken 내용 불러오기").click()
    page.wait_for_function(
        "() => document.querySelector('#build-rollback-lab textarea[name=\"file:app.sh\"]').value.includes('v2')"
    )
    build(page, block)
    tag(page, block, "v2")

    block.get_by_role("button", name="v2 실행").click()
    block.locator(".verdict--failed").wait_for(timeout=20000)
    block.get_by_role("button", name="v1 실행").click()
    block.locator(".verdict--passed").wait_for(timeout=20000)
    assert "주문 목록" in block.locator(".exercise-run .run-output").inner_text()
