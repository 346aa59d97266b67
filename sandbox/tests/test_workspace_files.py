"""Files in and out of a student's terminal /work, through the real views and the real engine:
upload and download round trips (in pieces, inside and with the separate supervisor over
Redis), the size cap, hostile names, a full /work, and nobody but the owner."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile

import pytest
from django.test import AsyncClient
from django.urls import reverse

from sandbox import engine
from sandbox.api import workspace_files
from sandbox.supervisor import playgrounds
from sandbox.tests.helpers import separate_supervisor
from sandbox.tests.test_scale_out import redis_url  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

UPLOAD = reverse("workspace_upload")
DOWNLOAD = reverse("workspace_download")
ARCHIVE = reverse("workspace_archive")
LIST = reverse("workspace_list")


@pytest.fixture
async def cleanup(settings, tmp_path):
    # Saved /work tars of this test alone: user ids repeat from one test database to the next,
    # and the default folder is named after the deployment, not the test run.
    settings.SANDBOX_WORKSPACE_DIR = tmp_path / "workspaces"
    yield
    await playgrounds.end_all()


async def signed_in(user, **options) -> AsyncClient:
    client = AsyncClient(**options)
    await client.aforce_login(user)
    return client


async def terminal_of(user) -> str:
    """Open the user's terminal (as its socket would) and return its container id."""
    live = await playgrounds.open_for(user.pk)
    return live.playground.container_id


async def in_terminal(container_id: str, command: str) -> engine.ExecResult:
    return await asyncio.to_thread(engine.exec_in, container_id, command, 10)


async def upload(client, content: bytes, filename: str = "hello.txt", name: str | None = None):
    sent = io.BytesIO(content)
    sent.name = filename
    data = {"file": sent} if name is None else {"file": sent, "name": name}
    return await client.post(UPLOAD, data)


def text(response) -> str:
    return response.content.decode()


async def test_a_file_goes_in_and_comes_back_out(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    response = await upload(client, "안녕\n".encode())
    assert response.status_code == 200
    assert text(response) == "hello.txt를 /work에 올렸어요."
    seen = await in_terminal(container, "cat /work/hello.txt; stat -c '%u:%g %a' /work/hello.txt")
    assert seen.output == "안녕\n1000:1000 644\n"

    # Bigger than one piece of the channel layer, both ways, byte for byte.
    blob = os.urandom(3 * workspace_files.CHUNK_BYTES + 123)
    assert (await upload(client, blob, "data.bin")).status_code == 200
    response = await client.get(DOWNLOAD, {"name": "data.bin"})
    assert response.status_code == 200 and response.content == blob
    assert response["Content-Disposition"] == 'attachment; filename="data.bin"'

    listed = text(await client.get(LIST))
    assert "hello.txt" in listed and "data.bin" in listed and "?name=data.bin" in listed

    response = await client.get(ARCHIVE)
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        names = set(archive.getnames())
        assert {"./hello.txt", "./data.bin"} <= names
        assert archive.extractfile("./hello.txt").read() == "안녕\n".encode()
        assert archive.extractfile("./data.bin").read() == blob


async def test_a_korean_name_and_an_existing_file_replaced(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    await in_terminal(container, "echo old > /work/메모.md")
    response = await upload(client, b"new\n", "메모.md")
    assert text(response) == "메모.md를 /work에 올렸어요."
    assert (await in_terminal(container, "cat /work/메모.md")).output == "new\n"
    response = await client.get(DOWNLOAD, {"name": "메모.md"})
    assert response.content == b"new\n"
    assert "filename*=utf-8''%EB%A9%94%EB%AA%A8.md" in response["Content-Disposition"]


async def test_an_upload_over_the_cap_is_refused_in_words(alice, cleanup, settings):
    settings.SANDBOX_UPLOAD_BYTES = 100 * 1024
    container = await terminal_of(alice)
    client = await signed_in(alice)
    response = await upload(client, b"x" * (100 * 1024 + 1), "big.bin")
    assert response.status_code == 413
    assert text(response) == "파일이 너무 커요 (100.0KiB). 한 번에 100.0KiB까지 올릴 수 있어요."
    # Far over the cap: refused from the request's length, before the body is parsed.
    response = await upload(client, b"x" * (1024 * 1024), "huge.bin")
    assert response.status_code == 413 and "너무 커요" in text(response)
    assert (await in_terminal(container, "ls -A /work")).output == ""
    # Exactly the cap goes in.
    assert (await upload(client, b"x" * (100 * 1024), "fits.bin")).status_code == 200


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("../x", "/ 나 \\ 는 쓸 수 없어요"),
        ("/etc/passwd", "/ 나 \\ 는 쓸 수 없어요"),
        ("a/b", "/ 나 \\ 는 쓸 수 없어요"),
        ("..\\x", "/ 나 \\ 는 쓸 수 없어요"),
        ("bad\0name", "NUL 문자"),
        ("two\nlines", "제어 문자"),
        ("tab\there", "제어 문자"),
        ("esc\x1b[31m", "제어 문자"),
        (".", "‘.’이나 ‘..’"),
        ("..", "‘.’이나 ‘..’"),
        ("a" * 300, "파일 이름이 너무 길어요 (300바이트). 255바이트까지"),
        ("가" * 100, "파일 이름이 너무 길어요 (300바이트)"),
    ],
)
async def test_hostile_names_are_refused_saying_what_is_wrong(alice, cleanup, name, said):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    response = await upload(client, b"pwned\n", "innocent.txt", name=name)
    assert response.status_code == 400
    assert said in text(response)
    assert (await in_terminal(container, "ls -A /work")).output == ""
    download = await client.get(DOWNLOAD, {"name": name})
    assert download.status_code == 400 and said in download.content.decode()


