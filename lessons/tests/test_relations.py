"""Editable exercises checked by the relation they teach (lessons/relations.py): the student's
own numbers, computed right, pass; a wrong computation or unreadable output fails."""

import subprocess

import pytest

from lessons.catalogue import catalogue
from lessons.relations import best_nodes, failures, hpa_desired


def hpa_line(current, metric, target, low, high, desired) -> str:
    return (
        f"  확인: current={current} metric={metric} target={target} min={low} max={high} "
        f"desired={desired}\n"
    )


@pytest.mark.parametrize(
    ("inputs", "want"),
    [
        ((4, 80, 50, 2, 10), 7),  # ceil(6.4)
        ((4, 100, 50, 2, 10), 8),  # exact: no rounding up
        ((4, 52, 50, 2, 10), 4),  # within the tolerance
        ((4, 55, 50, 2, 10), 4),  # ratio 1.1 exactly: still within
        ((4, 56, 50, 2, 10), 5),
        ((4, 10, 50, 2, 10), 2),  # held at minReplicas
        ((4, 200, 50, 2, 10), 10),  # held at maxReplicas
        ((3, 90, 60, 1, 10), 5),  # the lesson's question
    ],
)
def test_the_hpa_step(inputs, want):
    current, metric, target, low, high = inputs
    assert hpa_desired(current, metric, target, low, high) == want
    assert failures("hpa_replicas", hpa_line(*inputs, want)) == []
    reasons = failures("hpa_replicas", hpa_line(*inputs, want + 1))
    assert reasons and f"{want}개여야" in reasons[0]


@pytest.mark.parametrize(
    "output",
    [
        "",
        "레플리카 4개, 평균 CPU 80% / 목표 50% → 7개\n",  # no line to check
        "확인: current=4 metric=80 target=50 min=2 desired=7\n",  # max missing
        "확인: current=4 metric=eighty target=50 min=2 max=10 desired=7\n",
        "확인: current=4 metric=80 target=0 min=2 max=10 desired=7\n",
        "확인: current=4 metric=80 target=50 min=10 max=2 desired=7\n",
    ],
)
def test_hpa_output_that_cannot_be_read_fails(output):
    assert failures("hpa_replicas", output)


def place(strategy, used, req, node, cap="2000,2000") -> str:
    return f"확인: strategy={strategy} cap={cap} used={used} req={req} node={node}\n"


def test_the_scoring_strategies():
    assert best_nodes("LeastAllocated", [2000, 2000], [500, 0], 500) == {2}
    assert best_nodes("MostAllocated", [2000, 2000], [500, 0], 500) == {1}
    assert best_nodes("MostAllocated", [2000, 2000], [0, 0], 500) == {1, 2}  # a tie: either
    assert best_nodes("LeastAllocated", [2000, 2000], [1000, 500], 1800) == {0}  # Pending
    assert best_nodes("LeastAllocated", [4000, 1000], [3000, 0], 100) == {2}  # by fraction free


def test_bin_packing_recomputes_each_placement_and_follows_the_sums():
    right = place("MostAllocated", "0,0", 500, 2) + place("MostAllocated", "0,500", 700, 2)
    assert failures("bin_packing", right) == []
    wrong_node = place("MostAllocated", "0,0", 500, 2) + place("MostAllocated", "0,500", 700, 1)
    assert "2번 노드에 가야" in failures("bin_packing", wrong_node)[0]
    wrong_sum = place("MostAllocated", "0,0", 500, 2) + place("MostAllocated", "0,900", 700, 2)
    assert "used가 0,500여야" in failures("bin_packing", wrong_sum)[0]
    assert failures("bin_packing", place("LeastAllocated", "1000,500", 1800, 0)) == []
    assert failures("bin_packing", place("LeastAllocated", "1000,500", 1800, 1))


@pytest.mark.parametrize(
    "output",
    [
        "",
        place("Random", "0,0", 500, 1),
        place("MostAllocated", "0", 500, 1),  # one used for two nodes
        place("MostAllocated", "0,0", 500, 3),  # no third node
        place("MostAllocated", "0,x", 500, 1),
        "확인: strategy=MostAllocated cap=2000,2000 req=500 node=1\n",
    ],
)
def test_bin_packing_output_that_cannot_be_read_fails(output):
    assert failures("bin_packing", output)


def exercise(block: str):
    """The course's exercise of this id, in whichever lesson it lives."""
    return next(ls.exercises[block] for ls in catalogue().values() if block in ls.exercises)


def awk(command: str) -> str:
    """The exercise's awk run on the host's busybox, the lab image's own awk."""
    return subprocess.run(
        ["busybox", "sh", "-c", command], capture_output=True, text=True, timeout=20, check=True
    ).stdout


HPA_EDITS = [
    (
        "current = 4; target = 50; minR = 2; maxR = 10",
        "current = 3; target = 60; minR = 1; maxR = 6",
    ),
    ('split("80 52 10 200"', 'split("90 61 33 75 400"'),
]


BIN_EDITS = [
    ('split("500 500 500 1800", req', 'split("300 900 700 1200", req'),
    ("cap = 2000", "cap = 3000"),
]


EDITS = [("hpa-formula", *edit) for edit in HPA_EDITS] + [
    ("bin-packing", *edit) for edit in BIN_EDITS
]


@pytest.mark.parametrize(("block", "before", "after"), EDITS)
def test_an_editable_exercise_passes_with_the_students_own_numbers(block, before, after):
    edited = exercise(block)
    assert edited.expect.failures(0, awk(edited.command), False) == []
    assert before in edited.command
    changed = awk(edited.command.replace(before, after))
    assert edited.expect.failures(0, changed, False) == []
    # The plausible mistake stays a mistake with the student's numbers too.
    assert edited.expect.failures(0, awk(edited.wrong.replace(before, after)), False)


def test_hpa_formula_fails_a_wrong_computation():
    hpa = exercise("hpa-formula")
    floor = hpa.command.replace("ceil(current * ratio)", "int(current * ratio)")
    assert hpa.expect.failures(0, awk(floor), False)
    no_floor = hpa.command.replace("if (want < minR)", "if (0)")
    assert hpa.expect.failures(0, awk(no_floor), False)


def test_bin_packing_fails_a_wrong_scoring():
    packing = exercise("bin-packing")
    assert packing.expect.failures(0, awk(packing.wrong), False)
    always_first = packing.command.replace("score > bestScore", "best == 0")
    assert packing.expect.failures(0, awk(always_first), False)
