"""The build lab cannot be turned against the host: every way we could think of to make the
engine fetch from the host's network, and to become root, tried for real.

A server listens on the host's loopback while each Dockerfile goes through the whole path
(validation, then the real engine when validation lets it through); it must receive nothing.
"""

import asyncio
import http.server
import threading

import pytest

from sandbox import engine
from sandbox.api import builds as api_builds
from sandbox.images import LAB_IMAGES
from sandbox.models import Build
from sandbox.supervisor import builds

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def loopback():
    """An HTTP server on 127.0.0.1 that records every request (a file, a git repo, a registry)."""
    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — http.server's naming
            seen.append(self.path)
            body = b"secret\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()


URL = "http://127.0.0.1:{port}/secret.txt"
VARIANTS = {
    # The reported hole: a URL in a build argument.
    "arg-in-add": "FROM baeum/lab\nARG SRC=" + URL + "\nADD $SRC /tmp/secret.txt\n",
    "default-form": "FROM baeum/lab\nADD ${{SRC:-" + URL + "}} /tmp/secret.txt\n",
    "alternative-form": "FROM baeum/lab\nARG S=1\nADD ${{S:+" + URL + "}} /tmp/secret.txt\n",
    "concatenation": "FROM baeum/lab\nARG H=127.0.0.1\nADD http://$H:{port}/secret.txt /tmp/s\n",
    "env": "FROM baeum/lab\nENV U=" + URL + "\nADD $U /tmp/secret.txt\n",
    "continuation": "FROM baeum/lab\nADD ht\\\ntp://127.0.0.1:{port}/secret.txt /tmp/s\n",
    "escape-directive": "# escape=`\nFROM baeum/lab\nADD ht`\ntp://127.0.0.1:{port}/s /tmp/s\n",
    "json-form": 'FROM baeum/lab\nADD ["' + URL + '", "/tmp/secret.txt"]\n',
    "lowercase": "FROM baeum/lab\nadd " + URL + " /tmp/secret.txt\n",
    "upper-scheme": "FROM baeum/lab\nADD HTTP://127.0.0.1:{port}/secret.txt /tmp/s\n",
    "quoted": 'FROM baeum/lab\nADD "' + URL + '" /tmp/secret.txt\n',
    "git-over-http": "FROM baeum/lab\nADD http://127.0.0.1:{port}/repo.git#main /src\n",
    "copy-url": "FROM baeum/lab\nCOPY " + URL + " /tmp/secret.txt\n",
    # Images pulled by the daemon: a registry on loopback is "insecure" by default, so plain HTTP.
    "from-registry": "FROM 127.0.0.1:{port}/lab\n",
    "from-arg": "ARG B=127.0.0.1:{port}/lab\nFROM $B\n",
    "from-default": "FROM ${{B:-127.0.0.1:{port}/lab}}\n",
    "copy-from-registry": "FROM baeum/lab\nCOPY --from=127.0.0.1:{port}/lab /bin/sh /x\n",
    "onbuild": "FROM baeum/lab AS a\nONBUILD ADD " + URL + " /x\nFROM a\n",
    "syntax-directive": "# syntax=127.0.0.1:{port}/frontend\nFROM baeum/lab\n",
    "heredoc": "FROM baeum/lab\nRUN <<EOF\nwget -O- " + URL + "\nEOF\n",
    "run-flag": "FROM baeum/lab\nRUN --network=host wget -O- " + URL + "\n",
    # Not refused by the rules, stopped by the build itself: RUN steps have no network.
    "run-wget": "FROM baeum/lab\nRUN wget -q -T 2 -O- " + URL + "\n",
}


async def attempt(owner, dockerfile: str) -> str:
    """The whole path; returns the refusal, or the build's end when it reached the engine."""
    try:
        started = await api_builds.start_build(
            api_builds.BuildSpec(owner.pk, "test/esc", dockerfile, {})
        )
    except api_builds.BuildRefused as refused:
        return f"refused: {refused}"
    await builds.wait_for_all()
    build = await Build.objects.aget(pk=started.pk)
    if build.state == Build.State.BUILT:
        await asyncio.to_thread(builds.remove_build_image, build)
    return f"{build.state}: {build.message}"


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_no_build_reaches_the_hosts_network(alice, loopback, variant):
    port, seen = loopback
    seen.clear()
    outcome = await attempt(alice, VARIANTS[variant].format(port=port))
    await asyncio.sleep(0.2)  # a request in flight would land by now
    assert seen == [], f"{variant}: the host's loopback server was asked {seen} ({outcome})"
    assert not outcome.startswith(Build.State.BUILT), outcome


ROOT_VARIANTS = {
    "user-root": "USER root",
    "user-zero": "USER 0",
    "user-zeros": "USER 000",
    "user-plus-zero": "USER +0",
    "user-zero-group": "USER 0:0",
    "user-root-group": "USER 1000:0",
    "user-wraps-to-zero": "USER 4294967296",
    "user-arg": "ARG U=root\nUSER $U",
    "user-default": "USER ${{U:-0}}",
    "user-env": "ENV U=0\nUSER ${{U}}",
    "user-name": "USER student",  # names resolve through /etc/passwd, which COPY can replace
    "chown-root": "COPY --chown=0:0 app.sh /tmp/app.sh",
    "setuid-chmod": "COPY --chmod=4755 app.sh /tmp/app.sh",
}


@pytest.mark.parametrize("variant", list(ROOT_VARIANTS))
async def test_no_way_to_root_is_accepted(alice, variant):
    dockerfile = "FROM baeum/lab\n" + ROOT_VARIANTS[variant].format() + "\nRUN id -u\n"
    with pytest.raises(api_builds.BuildRefused, match="USER|--chown|--chmod|ID"):
        await api_builds.start_build(
            api_builds.BuildSpec(alice.pk, "test/esc", dockerfile, {"app.sh": "id\n"})
        )
    assert not await Build.objects.aexists()


async def test_built_images_and_their_steps_never_run_as_root(alice):
    dockerfile = (
        "FROM baeum/lab AS first\nRUN echo step-uid=$(id -u)\n"
        "FROM first\nUSER 1000:1000\nRUN echo step-uid=$(id -u)\n"
    )
    outcome = await attempt(alice, dockerfile)
    build = await Build.objects.aget(label="test/esc")
    assert build.log.count("step-uid=1000") == 2 and "step-uid=0" not in build.log, outcome
    for tag in LAB_IMAGES:  # every image a build may start FROM runs as a user of its own
        user = engine.image_info(tag)["Config"]["User"]
        assert user and user.split(":")[0] not in {"0", "root"}, (tag, user)


async def test_what_the_rules_allow_still_builds(alice):
    dockerfile = (
        "# escape=\\\nARG BASE=baeum/lab\nFROM ${BASE:-baeum/lab} AS base\n"
        'ENV GREETING="hello there"\nCOPY --chown=1000:1000 app.sh /tmp/app.sh\n'
        "FROM base\nCOPY --from=base /tmp/app.sh /tmp/again.sh\nUSER 1000\n"
        'CMD ["sh", "/tmp/again.sh"]\n'
    )
    started = await api_builds.start_build(
        api_builds.BuildSpec(alice.pk, "test/esc", dockerfile, {"app.sh": "echo $GREETING\n"})
    )
    await builds.wait_for_all()
    build = await Build.objects.aget(pk=started.pk)
    assert build.state == Build.State.BUILT, build.message
    await asyncio.to_thread(builds.remove_build_image, build)
