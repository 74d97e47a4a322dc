"""The soak's verdicts, table-driven: what counts as answered once, doubled, lost or out of order."""

from __future__ import annotations

import pytest

from tests.chaos.figures import answered_tokens, first_answer_times, judge, percentile

SENT = {0: ["t0m0", "t0m1", "t0m2"]}


@pytest.mark.parametrize(
    ("shown", "once", "doubled", "lost", "out_of_order"),
    [
        (["Answered: t0m0!", "Answered: t0m1! t0m2!"], 3, [], [], []),
        (["Answered: t0m0!", "Answered: t0m1!", "Answered: t0m1! t0m2!"], 2, ["t0m1"], [], []),
        (["Answered: t0m0!", "Answered: t0m2!"], 2, [], ["t0m1"], []),
        (["Answered: t0m0!", "Answered: t0m2!", "Answered: t0m1!"], 3, [], [], ["t0"]),
        # A partial answer marked interrupted, then the whole answer: once.
        (
            [
                "Answered: t0m0!",
                "Answered: t0m1!\n\n_(interrupted: the bot restarted)_",
                "Answered: t0m1! t0m2!",
            ],
            3,
            [],
            [],
            [],
        ),
        ([], 0, [], ["t0m0", "t0m1", "t0m2"], []),
        # A token cut in two by a broken stream is not an answer.
        (["Answered: t0m0! t0", "Answered: t0m1! t0m2!"], 3, [], [], []),
    ],
)
def test_judge(
    shown: list[str], once: int, doubled: list[str], lost: list[str], out_of_order: list[str]
) -> None:
    verdict = judge(SENT, {0: shown})
    assert (verdict.answered_once, verdict.doubled, verdict.lost, verdict.out_of_order) == (
        once,
        doubled,
        lost,
        out_of_order,
    )
    assert verdict.ok == (once == 3 and not out_of_order)


def test_an_answered_token_ends_with_a_bang() -> None:
    assert answered_tokens(["t1m2! xt1m4! t1m5. t1m6!"]) == ["t1m2", "t1m6"]


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([1.0], 95, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([float(i) for i in range(1, 101)], 95, 95.0),
    ],
)
def test_percentile(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


def test_first_answer_times_keep_the_earliest() -> None:
    assert first_answer_times([(1.0, "t0m0!"), (2.0, "t0m0! t0m1!")]) == {"t0m0": 1.0, "t0m1": 2.0}
