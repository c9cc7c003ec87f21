"""Regression gate: the full question set, extractive mode, seed corpus, against eval/thresholds.json.

The floors are what the system achieved when they were set (rounded down); a metric may not fall
more than the file's tolerance below its floor. Latency is not gated (no timing assertions).
"""

from __future__ import annotations

from eval.runner import check_thresholds, load_questions, load_thresholds, run_suite
from rag.settings import Settings


def test_eval_suite_meets_its_floors() -> None:
    thresholds = load_thresholds()
    run = run_suite(load_questions(), Settings(answer={"mode": "extractive"}), fresh_store=True, compare=False)
    assert run.mode == "extractive"
    assert len(run.ours.items) == 115
    drops = check_thresholds(run.ours.metrics, thresholds)
    assert not drops, "eval metrics fell below the gate:\n" + "\n".join(drops)
