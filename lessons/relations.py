"""Relations an editable exercise's output must keep, whatever numbers the student chose
(`expect: {check: <name>}`).

The exercise's command prints, for each result, one line of `key=value` pairs with its inputs
and its result; the named function recomputes the result from the inputs and names every line
that disagrees. Output with no such line, or a line missing a key or with a malformed value,
fails: a relation that cannot be read is not kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction

from django.utils.translation import gettext as _

RELATIONS: dict[str, Callable[[str], list[str]]] = {}
PAIR = re.compile(r"([A-Za-z_]\w*)=([-\w.,]+)")
MAX_REASONS = 3


class Malformed(ValueError):
    pass


def relation(name: str):
    def register(function: Callable[[str], list[str]]):
        RELATIONS[name] = function
        return function

    return register


def failures(name: str, output: str) -> list[str]:
    return RELATIONS[name](output)


def records(output: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """Every output line that carries the first key, as a mapping; each must carry them all."""
    found = []
    for line in output.splitlines():
        pairs = dict(PAIR.findall(line))
        if keys[0] not in pairs:
            continue
        missing = [key for key in keys if key not in pairs]
        if missing:
            raise Malformed(
                _("`{line}` 줄에 {keys}가 없어요.").format(
                    line=line.strip(), keys=", ".join(missing)
                )
            )
        found.append(pairs)
    if not found:
        raise Malformed(
            _("출력에서 `{pairs}` 꼴의 확인용 줄을 찾지 못했어요.").format(
                pairs=" ".join(f"{key}=…" for key in keys)
            )
        )
    return found


def number(record: dict[str, str], key: str) -> Fraction:
    try:
        return Fraction(record[key])
    except (ValueError, ZeroDivisionError):
        message = _("{key}={value}는 숫자가 아니에요.")
        raise Malformed(message.format(key=key, value=record[key])) from None


def numbers(record: dict[str, str], key: str) -> list[int]:
    try:
        return [int(value) for value in record[key].split(",")]
    except ValueError:
        message = _("{key}={value}는 쉼표로 나눈 정수여야 해요.")
        raise Malformed(message.format(key=key, value=record[key])) from None


def _checked(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    def run(output: str) -> list[str]:
        try:
            reasons = check(output)
        except Malformed as error:
            return [str(error)]
        return reasons[:MAX_REASONS]

    return run


HPA_KEYS = ("desired", "current", "metric", "target", "min", "max")
HPA_TOLERANCE = Fraction(1, 10)


def hpa_desired(current: int, metric: Fraction, target: Fraction, low: int, high: int) -> int:
    """The HPA's one step (the lesson's rule): ceil(current × metric / target), left as it is
    when the ratio is within 10 % of 1, then kept between minReplicas and maxReplicas. In exact
    fractions: 55/50 is 1.1, inside the tolerance."""
    ratio = Fraction(metric) / Fraction(target)
    want = current if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(current * ratio)
    return max(low, min(high, want))


@relation("hpa_replicas")
@_checked
def hpa_replicas(output: str) -> list[str]:
    reasons = []
    for record in records(output, HPA_KEYS):
        current, metric, target, low, high, got = (
            number(record, key) for key in ("current", "metric", "target", "min", "max", "desired")
        )
        if target <= 0 or current < 1 or low > high or current.denominator != 1:
            raise Malformed(_("current는 1 이상, target은 0보다 크고, min은 max 이하여야 해요."))
        want = hpa_desired(int(current), metric, target, int(low), int(high))
        if got != want:
            reasons.append(
                _(
                    "레플리카 {current}개, 지표 {metric} / 목표 {target} (범위 {low}~{high})이면 "
                    "{want}개여야 하는데 {got}개로 계산했어요."
                ).format(
                    current=record["current"],
                    metric=record["metric"],
                    target=record["target"],
                    low=record["min"],
                    high=record["max"],
                    want=want,
                    got=record["desired"],
                )
            )
    return reasons


PLACE_KEYS = ("strategy", "cap", "used", "req", "node")
STRATEGIES = ("LeastAllocated", "MostAllocated")


def best_nodes(strategy: str, cap: list[int], used: list[int], req: int) -> set[int]:
    """The nodes (1-based) a scheduler with this scoring strategy may pick; {0}: none fits."""
    scores = {}
    for index, (size, taken) in enumerate(zip(cap, used, strict=True), start=1):
        after = taken + req
        if after > size:
            continue
        free = Fraction(size - after, size)
        scores[index] = 1 - free if strategy == "MostAllocated" else free
    if not scores:
        return {0}
    best = max(scores.values())
    return {index for index, score in scores.items() if score == best}


@relation("bin_packing")
@_checked
def bin_packing(output: str) -> list[str]:
    reasons = []
    expected_used: dict[str, list[int]] = {}
    for record in records(output, PLACE_KEYS):
        strategy = record["strategy"]
        if strategy not in STRATEGIES:
            raise Malformed(
                _("strategy는 {names} 중 하나여야 해요.").format(names=", ".join(STRATEGIES))
            )
        cap, used = numbers(record, "cap"), numbers(record, "used")
        req, node = int(number(record, "req")), int(number(record, "node"))
        if len(cap) != len(used) or not cap or min(cap) <= 0 or not 0 <= node <= len(cap):
            raise Malformed(
                _("cap과 used는 노드 수만큼, node는 0(Pending)에서 노드 수 사이여야 해요.")
            )
        if any(used) and expected_used.get(strategy) not in (None, used):
            reasons.append(
                _(
                    "{strategy}: 앞서 배치한 파드를 더하면 used가 {want}여야 하는데 {got}예요."
                ).format(
                    strategy=strategy,
                    want=",".join(map(str, expected_used[strategy])),
                    got=record["used"],
                )
            )
        allowed = best_nodes(strategy, cap, used, req)
        if node not in allowed:
            reasons.append(
                _("{strategy}: {req}m 파드는 {want}에 가야 하는데 {got}에 놓였어요.").format(
                    strategy=strategy,
                    req=req,
                    want=" 또는 ".join(_node_name(n) for n in sorted(allowed)),
                    got=_node_name(node),
                )
            )
        placed = list(used)
        if node:
            placed[node - 1] += req
        expected_used[strategy] = placed
    return reasons


def _node_name(node: int) -> str:
    return _("Pending") if node == 0 else _("{n}번 노드").format(n=node)
