from pathlib import Path

import pytest

from lessons.catalogue import LessonError, catalogue, load_lesson

FRONT = "---\ntitle: 시험\ntrack: docker\norder: 9\nminutes: 5\nsummary: 요약\n---\n"


def write(tmp_path: Path, body: str, name: str = "docker-09-test.md") -> Path:
    path = tmp_path / name
    path.write_text(FRONT + body, encoding="utf-8")
    return path


def test_a_lesson_splits_into_prose_exercises_and_questions(tmp_path):
    lesson = load_lesson(
        write(
            tmp_path,
            (
                "## 시작\n\n```sh\necho sample\n```\n\n"
                "```exercise\nid: hello\ntitle: 인사\ncommand: echo hi\neditable: true\n"
                "expect: {exit_code: 0, output: hi}\n```\n\n중간 글\n\n"
                "```question\nid: q1\nask: 무엇?\nchoices: [가, 나]\nanswer: 나\nexplain: 나예요\n```\n"
            ),
        )
    )
    assert [part.kind for part in lesson.parts] == ["html", "exercise", "html", "question"]
    assert 'class="highlight"' in lesson.parts[0].html  # sample code is highlighted
    exercise = lesson.exercises["hello"]
    assert exercise.command == "echo hi" and exercise.editable and exercise.timeout == 20
    assert exercise.expect.failures(0, "hi\n", False) == []
    assert exercise.expect.failures(1, "bye\n", False) != []
    assert lesson.questions["q1"].is_right(" 나 ") and not lesson.questions["q1"].is_right("가")


def test_a_fence_inside_a_sample_block_is_just_text(tmp_path):
    lesson = load_lesson(write(tmp_path, "````markdown\n```exercise\nnot: parsed\n```\n````\n"))
    assert not lesson.exercises
    assert "exercise" in lesson.parts[0].html


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ("```exercise\nid: x\ntitle: t\ncommand: [unclosed\n```\n", r"docker-09-test.md:13: YAML"),
        (
            "```exercise\nid: x\ntitle: t\ncommand: echo\nexpect: {exit_code: 0}\nrm: 1\n```\n",
            "모르는 키: rm",
        ),
        ("```exercise\nid: x\ntitle: t\ncommand: echo\n```\n", "expect"),
        (
            "```exercise\nid: x\ntitle: t\nimage: ubuntu\ncommand: echo\nexpect: {exit_code: 0}\n```\n",
            "image",
        ),
        ("```exercise\nid: X Y\ntitle: t\ncommand: echo\nexpect: {exit_code: 0}\n```\n", "id는"),
        (
            "```question\nid: q\nask: a\nchoices: [1, 2]\nanswer: 3\nexplain: e\n```\n",
            "answer는 choices",
        ),
        ("```question\nid: q\nask: a\nanswer: 3\n```\n", "explain"),
        ("```exercise\nid: x\ntitle: t\ncommand: echo\nexpect: {output: '('}\n```\n", "정규식"),
        ("```exercise\nid: x\ntitle: t\ncommand: echo\nexpect: {exit_code: 0}\n", "닫히지"),
    ],
)
def test_a_mistake_names_the_file_and_line(tmp_path, block, error):
    with pytest.raises(LessonError, match=error) as raised:
        load_lesson(write(tmp_path, "글\n\n" + block))
    assert "docker-09-test.md:" in str(raised.value)


def test_an_exercise_keeps_its_plausible_mistake(tmp_path):
    lesson = load_lesson(
        write(
            tmp_path,
            "```exercise\nid: a\ntitle: t\ncommand: echo hi\nwrong: echo bye\n"
            "expect: {output: hi}\n```\n\n"
            "```exercise\nid: b\ntitle: t\nexpect: {exit_code: 0}\n"
            "containers:\n- {name: web, command: httpd}\n- {name: c, command: wget web, main: true}\n"
            "wrong: {c: wget nowhere}\n```\n",
        )
    )
    single, together = lesson.exercises["a"], lesson.exercises["b"]
    assert single.has_wrong and single.mistaken().command == "echo bye"
    assert single.command == "echo hi"
    assert [c.command for c in together.mistaken().containers] == ["httpd", "wget nowhere"]
    assert [c.command for c in together.containers] == ["httpd", "wget web"]


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ("command: echo hi\nwrong: echo hi\n", "wrong이 command와 같습니다"),
        ("command: echo hi\nwrong: ''\n", "command가 비어"),
        (
            "containers:\n- {name: a, command: x}\n- {name: b, command: y, main: true}\n"
            "wrong: {z: echo}\n",
            "매핑",
        ),
        (
            "containers:\n- {name: a, command: x}\n- {name: b, command: y, main: true}\n"
            "wrong: echo\n",
            "매핑",
        ),
    ],
)
def test_a_wrong_that_is_not_a_mistake_is_refused(tmp_path, block, error):
    text = f"```exercise\nid: a\ntitle: t\nexpect: {{exit_code: 0}}\n{block}```\n"
    with pytest.raises(LessonError, match=error):
        load_lesson(write(tmp_path, text))


