"""Calibrate the abstention threshold on the development questions only.

The dev sets are ``eval/dev.jsonl`` (seed articles) and the dev split of every extra corpus
(``eval/corpora/<name>/dev.jsonl``), asked in one store holding the seeds and those corpora. The
held-out sets (``eval/questions.jsonl``, ``eval/corpora/<name>/questions.jsonl``) are never used
here, so their abstention figures stay an honest measurement.

Questions the answerer declines on its constraints (a number or name no sentence holds) have
evidence 0 and abstain whatever the threshold; the threshold decides the rest.

    python -m eval.calibrate            # evidence of every dev question, per corpus, and the best threshold
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from eval.corpora import CORPORA
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


def fit_alias_weight(questions: list[str]) -> tuple[float, float, float]:
    """The weight of display-form vectors that best reproduces the vector of the question with its
    name variants spelled out (the representation it replaces), over the dev questions naming an
    entity: (weight, mean cosine with it, mean cosine of the plain question's vector)."""
    import numpy as np

    from rag.embed import MiniLMOnnx
    from rag.retrieve.aliases import load_aliases
    from rag.retrieve.hybrid import mix_alias_vectors

    aliases = load_aliases()
    embedder = MiniLMOnnx()
    named = [q for q in questions if aliases.entities(q)]
    spelled = embedder.embed([aliases.dense_query(q) for q in named])
    plain = embedder.embed(named)
    displays = {c: embedder.embed_query(aliases.display(c)) for q in named for c in aliases.entities(q)}
    best = (0.0, -1.0)
    for w in np.arange(0.0, 1.51, 0.05):
        cos = [
            float(mix_alias_vectors(p, [displays[c] for c in aliases.entities(q)], float(w)) @ t)
            for q, p, t in zip(named, plain, spelled, strict=True)
        ]
        if np.mean(cos) > best[1]:
            best = (round(float(w), 2), float(np.mean(cos)))
    return best[0], best[1], float(np.mean(np.sum(plain * spelled, axis=1)))


def _unanswerable(item: dict[str, Any]) -> bool:
    return item["type"] == "unanswerable" or item.get("answerable") is False


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the dev questions and print the evidence distribution and the calibrated threshold."""
    from rag.pipeline import Pipeline

    ap = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=DEV_PATH, help="the seed corpus's dev questions")
    ap.add_argument("--seeds-only", action="store_true", help="leave the extra corpora out")
    ap.add_argument("--alias-only", action="store_true", help="only fit the alias vector weight")
    args = ap.parse_args(argv)
    sets: list[tuple[str, list[dict[str, Any]]]] = [("seeds", _load(args.questions))]
    corpora = [] if args.seeds_only else [c for c in CORPORA.values() if c.dev.is_file()]
    sets += [(c.name, _load(c.dev)) for c in corpora]
    w, cos, plain_cos = fit_alias_weight([it["question"] for _, items in sets for it in items])
    print(f"alias vector weight {w:.2f}: cosine with the spelled-out query {cos:.4f} (plain question {plain_cos:.4f})")
    if args.alias_only:
        return 0
    ans: list[float] = []
    unans: list[float] = []
    per: dict[str, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.store.path = Path(tmp) / "store"
        settings.store.cache_dir = None
        settings.answer.mode = "extractive"
        settings.answer.min_evidence = -1.0  # never abstain on the score while measuring
        pipe = Pipeline.from_settings(settings)
        pipe.ingest()
        for c in corpora:
            pipe.ingest([c.docs])
        for name, items in sets:
            a_s, u_s = per.setdefault(name, ([], []))
            for it in items:
                a = pipe.ask(it["question"], history=it.get("history"))
                ev = a.evidence or 0.0
                (u_s if _unanswerable(it) else a_s).append(ev)
                (unans if _unanswerable(it) else ans).append(ev)
                tag = "unanswerable" if _unanswerable(it) else it["type"]
                print(f"{ev:6.3f}  {name:<9} {tag:<12} {it['question']}")
    t, acc = best_threshold(ans, unans)
    for name, (a_s, u_s) in per.items():
        declined = sum(e < t for e in u_s) / max(len(u_s), 1)
        wrong = sum(e < t for e in a_s) / max(len(a_s), 1)
        print(
            f"{name}: {len(a_s)} answerable (wrongly declined {wrong:.2f}), "
            f"{len(u_s)} unanswerable (declined {declined:.2f})"
        )
    print(f"\nanswerable evidence:   min {min(ans):.3f}  median {sorted(ans)[len(ans) // 2]:.3f}")
    print(f"unanswerable evidence: max {max(unans):.3f}  median {sorted(unans)[len(unans) // 2]:.3f}")
    print(f"best threshold {t:.3f} (balanced accuracy {acc:.3f}); current default {Settings().answer.min_evidence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
