"""The evidence model that decides abstention (rag/answer/evidence.py)."""

from __future__ import annotations

import json

from rag.answer.evidence import FEATURES, EvidenceModel, load_evidence_model


def _row(predicate: float, semantic: float) -> dict[str, float]:
    return dict.fromkeys(FEATURES, 0.5) | {"predicate_sentence": predicate, "semantic": semantic}


def test_packaged_model_scores_every_feature_as_a_probability() -> None:
    model = load_evidence_model()
    assert model.features == FEATURES
    p = model.probability(_row(1.0, 0.6))
    assert 0.0 < p < 1.0


def test_fit_learns_which_way_a_feature_points_and_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Answerable rows hold the predicate, unanswerable ones do not; semantic is noise.
    rows = [_row(1.0, s) for s in (0.3, 0.5, 0.7, 0.9)] + [_row(0.0, s) for s in (0.3, 0.5, 0.7, 0.9)]
    model = EvidenceModel.fit(rows, [1, 1, 1, 1, 0, 0, 0, 0], l2=1.0)
    assert model.probability(_row(1.0, 0.5)) > 0.8 > 0.2 > model.probability(_row(0.0, 0.5))
    path = tmp_path / "evidence.json"
    path.write_text(model.to_json("test"), encoding="utf-8")
    again = load_evidence_model(path)
    assert abs(again.probability(_row(1.0, 0.5)) - model.probability(_row(1.0, 0.5))) < 1e-4
    assert json.loads(path.read_text())["_comment"] == "test"
