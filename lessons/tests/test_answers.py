"""Fill-in answers judged as a teacher would (lessons/answers.py)."""

import pytest
from django.urls import reverse

from lessons.answers import judge
from lessons.catalogue import Question

BACKOFF = ("300", "300초", "5분")


@pytest.mark.parametrize(
    ("given", "answers"),
    [
        ("1번", ("1",)),
        ("3개", ("3",)),
        ("3 개", ("3",)),
        ("2개의", ("2",)),
        ("4명", ("4",)),
        ("2배", ("2",)),
        ("300s", ("300",)),
        ("300 sec", ("300",)),
        ("300s", BACKOFF),
        ("5m", BACKOFF),
        ("5 분", BACKOFF),
        ("300.0", BACKOFF),
        ("３００", BACKOFF),  # full-width digits
        ("ＡＢＣ", ("abc",)),
        ("ＵＰＰＥＲＤＩＲ", ("upperdir",)),
        ("apiVersion:apps/v1", ("apiVersion: apps/v1",)),
        ("apiVersion:  apps/v1", ("apiVersion: apps/v1",)),
        ("apiVersion：apps/v1", ("apiVersion: apps/v1",)),  # a full-width colon
        ("  docker   image\thistory ", ("docker image history",)),
        ('"latest"', ("latest",)),
        ("`docker history`", ("docker history",)),
        ("'etcd'.", ("etcd",)),
        ("kubelet.", ("kubelet",)),
        ("「upperdir」", ("upperdir",)),
        ("1,3,4", ("1, 3, 4",)),
        ("SIGKILL", ("sigkill",)),
    ],
)
def test_forms_a_teacher_would_accept(given, answers):
    assert judge(given, answers).right


@pytest.mark.parametrize(
    ("given", "answers"),
    [
        ("30", BACKOFF),
        ("300분", BACKOFF),  # the right number in the wrong unit
        ("5", BACKOFF),  # 5 what?
        ("3", ("13",)),
        ("13", ("3",)),
        ("kubectl", ("kubelet",)),
        ("apps/v2", ("apps/v1",)),
        ("", ("1",)),
        ("  ", ("1",)),
        ("개", ("1",)),
    ],
)
def test_wrong_answers_stay_wrong(given, answers):
    assert not judge(given, answers).right


def test_a_key_the_question_asks_for_may_come_with_its_value():
    ask = "디플로이먼트 매니페스트의 apiVersion에는 무엇을 적나요?"
    assert judge("apiVersion: apps/v1", ("apps/v1",), ask).right
    assert judge("apiversion:apps/v1", ("apps/v1",), ask).right
    assert not judge("kind: apps/v1", ("apps/v1",), ask).right
    assert not judge("apiVersion: apps/v1", ("apps/v1",), "무엇을 적나요?").right


def test_the_right_number_in_the_wrong_unit_is_told_so():
    judged = judge("300분", BACKOFF)
    assert not judged.right and "단위" in judged.hint
    assert "300" not in judged.hint and "5" not in judged.hint
    assert "단위" in judge("5", BACKOFF).hint


def test_a_near_miss_is_told_it_is_close_without_the_answer():
    judged = judge("kublet", ("kubelet",))
    assert not judged.right and "거의" in judged.hint and "kubelet" not in judged.hint
    assert judge("uperdir", ("upperdir",)).hint
    assert judge("전혀 다른 말", ("upperdir",)).hint == ""
    assert judge("29", BACKOFF).hint == ""  # a wrong number is just wrong


def test_choices_are_compared_as_they_are():
    question = Question("q", "무엇?", ("5분",), "설명", choices=("5분", "300분", "5"))
    assert question.is_right("5분") and question.is_right(" 5분 ")
    assert not question.is_right("300초")  # no unit arithmetic for a choice
    assert not question.is_right("5") and not question.is_right("300분")
    assert question.judge("5").hint == ""


@pytest.mark.django_db
def test_the_reply_to_a_close_answer_gives_the_hint_not_the_explanation(client):
    from lessons.catalogue import catalogue

    lesson, question, word = next(
        (lesson, q, q.answers[0])
        for lesson in catalogue().values()
        for q in lesson.questions.values()
        if not q.choices and q.answers[0].isalpha() and len(q.answers[0]) >= 6
    )
    url = reverse("question_answer", args=[lesson.slug, question.id])
    close = client.post(url, {"answer": word[:-1]}).content.decode()
    assert "거의 맞았어요" in close and question.explain not in close
    right = client.post(url, {"answer": f"「{word.upper()}」."}).content.decode()
    assert "맞아요!" in right
