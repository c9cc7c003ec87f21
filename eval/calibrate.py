"""Calibrate the abstention threshold on the development questions only.

The dev sets are ``eval/dev.jsonl`` (seed articles) and the dev split of every extra corpus
(``eval/corpora/<name>/dev.jsonl``), asked in one store holding the seeds and those corpora. The
held-out sets (``eval/questions.jsonl``, ``eval/corpora/<name>/questions.jsonl``) are never used
here, so their abstention figures stay an honest measurement.

Questions the answerer declines on its constraints (a number or name no sentence holds) have
evidence 0 and abstain whatever the threshold. For the rest, the evidence model
(:mod:`rag.answer.evidence`) is fitted on the anchor sentence's features, and the threshold on
its leave-one-out probabilities.

    python -m eval.calibrate            # evidence of every dev question, per corpus, and the best threshold
    python -m eval.calibrate --write    # also write the fitted model to rag/data/evidence.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from eval.corpora import CORPORA
from eval.questions import DEV_PATH
from rag.answer.evidence import EVIDENCE_MODEL_PATH, EvidenceModel
from rag.answer.extractive import ExtractiveAnswerer
from rag.settings import Settings


def best_threshold(
    answerable: list[float], unanswerable: list[float], min_answer_recall: float = 0.95
) -> tuple[float, float]:
    """The threshold maximising balanced accuracy while still answering ``min_answer_recall`` of the
    answerable questions (wrongly abstaining costs the user an answer); midpoints between scores."""
    # 0.95: the product declines at most 5 % of answerable questions. With a looser floor the best
    # cut rises with every easy answerable question added to the dev set, spending that margin.
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
    ap.add_argument("--write", action="store_true", help="write the fitted evidence model to rag/data/evidence.json")
    args = ap.parse_args(argv)
    sets: list[tuple[str, list[dict[str, Any]]]] = [("seeds", _load(args.questions))]
    corpora = [] if args.seeds_only else [c for c in CORPORA.values() if c.dev.is_file()]
    sets += [(c.name, _load(c.dev)) for c in corpora]
    w, cos, plain_cos = fit_alias_weight([it["question"] for _, items in sets for it in items])
    print(f"alias vector weight {w:.2f}: cosine with the spelled-out query {cos:.4f} (plain question {plain_cos:.4f})")
    if args.alias_only:
        return 0
    rows: list[tuple[str, dict[str, Any], dict[str, float] | None]] = []
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
        answerer = pipe.answerer
        if isinstance(answerer, ExtractiveAnswerer):
            answerer.collect_features = True
        for name, items in sets:
            for it in items:
                a = pipe.ask(it["question"], history=it.get("history"))
                query = pipe.retriever.prepare(a.standalone_question or it["question"])
                sel = pipe.answerer.select(query, pipe.retriever.retrieve(query))
                # The extractive answerer's Selection carries the anchor's features (not part of the protocol).
                rows.append((name, it, getattr(sel, "features", None)))
    scored = [(it, f) for _, it, f in rows if f is not None]
    labels = [0 if _unanswerable(it) else 1 for it, _ in scored]
    model = EvidenceModel.fit([f for _, f in scored], labels)
    # The threshold is chosen on leave-one-out probabilities: each question scored by a model fitted
    # without it, so the threshold does not reward the model for remembering its own questions.
    loo = [
        EvidenceModel.fit([f for j, (_, f) in enumerate(scored) if j != i], labels[:i] + labels[i + 1 :]).probability(f)
        for i, (_, f) in enumerate(scored)
    ]
    prob = {id(it): p for (it, _), p in zip(scored, loo, strict=True)}
    ans = [prob.get(id(it), 0.0) for _, it, _ in rows if not _unanswerable(it)]
    unans = [prob.get(id(it), 0.0) for _, it, _ in rows if _unanswerable(it)]
    t, acc = best_threshold(ans, unans)
    score = {id(it): f["score"] for _, it, f in rows if f is not None}
    t_score, acc_score = best_threshold(
        [score.get(id(it), 0.0) for _, it, _ in rows if not _unanswerable(it)],
        [score.get(id(it), 0.0) for _, it, _ in rows if _unanswerable(it)],
    )
    for name, it, f in rows:
        tag = "unanswerable" if _unanswerable(it) else it["type"]
        ev = "declined on constraints" if f is None else f"{score[id(it)]:.3f} {prob[id(it)]:.3f}"
        print(f"{ev:>12}  {name:<9} {tag:<12} {it['question']}")
    for name, _ in sets:
        a_s = [prob.get(id(it), 0.0) for n, it, _ in rows if n == name and not _unanswerable(it)]
        u_s = [prob.get(id(it), 0.0) for n, it, _ in rows if n == name and _unanswerable(it)]
        s_a = [score.get(id(it), 0.0) for n, it, _ in rows if n == name and not _unanswerable(it)]
        s_u = [score.get(id(it), 0.0) for n, it, _ in rows if n == name and _unanswerable(it)]
        print(
            f"{name}: {len(a_s)} answerable, wrongly declined {sum(e < t_score for e in s_a) / max(len(s_a), 1):.2f} "
            f"on the score, {sum(e < t for e in a_s) / max(len(a_s), 1):.2f} on the model; {len(u_s)} unanswerable, "
            f"declined {sum(e < t_score for e in s_u) / max(len(u_s), 1):.2f} on the score, "
            f"{sum(e < t for e in u_s) / max(len(u_s), 1):.2f} on the model"
        )
    weights = ", ".join(f"{n} {w:+.2f}" for n, w in zip(model.features, model.weights, strict=True))
    print(f"\nevidence model weights: {weights}")
    cur = Settings().answer
    print(
        f"score threshold {t_score:.3f} (balanced accuracy {acc_score:.3f}): answer.min_evidence, "
        f"now {cur.min_evidence}"
    )
    print(
        f"model threshold {t:.3f} (balanced accuracy {acc:.3f}, leave-one-out): answer.min_probability, "
        f"now {cur.min_probability}"
    )
    if args.write:
        n_dev = sum(len(items) for _, items in sets)
        note = (
            f"Fitted by python -m eval.calibrate --write on {n_dev} dev questions "
            f"({len(scored)} with an anchor sentence)."
        )
        EVIDENCE_MODEL_PATH.write_text(model.to_json(note), encoding="utf-8")
        print(f"wrote {EVIDENCE_MODEL_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
