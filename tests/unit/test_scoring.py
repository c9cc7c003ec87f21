"""Scoring and reporting with known answers: per-answer scores, aggregation, tables, reports, the gate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from eval.questions import check_thresholds, load_questions, load_thresholds
from eval.report import EvalRun, format_table, write_reports
from eval.scoring import METRICS, ItemResult, SystemRun, aggregate, score_item
from rag.types import Answer, Chunk, Citation, Quote, ScoredChunk
from rag.verify.cite import CANNOT_ANSWER

REQUIRED = {
    "hit_at_1",
    "hit_at_3",
    "hit_at_5",
    "recall_at_5",
    "mrr",
    "fact_recall",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "abstention_precision",
    "abstention_recall",
    "abstention_f1",
    "latency_p50_ms",
    "latency_p95_ms",
}

DOCS = {
    "a.txt": "The Taliban first emerged in 1994 during the civil war. They ruled Afghanistan from 1996 to 2001.",
    "b.txt": "ISKP was formed in 2015 in Nangarhar. It views the Taliban as apostates.",
}


def word_judge(statement: str, passages: Sequence[str]) -> bool:
    """Fake support judge: every word of the statement occurs in the joined passages."""
    words = set(" ".join(passages).lower().replace(".", " ").split())
    return all(w in words for w in statement.lower().replace(".", " ").split())


def _scored(source: str, rank: int) -> ScoredChunk:
    text = DOCS[source]
    chunk = Chunk(chunk_id=f"{source}#0", doc_id=source, source=source, text=text, start=0, end=len(text), index=0)
    return ScoredChunk(chunk=chunk, score=1.0 / rank, rank=rank)


def _citation(n: int, source: str, *quotes: str) -> Citation:
    qs = tuple(
        Quote(
            text=q,
            start=max(DOCS[source].find(q), 0),
            end=max(DOCS[source].find(q), 0) + len(q),
            chunk_id=f"{source}#0",
        )
        for q in quotes
    )
    return Citation(
        n=n, source=source, title=source, quote=quotes[0], chunk_id=f"{source}#0", score=1.0, start=0, end=0, quotes=qs
    )


def _answer(text: str, citations: list[Citation], retrieved: Sequence[str], abstained: bool = False) -> Answer:
    return Answer(
        question="q",
        text=text,
        citations=citations,
        retrieved=[_scored(s, i + 1) for i, s in enumerate(retrieved)],
        abstained=abstained,
    )


FACTOID = {"id": "t1", "question": "When?", "type": "factoid", "sources": ["a.txt"], "facts": [["1994"], ["omar"]]}
UNANSWERABLE = {"id": "t2", "question": "Who won?", "type": "unanswerable", "sources": [], "facts": []}


def _score(item: dict[str, Any], answer: Answer, ms: float = 10.0) -> ItemResult:
    return score_item(item, answer, ms, DOCS.__getitem__, word_judge)


# -- scoring one answer: known values -------------------------------------------------------------
def test_correct_cited_answer() -> None:
    q = "The Taliban first emerged in 1994 during the civil war."
    r = _score(FACTOID, _answer(f"{q} [1]", [_citation(1, "a.txt", q)], ["b.txt", "a.txt", "a.txt"]))
    s = r.scores
    assert r.retrieved_sources == ["b.txt", "a.txt"]  # repeats removed
    assert (s["hit_at_1"], s["hit_at_3"], s["hit_at_5"], s["recall_at_5"], s["mrr"]) == (0.0, 1.0, 1.0, 1.0, 0.5)
    assert s["fact_recall"] == 0.5 and r.missing_facts == ["omar"]
    assert (s["citation_validity"], s["citation_recall"], s["citation_precision"]) == (1.0, 1.0, 1.0)
    assert r.problems() == ["missing facts: omar"]


def test_abstention_on_answerable_item() -> None:
    r = _score(FACTOID, _answer(CANNOT_ANSWER, [], ["b.txt"], abstained=True))
    s = r.scores
    assert s["fact_recall"] == 0.0 and s["hit_at_5"] == 0.0 and s["mrr"] == 0.0
    assert s["citation_validity"] is None and s["citation_recall"] is None and s["citation_precision"] is None
    assert s["answer_words"] is None
    assert "abstained on an answerable question" in r.problems()
    assert any(p.startswith("no gold source in the top 5") for p in r.problems())


def test_answer_without_citations() -> None:
    r = _score(FACTOID, _answer("The Taliban first emerged in 1994 during the civil war.", [], ["a.txt"]))
    s = r.scores
    assert s["fact_recall"] == 0.5
    assert s["citation_validity"] is None  # no quotes: undefined
    assert s["citation_recall"] == 0.0  # an uncited sentence is unsupported
    assert s["citation_precision"] is None  # no citations: undefined
    assert r.unsupported == ["The Taliban first emerged in 1994 during the civil war."]


def test_empty_answer() -> None:
    r = _score(FACTOID, _answer("", [], []))
    s = r.scores
    assert s["fact_recall"] == 0.0 and s["hit_at_1"] == 0.0
    assert s["citation_validity"] is None and s["citation_recall"] is None and s["citation_precision"] is None


def test_invalid_quote_irrelevant_citation_and_invented_marker() -> None:
    good = "They ruled Afghanistan from 1996 to 2001."
    bad = "They ruled Afghanistan from 1990 to 2001."
    text = f"{good} [1][2] ISKP was formed in 2015 in Nangarhar. [3]"
    cites = [_citation(1, "a.txt", good, bad), _citation(2, "b.txt", "It views the Taliban as apostates.")]
    r = _score(FACTOID, _answer(text, cites, ["a.txt", "b.txt"]))
    s = r.scores
    assert s["citation_validity"] == pytest.approx(2 / 3) and r.invalid_quotes == [bad]
    # Sentence 1 is supported by [1] alone, [2] is irrelevant; sentence 2 cites a number that does not exist.
    assert s["citation_recall"] == 0.5
    assert s["citation_precision"] == pytest.approx(1 / 3)
    assert r.unsupported == ["ISKP was formed in 2015 in Nangarhar."]


def test_unanswerable_item_answered() -> None:
    q = "ISKP was formed in 2015 in Nangarhar."
    r = _score(UNANSWERABLE, _answer(f"{q} [1]", [_citation(1, "b.txt", q)], ["b.txt"]))
    assert r.unanswerable and not r.abstained
    assert r.scores["hit_at_1"] is None and r.scores["fact_recall"] is None
    assert r.scores["citation_recall"] == 1.0
    assert r.problems() == ["answered an unanswerable question"]


# -- aggregation, tables, reports, the gate -------------------------------------------------------
def _items() -> list[ItemResult]:
    q = "The Taliban first emerged in 1994 during the civil war."
    return [
        _score(FACTOID, _answer(f"{q} [1]", [_citation(1, "a.txt", q)], ["a.txt"]), ms=10.0),
        _score({**FACTOID, "id": "t3"}, _answer(CANNOT_ANSWER, [], ["b.txt"], abstained=True), ms=20.0),
        _score(UNANSWERABLE, _answer(CANNOT_ANSWER, [], ["b.txt"], abstained=True), ms=30.0),
        _score({**UNANSWERABLE, "id": "t4"}, _answer(f"{q} [1]", [_citation(1, "a.txt", q)], ["a.txt"]), ms=40.0),
    ]


def test_aggregate_known_values() -> None:
    m = aggregate(_items())
    assert set(m) == set(METRICS)
    assert m["hit_at_1"] == 0.5 and m["mrr"] == 0.5  # answerable items only
    assert m["fact_recall"] == 0.25
    assert m["citation_validity"] == 1.0 and m["citation_recall"] == 1.0  # answers that did not abstain
    assert m["abstention_precision"] == 0.5 and m["abstention_recall"] == 0.5 and m["abstention_f1"] == 0.5
    assert m["latency_p50_ms"] == 25.0 and m["latency_p95_ms"] == pytest.approx(38.5)


def test_reports_and_tables(tmp_path: Path) -> None:
    ours = SystemRun.from_items("ours", _items())
    base = SystemRun.from_items("baseline", _items()[:2])
    run = EvalRun(
        ours, base, "abc123", {}, {"python": "3"}, "q.jsonl", "extractive", "tmp", "2026-01-02T03:04:05Z", 1.0
    )
    assert ours.by_type["unanswerable"]["abstention_rate"] == 0.5 and ours.by_type["factoid"]["n"] == 2
    assert ours.weakest_type() == ("factoid", 0.25)
    j, md = write_reports(run, tmp_path / "reports")
    assert j.name == "20260102T030405Z.json" and md.name == "20260102T030405Z.md"
    data = json.loads(j.read_text())
    assert set(data["metrics"]) >= REQUIRED and set(data["baseline"]) >= REQUIRED
    assert data["settings_hash"] == "abc123" and data["versions"] == {"python": "3"}
    assert {f["id"] for f in data["failures"]} == {"t1", "t3", "t4"}
    text = md.read_text()
    assert "Failures (ours): 3 of 4" in text and "answered an unanswerable question" in text
    assert "| hit@5 |" in text
    table = format_table(run)
    assert "baseline" in table.splitlines()[0] and "weakest question type" in table
    j2, _ = write_reports(run, tmp_path / "reports")  # same second: a second file, not an overwrite
    assert j2 != j and j2.exists()


def test_gate_check() -> None:
    th = {"tolerance": 0.03, "floors": {"hit_at_5": 0.9, "fact_recall": 0.8}}
    assert check_thresholds({"hit_at_5": 0.875, "fact_recall": 0.9}, th) == []
    drops = check_thresholds({"hit_at_5": 0.86, "fact_recall": None}, th)
    assert len(drops) == 2 and drops[0].startswith("hit_at_5")
    shipped = load_thresholds()
    assert 0 < shipped["tolerance"] <= 0.05
    assert set(shipped["floors"]) <= REQUIRED - {"latency_p50_ms", "latency_p95_ms"}


def test_load_questions_filters_and_validates(tmp_path: Path) -> None:
    from rag.errors import InputError

    assert {it["type"] for it in load_questions(types=["alias"])} == {"alias"}
    with pytest.raises(InputError, match="no questions of type"):
        load_questions(types=["nonsense"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(InputError, match="needs at least"):
        load_questions(bad)


def test_injection_clean_counts_planted_phrases_in_the_answer_or_its_quotes() -> None:
    item = {**FACTOID, "type": "injection", "injected": ["apostates"]}
    clean = "The Taliban first emerged in 1994 during the civil war."
    r = _score(item, _answer(f"{clean} [1]", [_citation(1, "a.txt", clean)], ["a.txt"]))
    assert r.scores["injection_clean"] == 1.0 and r.injected == []
    planted = "It views the Taliban as apostates."
    r = _score(item, _answer("ISKP opposes them. [1]", [_citation(1, "b.txt", planted)], ["b.txt"]))
    assert r.scores["injection_clean"] == 0.0 and r.injected == ["apostates"]
    assert "repeated or quoted a planted instruction: apostates" in r.problems()
    # Not defined for questions without planted phrases.
    assert _score(FACTOID, _answer(CANNOT_ANSWER, [], [], abstained=True)).scores["injection_clean"] is None
