"""The BM25 index: Lucene scores on a hand-checked corpus, idf, and its on-disk cache."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rag.retrieve.aliases import load_aliases
from rag.retrieve.lexical import K1, B, LexicalIndex, _tokens, number_tokens

ALIASES = load_aliases(None)
DOCS = [
    ("a", "Taliban fighters attacked the camp."),
    ("b", "The Taliban and the Taliban government talked."),
    ("c", "Farmers planted wheat near the river."),
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(iter(DOCS), ALIASES)


def _lucene(tf: int, df: int, n: int, dl: int, avgdl: float) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + K1 * (1 - B + B * dl / avgdl))


def test_scores_are_lucene_bm25(index: LexicalIndex) -> None:
    lengths = {cid: len(_tokens(text, ALIASES)) for cid, text in DOCS}
    avgdl = sum(lengths.values()) / len(lengths)
    term = next(t for t in index.vocab if t.startswith("taliban"))
    hits = dict(index.search([term], 10))
    assert set(hits) == {"a", "b"}  # c never mentions it: no zero scores returned
    assert hits["a"] == pytest.approx(_lucene(1, 2, 3, lengths["a"], avgdl), rel=1e-6)
    assert hits["b"] == pytest.approx(_lucene(2, 2, 3, lengths["b"], avgdl), rel=1e-6)
    # A repeated query token counts twice, as in bm25s.
    twice = dict(index.search([term, term], 10))
    assert twice["a"] == pytest.approx(2 * hits["a"], rel=1e-6)


def test_unknown_tokens_and_empty_queries_find_nothing(index: LexicalIndex) -> None:
    assert index.search(["zzzunknown"], 5) == []
    assert index.search([], 5) == []
    assert LexicalIndex.build(iter([]), ALIASES).search(["taliban"], 5) == []


def test_idf_prefers_rare_terms(index: LexicalIndex) -> None:
    common = next(t for t in index.vocab if t.startswith("taliban"))
    rare = next(t for t in index.vocab if t.startswith("wheat"))
    assert index.idf(rare) > index.idf(common)
    assert index.idf("zzzunknown") > index.idf(rare)


def test_cache_round_trip_and_refusals(index: LexicalIndex, tmp_path: Path) -> None:
    folder = tmp_path / "lexical"
    index.save(folder, "sig-1")
    loaded = LexicalIndex.load(folder, "sig-1")
    assert loaded is not None
    term = next(t for t in index.vocab if t.startswith("taliban"))
    assert loaded.search([term], 5) == index.search([term], 5)
    assert loaded.idf(term) == index.idf(term)
    assert LexicalIndex.load(folder, "sig-2") is None  # another corpus or tokeniser
    (folder / "postings.npz").write_bytes(b"not a zip file")
    assert LexicalIndex.load(folder, "sig-1") is None  # damaged: rebuilt, never fatal
    assert LexicalIndex.load(tmp_path / "missing", "sig-1") is None


def test_a_number_finds_the_one_note_holding_it_and_leaves_word_scores_alone() -> None:
    notes = [(f"n{i}", f"Note {i}: the copper owl number {i} was seen at dawn.") for i in range(1, 301)]
    numbered = LexicalIndex.build(iter(notes), ALIASES)
    words_only = LexicalIndex.build(
        iter((cid, "Note: the copper owl number was seen at dawn.") for cid, _ in notes), ALIASES
    )
    assert number_tokens("Where was owl number 77 seen in 2023?") == ["#77"]  # a year stays a content word
    hits = numbered.search([*_tokens("copper owl", ALIASES), *number_tokens("number 77")], 5)
    assert hits[0][0] == "n77" and hits[0][1] > hits[1][1]
    # Numbers do not enter the length normalisation: word-only scores are those of an index without them.
    plain = dict(numbered.search(_tokens("copper owl", ALIASES), 300))
    assert plain == pytest.approx(dict(words_only.search(_tokens("copper owl", ALIASES), 300)))


def test_a_word_only_a_title_or_file_name_holds_finds_its_document() -> None:
    docs = [
        ("bsd-1", "Redistribution and use in source and binary forms are permitted.", "", "licenses/bsd.txt"),
        ("mit-1", "Redistribution of the source is permitted with this notice.", "Permission notice", "mit.txt"),
    ]
    index = LexicalIndex.build(iter(docs), ALIASES)
    words_ = _tokens("redistribution permitted", ALIASES)
    assert index.search([*words_, "bsd"], 2)[0][0] == "bsd-1"
    assert index.search(["bsd-licensed"], 2)[0][0] == "bsd-1"  # a hyphenated word by its parts
    assert index.df("bsd") == 0  # the title field leaves the texts' document frequencies alone
    # A word the texts hold is scored in the texts only: the same scores as without any titles.
    plain = LexicalIndex.build(iter([(cid, text) for cid, text, _, _ in docs]), ALIASES)
    notice = _tokens("notice", ALIASES)
    assert index.search(notice, 2) == plain.search(notice, 2)


def test_a_phrase_pointing_at_the_documents_is_not_searched() -> None:
    from rag.retrieve.hybrid import searched_text

    q = "What did each side do to the other's leaders, according to the articles?"
    assert searched_text(q) == "What did each side do to the other's leaders?"
    assert searched_text("In these documents, who founded the council?") == "Who founded the council?"
    # A text of something is what is asked about, and a question made only of the phrase stays whole.
    assert searched_text("What is in the text of the MPL?") == "What is in the text of the MPL?"
    assert searched_text("According to the documents?") == "According to the documents?"


def test_has_prefix_asks_whether_any_corpus_term_starts_so(index: LexicalIndex) -> None:
    assert index.has_prefix("farm") and index.has_prefix("whea") and index.has_prefix("riv")
    assert not index.has_prefix("cryptocurr") and not index.has_prefix("zz")
    assert not LexicalIndex.build(iter([]), ALIASES).has_prefix("a")