async def test_a_name_of_255_bytes_is_fine(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    name = "a" * 251 + ".txt"
    assert (await upload(client, b"ok\n", name)).status_code == 200
    assert (await in_terminal(container, f"cat /work/{name}")).output == "ok\n"


async def test_a_path_in_the_browsers_file_name_never_leaves_work(alice, cleanup):
    # Without the explicit name field, Django keeps only the base name of what the client sent.
    container = await terminal_of(alice)
    client = await signed_in(alice)
    response = await upload(client, b"x\n", "../../etc/escape")
    assert response.status_code == 200
    assert (await in_terminal(container, "ls -A /work")).output == "escape\n"
    assert (await in_terminal(container, "test -e /etc/escape")).exit_code == 1


async def test_a_folder_of_the_same_name_is_said_not_replaced(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    await in_terminal(container, "mkdir /work/notes && touch /work/notes/keep")
    response = await upload(client, b"x\n", "notes")
    assert response.status_code == 409
    assert text(response) == (
        "/work에 같은 이름의 폴더가 있어서 올리지 못했어요. 이름을 바꿔서 올려 주세요."
    )
    assert (await in_terminal(container, "ls /work/notes")).output == "keep\n"


async def test_folders_and_links_out_of_work_are_not_downloaded(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    await in_terminal(container, "mkdir /work/dir && ln -s /etc/passwd /work/link")
    response = await client.get(DOWNLOAD, {"name": "dir"})
    assert (
        response.status_code == 400 and "폴더는 하나씩 받을 수 없어요" in response.content.decode()
    )
    response = await client.get(DOWNLOAD, {"name": "link"})
    assert response.status_code == 404 and b"root:" not in response.content
    response = await client.get(DOWNLOAD, {"name": "nothing.txt"})
    assert response.status_code == 404 and "그런 파일이 없어요" in response.content.decode()


async def test_a_full_work_is_said_plainly(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    # Filled to the last block, 15 MiB a file (the fsize limit is 16 MiB), whatever its size.
    fill = "i=0; while head -c 15728640 /dev/zero > /work/filler$i; do i=$((i+1)); done"
    await in_terminal(container, f"{fill} 2>/dev/null")
    response = await upload(client, os.urandom(2 * 2**20), "more.bin")
    assert response.status_code == 507
    assert text(response).startswith("작업 폴더가 가득 찼어요")
    assert "tar" not in text(response) and "No space" not in text(response)
    # Nothing half-written is left, and once there is room a file goes in again.
    assert "more.bin" not in (await in_terminal(container, "ls -A /work")).output
    await in_terminal(container, "rm /work/filler0")
    assert (await upload(client, b"small\n", "small.txt")).status_code == 200
    # Two uploads at once that fit the room left one at a time, not together: one goes in, the
    # other is told /work is full (found by the check before tar, or by tar itself if both
    # passed the check), and no half-written file is left.
    await in_terminal(container, "rm /work/small.txt")
    first, second = os.urandom(7_900_000), os.urandom(7_900_000)  # 15.07 MiB in 15
    answers = await asyncio.gather(
        upload(await signed_in(alice), first, "first.bin"),
        upload(await signed_in(alice), second, "second.bin"),
    )
    assert sorted(a.status_code for a in answers) == [200, 507], [text(a) for a in answers]
    kept = "first.bin" if answers[0].status_code == 200 else "second.bin"
    listed = (await in_terminal(container, "ls -A /work")).output.split()
    assert kept in listed and ({"first.bin", "second.bin"} - {kept}).isdisjoint(listed)


async def test_with_no_terminal_open_the_student_is_told_to_open_it(alice, cleanup):
    client = await signed_in(alice)
    for response in (
        await upload(client, b"x\n"),
        await client.get(DOWNLOAD, {"name": "hello.txt"}),
        await client.get(ARCHIVE),
    ):
        assert response.status_code == 409
        assert "터미널을 먼저 열어 주세요" in response.content.decode()
    assert "터미널을 먼저 열어 주세요" in text(await client.get(LIST))


async def test_with_the_terminal_closed_its_saved_work_can_be_downloaded(alice, cleanup):
    container = await terminal_of(alice)
    client = await signed_in(alice)
    assert (await upload(client, b"kept\n", "kept.txt")).status_code == 200
    await in_terminal(container, "mkdir /work/dir && ln -s /etc/passwd /work/link")
    await playgrounds.end_all()  # the terminal ends; its /work is saved (supervisor/workspaces.py)

    response = await client.get(DOWNLOAD, {"name": "kept.txt"})
    assert response.status_code == 200 and response.content == b"kept\n"
    assert (await client.get(DOWNLOAD, {"name": "dir"})).status_code == 400
    assert (await client.get(DOWNLOAD, {"name": "link"})).status_code == 404
    assert (await client.get(DOWNLOAD, {"name": "gone.txt"})).status_code == 404
    response = await client.get(ARCHIVE)
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        assert archive.extractfile("./kept.txt").read() == b"kept\n"
    listed = text(await client.get(LIST))
    assert "kept.txt" in listed and "마지막으로 저장된 /work" in listed
    # Uploading still needs the terminal itself.
    response = await upload(client, b"x\n", "new.txt")
    assert response.status_code == 409 and "터미널을 먼저 열어 주세요" in text(response)


async def test_nobody_else_reaches_my_work(alice, bob, cleanup):
    await terminal_of(alice)
    mine = await signed_in(alice)
    assert (await upload(mine, b"alice-secret-42\n", "secret.txt")).status_code == 200

    theirs = await signed_in(bob)
    for response in (await theirs.get(DOWNLOAD, {"name": "secret.txt"}), await theirs.get(ARCHIVE)):
        assert response.status_code == 409 and b"alice-secret-42" not in response.content
    # With a terminal of his own, bob gets his own /work, never hers.
    bobs = await terminal_of(bob)
    response = await theirs.get(DOWNLOAD, {"name": "secret.txt"})
    assert response.status_code == 404 and b"alice-secret-42" not in response.content
    response = await theirs.get(ARCHIVE)
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        assert archive.getnames() == ["."]
    assert "secret.txt" not in text(await theirs.get(LIST))
    assert (await upload(theirs, b"from bob\n", "secret.txt")).status_code == 200
    assert (await in_terminal(bobs, "cat /work/secret.txt")).output == "from bob\n"
    assert (await mine.get(DOWNLOAD, {"name": "secret.txt"})).content == b"alice-secret-42\n"

    anonymous = AsyncClient()
    assert (await upload(anonymous, b"x\n")).status_code == 403
    for response in (
        await anonymous.get(DOWNLOAD, {"name": "secret.txt"}),
        await anonymous.get(ARCHIVE),
    ):
        assert response.status_code == 403 and b"alice-secret-42" not in response.content


async def test_an_upload_needs_the_csrf_token_and_a_post(alice, cleanup):
    await terminal_of(alice)
    client = await signed_in(alice, enforce_csrf_checks=True)
    assert (await upload(client, b"x\n")).status_code == 403
    assert (await client.get(UPLOAD)).status_code == 405
    plain = await signed_in(alice)
    assert (await plain.post(DOWNLOAD, {"name": "x"})).status_code == 405


async def test_with_the_separate_supervisor_files_travel_in_pieces(
    alice,
    cleanup,
    redis_url,  # noqa: F811
    settings,
):
    settings.SANDBOX_SUPERVISOR = "separate"
    async with separate_supervisor():
        client = await signed_in(alice)
        response = await upload(client, b"x\n")
        assert response.status_code == 409 and "터미널을 먼저" in text(response)
        container = await terminal_of(alice)
        blob = os.urandom(settings.SANDBOX_UPLOAD_BYTES)  # the whole cap: 16 pieces
        response = await upload(client, blob, "cap.bin")
        assert response.status_code == 200, text(response)
        assert (await in_terminal(container, "stat -c %s /work/cap.bin")).output == f"{len(blob)}\n"
        assert (await client.get(DOWNLOAD, {"name": "cap.bin"})).content == blob
        response = await client.get(ARCHIVE)
        with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
            assert archive.extractfile("./cap.bin").read() == blob
