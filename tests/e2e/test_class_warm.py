"""수업 시작 in the browser: the instructor warms the class from the dashboard and watches the warm
pool fill, live (the panel polls); axe-core finds nothing serious; 수업 끝 shrinks it back (to the
site server's own SANDBOX_POOL_SIZE, 2)."""

import re

import pytest

from tests.e2e.conftest import serious_accessibility_violations, sign_in, sign_up
from tests.e2e.test_dashboard import LESSON, new_class

pytestmark = [pytest.mark.docker, pytest.mark.browser]

# Three more students of the class, signed in a moment ago (as a class that just sat down).
ONLINE = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from lessons.models import Classroom
classroom = Classroom.objects.get(pk={pk})
for name in ("seoyeon", "jiho", "haneul"):
    user = get_user_model().objects.create_user(name, password="a-long-passphrase-42")
    user.last_login = timezone.now()
    user.save()
    classroom.students.add(user)
"""


def test_the_instructor_warms_the_class_and_sees_the_pool_fill(browser, site_server):
    base = site_server.url
    pk, code = new_class(site_server, "warmprof", "쿠버네티스 2반")
    site_server.manage("shell", "-c", ONLINE.format(pk=pk))
    student = browser.new_context(locale="ko-KR")
    teacher = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1000})
    try:
        sign_up(student.new_page(), base, "minjun", LESSON, code)
        page = teacher.new_page()
        sign_in(page, base, "warmprof", "prof-passphrase-42")
        page.goto(f"{base}/classes/{pk}/")
        panel = page.locator("#warm")
        panel.get_by_role("button", name="수업 시작").wait_for(timeout=10000)
        panel.get_by_role("button", name="수업 시작").click()
        page.locator("#warm-status", has_text="온라인 학생 4명").wait_for(timeout=10000)
        # Live: the panel follows the pool as it fills, without a reload.
        page.locator("#warm-ready", has_text=re.compile(r"^4개")).wait_for(timeout=30000)
        assert "512.0" in page.locator("#warm-memory").inner_text()  # 4 × 128 MiB
        assert panel.get_by_role("button", name="온라인 학생 다시 세기").is_visible()
        page.screenshot(path="test-artifacts/dashboard-warm.png", full_page=False)
        assert serious_accessibility_violations(page) == []
        panel.get_by_role("button", name="수업 끝").click()
        panel.get_by_role("button", name="수업 시작").wait_for(timeout=10000)
        page.locator("#warm-ready", has_text=re.compile(r"^2개")).wait_for(timeout=10000)
    finally:
        student.close()
        teacher.close()
