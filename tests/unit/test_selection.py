"""Sentence selection: companions cover what the anchor leaves out of the question."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from sources import scored_chunk

from rag.answer.extractive import ExtractiveAnswerer
from rag.retrieve.aliases import load_aliases
from rag.retrieve.lexical import lexical_tokens
from rag.types import Query, ScoredChunk

QUESTION = "Where does the orchard council plant apple trees, and where does it sell the harvest?"
SENTENCES = (
    "The orchard council plants apple trees in the Northern Field.",
    "Every spring the orchard council plants young apple saplings beside the river.",
    "The council sells its harvest at the Saturday market.",
)


def _vector(cosine: float, axis: int) -> np.ndarray:
    v = np.zeros(4, dtype=np.float32)
    v[0], v[axis] = cosine, math.sqrt(1 - cosine**2)
    return v


def _orchard() -> tuple[ScoredChunk, Query, ExtractiveAnswerer]:
    """The orchard chunk (its second sentence closer to the question than the third, but saying
    nothing the first does not), the question, and a two-sentence answerer."""
    aliases = load_aliases()
    item = scored_chunk(SENTENCES, "orchard.txt")
    vectors = np.stack([_vector(0.9, 1), _vector(0.7, 2), _vector(0.75, 3)])
    item = replace(item, chunk=replace(item.chunk, sentence_vectors=vectors))
    query = Query(QUESTION, QUESTION, tuple(lexical_tokens(QUESTION, aliases)), _vector(1.0, 1))
    return item, query, ExtractiveAnswerer(aliases, idf=lambda _t: 1.0, max_sentences=2)


def test_a_companion_holding_the_question_terms_the_anchor_lacks_beats_a_closer_repeat() -> None:
    item, query, answerer = _orchard()
    cands = {c.text: c for c in answerer.candidates(query, [item])}
    assert cands[SENTENCES[1]].score > cands[SENTENCES[2]].score
    chosen = [s.text for s in answerer.select(query, [item]).sentences]
    assert chosen == [SENTENCES[0], SENTENCES[2]]


PIER = (
    "Ana Reyes, the harbour master, spoke to the council on Monday.",
    "“The new pier will open in May, and the ferries will run twice as often.”",
    "The new pier cost four million pounds and took two years to build.",
)


def test_a_quotation_brings_the_sentence_that_says_who_speaks() -> None:
    aliases = load_aliases()
    item = scored_chunk(PIER, "pier.txt")
    # The speaker's sentence is far from the question; the cost sentence is a close companion.
    vectors = np.stack([_vector(0.2, 1), _vector(0.9, 2), _vector(0.8, 3)])
    item = replace(item, chunk=replace(item.chunk, sentence_vectors=vectors))
    question = "When will the new pier open?"
    query = Query(question, question, tuple(lexical_tokens(question, aliases)), _vector(1.0, 2))
    answerer = ExtractiveAnswerer(aliases, idf=lambda _t: 1.0, max_sentences=2)
    chosen = [s.text for s in answerer.select(query, [item]).sentences]
    # Two sentences at most: the speaker outranks the companion, in reading order.
    assert chosen == [PIER[0], PIER[1]]


CHARTER = (
    "Members must plant one tree each spring, as the Orchard Charter requires.",
    "Every member waters the young trees of the common field in dry weeks.",
)


def test_a_name_the_document_title_holds_earns_no_verbatim_bonus() -> None:
    from rag.types import Source

    aliases = load_aliases()
    question = "What must members do under the Orchard Charter?"
    query = Query(question, question, tuple(lexical_tokens(question, aliases)), _vector(1.0, 1))
    answerer = ExtractiveAnswerer(aliases, idf=lambda _t: 1.0)
    plain = scored_chunk(CHARTER, "notes.txt")
    titled = replace(plain, chunk=replace(plain.chunk, meta=Source(title="The Orchard Charter")))
    # In a document of another title the verbatim name is evidence; in the charter itself it only names the document.
    assert {c.text: c.name_bonus for c in answerer.candidates(query, [plain])}[CHARTER[0]] > 0
    assert {c.text: c.name_bonus for c in answerer.candidates(query, [titled])}[CHARTER[0]] == 0


def test_a_compound_answer_that_answers_none_of_its_parts_is_declined() -> None:
    aliases = load_aliases()
    item, whole, answerer = _orchard()
    assert answerer.select(whole, [item]).sentences  # the whole question alone is answered
    # Parts whose words and meaning no sentence shares: nothing answers either of them.
    far = np.zeros(4, dtype=np.float32)
    far[0] = -1.0
    parts = tuple(Query(q, q, tuple(lexical_tokens(q, aliases)), far) for q in ("Who is the mayor?", "Why is it late?"))
    sel = answerer.select(replace(whole, parts=parts), [item])
    assert not sel.sentences
    assert sel.unmet and "part of the question" in sel.unmet
