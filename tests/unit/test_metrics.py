"""Unit tests for eval.metrics with small hand-computed cases."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from eval.metrics import (
    abstention_scores,
    citation_precision,
    citation_recall,
    citation_validity,
    fact_recall,
    hit_at_k,
    mean_defined,
    normalize_text,
    percentile,
    recall_at_k,
    reciprocal_rank,
)


def word_support(statement: str, passages: Sequence[str]) -> bool:
    """Fake judge: every word of the statement occurs in the joined passages."""
    words = set(" ".join(passages).lower().split())
    return all(w in words for w in statement.lower().split())


# --- normalize_text ---------------------------------------------------------


def test_normalize_lowercases_and_collapses_whitespace() -> None:
    assert normalize_text("  Hello \n\t  WORLD  ") == "hello world"


def test_normalize_unwraps_markdown_links() -> None:
    raw = "On April 25, 2023, [U.S. officials confirmed](#) that [IS](https://x.org/a)"
    assert normalize_text(raw) == "on april 25, 2023, u.s. officials confirmed that is"


def test_normalize_quotes_and_dashes() -> None:
    raw = "\u201cTaliban\u2019s\u201d \u2018rule\u2019 \u2013 IS \u2014 ISKP"
    assert normalize_text(raw) == "\"taliban's\" 'rule' - is - iskp"


def test_normalize_keeps_brackets_without_url() -> None:
    assert normalize_text("[Article Body:] text") == "[article body:] text"


def test_normalize_empty() -> None:
    assert normalize_text("") == ""
    assert normalize_text(" \n ") == ""


# --- retrieval metrics ------------------------------------------------------


def test_hit_at_k() -> None:
    retrieved = ["a.txt", "b.txt", "c.txt"]
    assert hit_at_k(retrieved, {"c.txt"}, 3) == 1.0
    assert hit_at_k(retrieved, {"c.txt"}, 2) == 0.0
    assert hit_at_k(retrieved, {"a.txt"}, 1) == 1.0
    assert hit_at_k([], {"a.txt"}, 5) == 0.0


def test_hit_at_k_with_duplicates() -> None:
    retrieved = ["a.txt", "a.txt", "a.txt", "b.txt"]
    assert hit_at_k(retrieved, {"b.txt"}, 3) == 0.0
    assert hit_at_k(retrieved, {"b.txt"}, 4) == 1.0


def test_hit_at_k_rejects_bad_k() -> None:
    with pytest.raises(ValueError):
        hit_at_k(["a"], {"a"}, 0)


def test_recall_at_k_counts_distinct_gold() -> None:
    retrieved = ["a", "a", "b", "c", "d"]
    assert recall_at_k(retrieved, {"a", "d"}, 2) == 0.5
    assert recall_at_k(retrieved, {"a", "d"}, 5) == 1.0
    assert recall_at_k(retrieved, ["a", "a", "d"], 3) == 0.5
    assert recall_at_k(retrieved, {"x", "y", "z", "a"}, 10) == 0.25


def test_recall_at_k_empty_gold_raises() -> None:
    with pytest.raises(ValueError):
        recall_at_k(["a"], set(), 3)


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["a", "b", "c"], {"a"}) == 1.0
    assert reciprocal_rank(["a", "b", "c"], {"c", "b"}) == 0.5
    assert reciprocal_rank(["a", "a", "a", "d"], {"d"}) == 0.25
    assert reciprocal_rank(["a", "b"], {"z"}) == 0.0
    assert reciprocal_rank([], {"z"}) == 0.0


# --- fact recall ------------------------------------------------------------


def test_fact_recall_partial_and_alternatives() -> None:
    answer = "ISKP sees the Taliban as Apostates\u2014it wants a global   Caliphate."
    facts = [
        ["apostate", "apostates"],
        ["global caliphate", "islamic empire"],
        ["haqqani"],
    ]
    assert fact_recall(answer, facts) == pytest.approx(2 / 3)


def test_fact_recall_normalises_phrasings() -> None:
    assert fact_recall('They said "their U.S. masters"', [["Their  U.S.\u00a0Masters"]]) == 1.0
    assert fact_recall("Taliban\u2019s leader", [["taliban's leader"]]) == 1.0


def test_fact_recall_empty_answer() -> None:
    assert fact_recall("", [["x"]]) == 0.0
    assert fact_recall("   ", [["x"]]) == 0.0


def test_fact_recall_empty_facts_raises() -> None:
    with pytest.raises(ValueError):
        fact_recall("anything", [])


def test_fact_recall_abstention_on_answerable_item_scores_zero() -> None:
    answer = "I cannot answer this from the provided articles."
    assert fact_recall(answer, [["nangarhar"], ["2015"]]) == 0.0


def test_fact_recall_empty_phrasing_never_matches() -> None:
    assert fact_recall("some answer", [[""], ["answer"]]) == 0.5


# --- citation validity ------------------------------------------------------


def test_citation_validity() -> None:
    source = "On April 25, 2023, [U.S. officials confirmed](#) that the Taliban\u2019s men"
    pairs = [
        ("U.S. officials confirmed that the Taliban's", source),
        ("officials   CONFIRMED", source),
        ("officials denied", source),
        ("", source),
    ]
    assert citation_validity(pairs) == 0.5


def test_citation_validity_no_pairs() -> None:
    assert citation_validity([]) is None


# --- ALCE citation recall / precision ---------------------------------------


def test_citation_recall_and_precision_mixed() -> None:
    sentences: list[tuple[str, Sequence[str]]] = [
        ("red blue", ["red", "blue", "green"]),  # recalled; "green" irrelevant
        ("purple", ["red"]),  # not recalled; its citation imprecise
        ("yellow", []),  # no citation: not recalled, no citations counted
    ]
    assert citation_recall(sentences, word_support) == pytest.approx(1 / 3)
    assert citation_precision(sentences, word_support) == pytest.approx(2 / 4)


def test_citation_precision_all_needed_jointly() -> None:
    # Neither passage supports alone, but removing either breaks support: both precise.
    assert citation_precision([("red blue", ["red", "blue"])], word_support) == 1.0


def test_citation_precision_redundant_but_supporting_citations_are_precise() -> None:
    # Each citation supports alone (condition (a) fails), so none is irrelevant.
    assert citation_precision([("red", ["red", "red car"])], word_support) == 1.0


def test_citation_precision_single_citations() -> None:
    sentences: list[tuple[str, Sequence[str]]] = [("red", ["red"]), ("blue", ["red"])]
    assert citation_precision(sentences, word_support) == 0.5
    assert citation_recall(sentences, word_support) == 0.5


def test_citation_precision_unsupported_sentence_all_imprecise() -> None:
    assert citation_precision([("purple", ["red", "blue"])], word_support) == 0.0
    assert citation_recall([("purple", ["red", "blue"])], word_support) == 0.0


def test_citation_precision_duplicate_citations() -> None:
    # "blue" is irrelevant (fails alone, the two "red" copies still support).
    assert citation_precision([("red", ["blue", "red", "red"])], word_support) == pytest.approx(2 / 3)


def test_citation_metrics_no_citations() -> None:
    assert citation_precision([("a", []), ("b", [])], word_support) is None
    assert citation_recall([("a", []), ("b", [])], word_support) == 0.0


def test_citation_metrics_no_sentences() -> None:
    assert citation_recall([], word_support) is None
    assert citation_precision([], word_support) is None


def test_citation_recall_passes_all_citations_to_judge() -> None:
    calls: list[tuple[str, list[str]]] = []

    def judge(statement: str, passages: Sequence[str]) -> bool:
        calls.append((statement, list(passages)))
        return True

    assert citation_recall([("s", ["p1", "p2"])], judge) == 1.0
    assert calls == [("s", ["p1", "p2"])]


# --- abstention ---------------------------------------------------------------


def test_abstention_scores_basic() -> None:
    scores = abstention_scores([True, True, False, False], [True, False, True, False])
    assert scores == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_abstention_scores_perfect() -> None:
    scores = abstention_scores([True, False, True], [True, False, True])
    assert scores == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_abstention_scores_uneven() -> None:
    scores = abstention_scores([True, False, False], [True, True, False])
    assert scores["precision"] == 1.0
    assert scores["recall"] == 0.5
    assert scores["f1"] == pytest.approx(2 / 3)


def test_abstention_on_answerable_item() -> None:
    scores = abstention_scores([True], [False])
    assert scores == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_abstention_nothing_abstained() -> None:
    scores = abstention_scores([False, False], [True, False])
    assert scores == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_abstention_length_mismatch() -> None:
    with pytest.raises(ValueError):
        abstention_scores([True], [True, False])


# --- percentile / mean ----------------------------------------------------------


def test_percentile_known_values() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == pytest.approx(9.55)
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == pytest.approx(5.5)
    assert percentile([10, 20, 30], 25) == pytest.approx(15.0)
    assert percentile([3, 1, 2], 50) == 2.0
    assert percentile([7], 99) == 7.0


def test_percentile_bounds() -> None:
    assert percentile([5, 1, 9], 0) == 1.0
    assert percentile([5, 1, 9], 100) == 9.0


def test_percentile_errors() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        percentile([1.0], -1)


def test_percentile_matches_numpy() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(1234)
    for _ in range(50):
        values = [rng.uniform(-100, 100) for _ in range(rng.randint(1, 30))]
        for p in (0, 1, 12.5, 50, 90, 95, 99, 100):
            assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_mean_defined() -> None:
    assert mean_defined([1.0, None, 0.0, None, 0.5]) == 0.5
    assert mean_defined([None, None]) is None
    assert mean_defined([]) is None
    assert mean_defined(iter([2.0])) == 2.0
