"""The abstention score: a logistic model over the anchor sentence's features, fitted on the dev sets.

One similarity threshold cannot tell "Who founded the Haqqani network?" (the name is there, the
founding is not) from a question the sentence answers. The model combines the sentence's
semantic and lexical scores with constraint features: how much of the question's *predicate* (its
content words beyond the names: "founded", "born", "members in …") the sentence and its chunk
hold, and whether the sentence carries the answer type. Its weights are data (``rag/data/evidence.json``), written by
``python -m eval.calibrate --write`` from the dev questions only; the evidence of an answer is
the model's probability that the anchor sentence answers the question.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EVIDENCE_MODEL_PATH", "FEATURES", "EvidenceModel", "load_evidence_model"]

EVIDENCE_MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "evidence.json"

#: The features, in the model's order (see ``ExtractiveAnswerer.features``).
FEATURES = (
    "semantic",  # cosine of the sentence (pooled in its chunk) and the question
    "lexical",  # idf-weighted share of the question's terms in the sentence
    "predicate_sentence",  # idf-weighted share of the question's predicate terms in the sentence
    "predicate_chunk",  # the same in the sentence's chunk
    "typed",  # 1 when the sentence carries the answer type asked for
)
# Retrieval scores, the rare-name flag and whether the question has a predicate were features too;
# fitted on one dev corpus and tested on the other, the model without them transferred better.


@dataclass(frozen=True)
class EvidenceModel:
    """Standardised logistic regression: p = σ(b + Σ wᵢ (xᵢ − μᵢ) / σᵢ)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, x: Mapping[str, float]) -> float:
        """The probability that the sentence with features ``x`` answers the question."""
        z = self.bias
        for name, mu, sd, w in zip(self.features, self.mean, self.scale, self.weights, strict=True):
            z += w * (x[name] - mu) / sd
        return 1.0 / (1.0 + math.exp(-z))

    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, float]], labels: Sequence[int], l2: float = 10.0) -> EvidenceModel:
        """Fit on feature rows and 0/1 labels (1: answerable) by gradient descent with an L2 penalty."""
        import numpy as np

        x = np.array([[r[f] for f in FEATURES] for r in rows], dtype=float)
        y = np.array(labels, dtype=float)
        mu, sd = x.mean(axis=0), x.std(axis=0)
        sd[sd < 1e-9] = 1.0
        z = (x - mu) / sd
        w, b = np.zeros(z.shape[1]), 0.0
        for _ in range(4000):
            p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
            w -= 0.1 * (z.T @ (p - y) + l2 * w) / len(y)
            b -= 0.1 * float(np.mean(p - y))
        return cls(FEATURES, tuple(mu.tolist()), tuple(sd.tolist()), tuple(w.tolist()), float(b))

    def to_json(self, note: str = "") -> str:
        """The model as the JSON of ``rag/data/evidence.json``."""
        data = {
            "_comment": note,
            "features": list(self.features),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "weights": [round(v, 6) for v in self.weights],
            "bias": round(self.bias, 6),
        }
        return json.dumps(data, indent=2) + "\n"


def load_evidence_model(path: Path | None = None) -> EvidenceModel:
    """The packaged model (or the one at ``path``)."""
    where = path or EVIDENCE_MODEL_PATH
    # Each answerer built (one per lexical index) asks again: read the file once per version of it.
    return _load(str(where), where.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(where: str, _version: int) -> EvidenceModel:
    path = Path(where)
    data = json.loads(path.read_text(encoding="utf-8"))
    model = EvidenceModel(
        tuple(data["features"]),
        tuple(data["mean"]),
        tuple(data["scale"]),
        tuple(data["weights"]),
        float(data["bias"]),
    )
    missing = set(FEATURES) - set(model.features)
    if missing:
        raise ValueError(f"{path} lacks features {sorted(missing)}: run python -m eval.calibrate --write")
    return model
