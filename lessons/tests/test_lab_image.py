"""The lab image's tools behave as the lessons say, under the sandbox's hardening profile:
one build everywhere (FROM scratch around Debian's static busybox)."""

import pytest

from sandbox.api import runs
from sandbox.models import Run
from sandbox.supervisor import runs as following

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


async def run_in_lab(owner_id: int, command: str) -> Run:
    run = await runs.start_run(runs.RunSpec("baeum/lab", command, owner_id, "test", timeout=20))
    await following.wait_for_all()
    return await Run.objects.aget(pk=run.pk)


async def test_wget_with_a_timeout_fails_plainly_when_nothing_answers(alice):
    # Debian 12's busybox crashed here (SIGSEGV, exit 139): built without wget's -T.
    run = await run_in_lab(alice.pk, "wget -T 3 -q -O- http://127.0.0.1:1/")
    assert run.exit_code == 1, run.transcript
    assert "Segmentation fault" not in run.transcript


async def test_wget_gives_up_on_a_silent_server_after_its_timeout(alice):
    run = await run_in_lab(
        alice.pk,
        "sleep 10 | nc -l -p 8080 >/dev/null & sleep 0.3\n"
        "start=$(date +%s); wget -T 2 -q -O- http://127.0.0.1:8080/; code=$?\n"
        'echo "code=$code waited=$(( $(date +%s) - start ))"',
    )
    assert "download timed out" in run.transcript, run.transcript
    code, waited = (int(v.split("=")[1]) for v in run.transcript.split()[-2:])
    assert code == 1 and 1 <= waited <= 4, run.transcript


async def test_ps_prints_the_columns_the_lessons_count_with(alice):
    # kubernetes-01 and -02 count replicas with `ps | awk '$3 == "sleep" && $4 == "600"'`.
    run = await run_in_lab(
        alice.pk,
        "sleep 600 & sleep 600 & sleep 0.5; ps | head -1; "
        'echo "sleeping=$(ps | awk \'$3 == "sleep" && $4 == "600"\' | wc -l)"',
    )
    assert run.transcript.split("\n")[0].split() == ["PID", "USER", "COMMAND"], run.transcript
    assert "sleeping=2" in run.transcript, run.transcript
