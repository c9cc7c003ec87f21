"""Calibrate the abstention threshold on the development questions (``eval/dev.jsonl``).

The held-out evaluation set (``eval/questions.jsonl``) is never used here, so its
abstention figures stay an honest measurement.

    python -m eval.calibrate            # prints the evidence of every dev question and the best threshold
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

from rag.settings import Settings

DEV_PATH = Path(__file__).parent / "dev.jsonl"


def best_threshold(
    answerable: list[float], unanswerable: list[float], min_answer_recall: float = 0.9
) -> tuple[float, float]:
    """The threshold maximising balanced accuracy while still answering ``min_answer_recall`` of the
    answerable questions (wrongly abstaining costs the user an answer); midpoints between scores."""
    points = sorted(set(answerable) | set(unanswerable))
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(points)] or points
    best = (0.0, -1.0)
    for t in cuts:
        tpr = sum(e >= t for e in answerable) / max(len(answerable), 1)
        tnr = sum(e < t for e in unanswerable) / max(len(unanswerable), 1)
        acc = (tpr + tnr) / 2
        if tpr >= min_answer_recall and acc > best[1]:
            best = (t, acc)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the dev questions and print the evidence distribution and the calibrated threshold."""
    from rag.pipeline import Pipeline

    ap = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=DEV_PATH)
    args = ap.parse_args(argv)
    items = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.store.path = Path(tmp) / "store"
        settings.answer.min_evidence = -1.0  # never abstain while measuring
        pipe = Pipeline.from_settings(settings)
        pipe.ingest()
        ans: list[float] = []
        unans: list[float] = []
        for it in items:
            a = pipe.ask(it["question"])
            ev = a.evidence or 0.0
            (unans if it["type"] == "unanswerable" or it.get("answerable") is False else ans).append(ev)
            print(f"{ev:6.3f}  {it['type']:<12} {it['question']}")
    t, acc = best_threshold(ans, unans)
    print(f"\nanswerable evidence:   min {min(ans):.3f}  median {sorted(ans)[len(ans) // 2]:.3f}")
    print(f"unanswerable evidence: max {max(unans):.3f}  median {sorted(unans)[len(unans) // 2]:.3f}")
    print(f"best threshold {t:.3f} (balanced accuracy {acc:.3f}); current default {Settings().answer.min_evidence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