EXERCISE_A = "```exercise\nid: a\ntitle: t\ncommand: echo\nexpect: {exit_code: 0}\n```\n"
# The same id on blocks of every pair of kinds: a build, a lab and a question used to be checked
# only against some of the others (a question could reuse a build's id; the label and the
# class dashboard then mixed them up).
OTHERS_A = {
    "question": "```question\nid: a\nask: q\nanswer: x\nexplain: e\n```\n",
    "check": "```check\nid: a\ntitle: t\ncommand: 'true'\nsuccess: s\nfailure: f\n```\n",
    "build": "```build\nid: a\ntitle: t\ndockerfile: FROM baeum/lab\nrun: echo\n"
    "expect: {exit_code: 0}\n```\n",
    "orchestra": "```orchestra\nid: a\ntitle: t\nmanifest: m\ngoal: apply\n```\n",
}


@pytest.mark.parametrize("first", ["exercise", *OTHERS_A])
@pytest.mark.parametrize("second", ["exercise", *OTHERS_A])
def test_an_id_used_twice_is_refused_whatever_the_kinds(tmp_path, first, second):
    blocks = {"exercise": EXERCISE_A, **OTHERS_A}
    with pytest.raises(LessonError, match="두 번 쓰였습니다 \\(처음: 8번째 줄\\)"):
        load_lesson(write(tmp_path, blocks[first] + blocks[second]))


def test_front_matter_must_match_the_file_name(tmp_path):
    with pytest.raises(LessonError, match="파일 이름"):
        load_lesson(write(tmp_path, "글\n", name="docker-01-wrong.md"))


def test_every_shipped_lesson_loads():
    lessons = catalogue()
    assert "docker-01-what-is-a-container" in lessons
    for lesson in lessons.values():
        assert lesson.parts and lesson.title
        assert lesson.exercises or lesson.questions, f"{lesson.slug} has nothing to do"


def test_a_lessons_estimate_is_its_reading_plus_its_activities(tmp_path):
    prose = "가" * 1500  # three minutes at 500 characters a minute
    exercise = "```exercise\nid: a\ntitle: 제목 " + "길게" * 400 + "\ncommand: echo\n"
    exercise += "expect: {exit_code: 0}\n```\n"  # the block's YAML is not reading
    question = "```question\nid: q\nask: 무엇?\nanswer: 가\nexplain: 가예요\n```\n"
    lesson = load_lesson(write(tmp_path, f"{prose}\n\n{exercise}\n{question}"))
    assert lesson.prose_chars == 1500
    assert lesson.estimated_minutes == 3 + 2 + 1


def test_an_expected_relation_must_be_one_that_exists(tmp_path):
    block = "```exercise\nid: a\ntitle: t\ncommand: echo\nexpect: {check: %s}\n```\n"
    lesson = load_lesson(write(tmp_path, block % "hpa_replicas"))
    assert lesson.exercises["a"].expect.check == "hpa_replicas"
    assert lesson.exercises["a"].expect.failures(0, "nothing to read", False)
    with pytest.raises(LessonError, match="expect.check"):
        load_lesson(write(tmp_path, block % "no_such_relation"))


def test_a_build_exercise_keeps_its_plausible_mistake(tmp_path):
    block = (
        "```build\nid: b\ntitle: t\ndockerfile: |\n  FROM baeum/lab\n  COPY a /a\n"
        "files: {a: hi}\nrun: cat /a\nexpect: {output: hi}\nwrong: %s\n```\n"
    )
    lesson = load_lesson(write(tmp_path, block % "{files: {a: bye}}"))
    assert lesson.builds["b"].wrong == ("FROM baeum/lab\nCOPY a /a\n", (("a", "bye"),))
    with pytest.raises(LessonError, match="wrong이 dockerfile"):
        load_lesson(write(tmp_path, block % "{files: {a: hi}}"))
