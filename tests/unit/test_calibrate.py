"""The dev-set threshold search of ``python -m eval.calibrate``."""

from __future__ import annotations

from eval.calibrate import best_threshold


def test_the_threshold_answers_at_least_95_percent_of_answerable_questions() -> None:
    answerable = [0.1 * i for i in range(1, 21)]  # 20 questions: 0.1 … 2.0
    unanswerable = [0.15, 0.25, 0.35, 0.45]
    t, acc = best_threshold(answerable, unanswerable)
    assert sum(e >= t for e in answerable) >= 19  # at most one of 20 declined
    assert unanswerable[0] < t  # declined: below every answerable question but the lowest
    # A looser floor trades answers for declines: the cut moves up.
    loose, _ = best_threshold(answerable, unanswerable, min_answer_recall=0.8)
    assert loose > t
    assert 0.0 < acc <= 1.0


def test_no_cut_meets_the_floor_gives_zero() -> None:
    assert best_threshold([0.1], [0.9]) == (0.0, -1.0)
