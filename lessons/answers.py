"""Fill-in answers judged as a teacher would.

Both the student's answer and each accepted form are normalized the same way: full-width
characters to half-width (NFKC), white space collapsed, surrounding quotes or backticks and a
trailing period dropped, case folded, `key:value` spaced as YAML writes it. A number may carry a
counter (`3개`, `1번`) or a unit of time (`300s`, `5분`): counters are dropped, times compared in
seconds, so `5m` is `300초` but `300분` is not. An answer that is close but wrong gets a hint
that says what was close, never the answer itself.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

QUOTES = {'"': '"', "'": "'", "`": "`", "“": "”", "‘": "’", "「": "」", "『": "』"}
# Suffixes a number may carry: a counter (no unit: `3개` is 3) or a unit of time, in seconds.
COUNTERS = ("개의", "번", "개", "명", "회", "배")
SECONDS = {"초": 1, "s": 1, "sec": 1, "secs": 1, "분": 60, "m": 60, "min": 60, "mins": 60}
_SUFFIX = "|".join(sorted([*COUNTERS, *SECONDS], key=len, reverse=True))
NUMBER = re.compile(rf"^([+-]?\d+(?:\.\d+)?)\s*({_SUFFIX})?$")
YAML_KEY = re.compile(r"^([a-z_][\w.-]*)\s*:\s*(?=\S)")
CLOSE_RATIO = 0.8  # difflib's similarity at which a misspelling counts as close


@dataclass(frozen=True)
class Judgement:
    right: bool
    hint: str = ""  # for a close miss: what was close, in words for the student


@dataclass(frozen=True)
class Quantity:
    number: Decimal  # as written
    seconds: Decimal | None  # with a unit of time; None for a bare or counted number


def normalize(text: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    while True:
        stripped = text.rstrip(".。").strip()
        if len(stripped) >= 2 and QUOTES.get(stripped[0]) == stripped[-1]:
            stripped = stripped[1:-1].strip()
        if stripped == text:
            break
        text = stripped
    text = text.casefold()
    text = re.sub(r"\s*,\s*", ", ", text)
    return YAML_KEY.sub(r"\1: ", text)


def quantity(normalized: str) -> Quantity | None:
    match = NUMBER.match(normalized)
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return None
    factor = SECONDS.get(match.group(2) or "")
    return Quantity(number, None if factor is None else number * factor)


def judge(given: str, answers: tuple[str, ...], ask: str = "") -> Judgement:
    """Whether `given` is one of `answers` once both are normalized, with a hint when close."""
    text = normalize(given)
    if not text:
        return Judgement(False)
    forms = {normalize(answer) for answer in answers}
    candidates = {text}
    key = YAML_KEY.match(text)
    if key and key.group(1) in normalize(ask):
        # `apiVersion: apps/v1` where the question asks for apiVersion's value.
        candidates.add(text[key.end() :])
    if candidates & forms:
        return Judgement(True)
    for candidate in candidates:
        judged = _judge_number(candidate, forms)
        if judged is not None:
            return judged
    words = [form for form in forms if quantity(form) is None]
    if len(text) >= 3 and any(
        difflib.SequenceMatcher(None, candidate, form).ratio() >= CLOSE_RATIO
        for candidate in candidates
        for form in words
    ):
        return Judgement(False, _("거의 맞았어요! 철자를 한 번 더 확인해 보세요."))
    return Judgement(False)


def _judge_number(text: str, forms: set[str]) -> Judgement | None:
    given = quantity(text)
    if given is None:
        return None
    accepted = [q for q in map(quantity, forms) if q is not None]
    if not accepted:
        return None
    timed = [q for q in accepted if q.seconds is not None]
    if given.seconds is None:
        if any(q.seconds is None and q.number == given.number for q in accepted):
            return Judgement(True)
    elif any(q.seconds == given.seconds for q in timed) or (
        not timed and any(q.number == given.number for q in accepted)
    ):
        # The same time in any unit; or a unit added to a number the lesson gave bare.
        return Judgement(True)
    if any(given.number in (q.number, q.seconds) for q in accepted):
        return Judgement(False, _("숫자는 맞았어요. 단위를 다시 확인해 보세요."))
    return Judgement(False)
