"""Property tests (hypothesis) of the invariants the citations rest on: chunks cover their document
exactly and in order, every quote is its source's text at its span, and cite markers round-trip.

Deterministic: the ``rag`` hypothesis profile (tests/conftest.py) derandomizes and keeps no database.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from rag.ingest.chunk import chunk_document
from rag.text import _ABBREV, split_sentences
from rag.types import Chunk, Document
from rag.verify.cite import CITATION_RE, CitedSentence, assemble, cited_sentences, marker, strip_markers


def word_count(texts: Sequence[str]) -> list[int]:
    """A token counter that needs no model: one token per whitespace-separated word."""
    return [len(t.split()) for t in texts]


# -- text generators ----------------------------------------------------------------------------
# A word before a period that the splitter reads as an abbreviation ("Gen.") does not end a sentence.
_LOWER = st.text("abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=9).filter(lambda w: w not in _ABBREV)


@st.composite
def sentences(draw: st.DrawFn) -> str:
    """A sentence the splitter sees as one: a capitalised first word, plain words, one final mark."""
    words = draw(st.lists(_LOWER, min_size=2, max_size=12))
    words[0] = words[0].capitalize()
    return " ".join(words) + draw(st.sampled_from([".", "!", "?", "…", '."', ".)"]))


@st.composite
def documents(draw: st.DrawFn, max_paragraphs: int = 5) -> str:
    """Sentences in paragraphs, with assorted whitespace between them."""
    paragraphs = draw(st.lists(st.lists(sentences(), min_size=1, max_size=6), min_size=1, max_size=max_paragraphs))
    gap = st.sampled_from([" ", "  ", "\t", " \n"])
    return draw(st.sampled_from(["", "\n", "  "])) + "\n\n".join(
        "".join(s + draw(gap) for s in p).rstrip() for p in paragraphs
    )


#: Anything at all, including unpunctuated runs, stray marks, brackets and long words.
_ANY_TEXT = st.text(st.sampled_from(list("ab Cd.!?\n\t\"'’”)([]1…xyz")), max_size=400)


def _doc(text: str) -> Document:
    return Document(doc_id="d1", source="d1.txt", path="d1.txt", text=text, content_hash="h")


# -- chunk spans cover the text exactly, in order -----------------------------------------------
def _check_chunks(text: str, max_tokens: int, overlap: int) -> None:
    chunks = chunk_document(_doc(text), word_count, max_tokens=max_tokens, overlap_sentences=overlap)
    if not text.strip():
        assert chunks == []
        return
    assert chunks
    covered = [False] * len(text)
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == text[c.start : c.end]  # a chunk is its span of the document
        assert c.sentences and c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for (a, b), (a2, _) in zip(c.sentences, c.sentences[1:], strict=False):
            assert a < b <= a2 and not text[b:a2].strip()  # sentences in order, only whitespace between
        assert word_count([c.text])[0] <= max_tokens
        for a, b in c.sentences:
            for k in range(a, b):
                covered[k] = True
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start and prev.end <= nxt.end  # always forward
        assert nxt.start <= prev.end or not text[prev.end : nxt.start].strip()  # nothing skipped
    missed = [k for k, ch in enumerate(text) if not ch.isspace() and not covered[k]]
    assert missed == [], f"characters in no chunk: {[text[k] for k in missed]}"


@given(documents(), st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=2))
def test_chunks_cover_a_document_exactly_and_in_order(text: str, max_tokens: int, overlap: int) -> None:
    _check_chunks(text, max_tokens, overlap)


@given(_ANY_TEXT, st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2))
def test_chunks_cover_any_text_exactly_and_in_order(text: str, max_tokens: int, overlap: int) -> None:
    _check_chunks(text, max_tokens, overlap)


def test_every_chunk_adds_text() -> None:
    # Found by the property above when it also asked for a growing end: with overlap 1 the second
    # chunk repeats the second sentence alone, because the third does not fit beside it.
    chunks = chunk_document(_doc("A a. A a. A a a."), word_count, max_tokens=5, overlap_sentences=1)
    assert all(prev.end < nxt.end for prev, nxt in itertools.pairwise(chunks)), [c.text for c in chunks]


# -- every quote is a slice of its source at its span --------------------------------------------
@st.composite
def cited_answers(draw: st.DrawFn) -> tuple[dict[str, str], list[CitedSentence]]:
    """Documents and answer sentences quoted from them (as the extractive answerer picks them)."""
    n_docs = draw(st.integers(min_value=1, max_value=3))
    texts = {f"doc{i}": draw(documents(max_paragraphs=2)) for i in range(n_docs)}
    chunks = {
        doc_id: Chunk(
            chunk_id=f"{doc_id}-0", doc_id=doc_id, source=f"{doc_id}.txt", text=t, start=0, end=len(t), index=0
        )
        for doc_id, t in texts.items()
    }
    picked: list[CitedSentence] = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        doc_id = draw(st.sampled_from(sorted(texts)))
        a, b = draw(st.sampled_from(split_sentences(texts[doc_id])))
        score = draw(st.floats(min_value=0, max_value=1))
        picked.append(CitedSentence(text=texts[doc_id][a:b], chunk=chunks[doc_id], start=a, end=b, score=score))
    return texts, picked


@given(cited_answers())
def test_every_quote_is_its_source_at_its_span(case: tuple[dict[str, str], list[CitedSentence]]) -> None:
    texts, picked = case
    answer, citations = assemble(picked)
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    assert sorted(c.doc_id for c in citations) == sorted({s.chunk.doc_id for s in picked})
    for c in citations:
        source = texts[c.doc_id]
        assert c.quotes and (c.quote, c.start, c.end) == (c.quotes[0].text, c.quotes[0].start, c.quotes[0].end)
        for q in c.quotes:
            assert source[q.start : q.end] == q.text
    # One marker per sentence, naming the document it was quoted from.
    number = {c.doc_id: c.n for c in citations}
    assert [n for _, ns in cited_sentences(answer) for n in ns] == [number[s.chunk.doc_id] for s in picked]


@st.composite
def loose_sentences(draw: st.DrawFn) -> str:
    """A sentence as documents give them: maybe numbered, maybe no final mark (a heading, a clause
    of a licence), maybe hard-wrapped (a newline before a lower-case word)."""
    words = draw(st.lists(_LOWER, min_size=2, max_size=10))
    words[0] = words[0].capitalize()
    gaps = [draw(st.sampled_from([" ", " ", "\n"])) for _ in words[1:]]
    body = words[0] + "".join(g + w for g, w in zip(gaps, words[1:], strict=True))
    number = draw(st.sampled_from(["", "", "", "2. ", "10. "]))  # a numbered clause: "2. You may …"
    return number + body + draw(st.sampled_from(["", "", ".", ":", ";", "?"]))


@given(st.lists(loose_sentences(), min_size=1, max_size=4), st.data())
def test_an_answer_splits_back_into_the_sentences_it_was_assembled_from(lines: list[str], data: st.DataObject) -> None:
    # One sentence per paragraph, so the document splits into exactly these sentences.
    text = "\n\n".join(lines)
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == lines
    chunk = Chunk(chunk_id="d-0", doc_id="d", source="d.txt", text=text, start=0, end=len(text), index=0)
    order = data.draw(st.lists(st.sampled_from(spans), min_size=1, max_size=6, unique=True))
    picked = [CitedSentence(text=text[a:b], chunk=chunk, start=a, end=b, score=0.5) for a, b in order]
    answer, citations = assemble(picked)
    assert "\n" not in answer
    assert cited_sentences(answer) == [(" ".join(s.text.split()), [1]) for s in picked]
    assert [(q.start, q.end) for q in citations[0].quotes] == order
    for q in citations[0].quotes:
        assert text[q.start : q.end] == q.text  # the quote stays verbatim, newlines and all


# -- cite markers round-trip ---------------------------------------------------------------------
@given(st.lists(st.tuples(sentences(), st.lists(st.integers(min_value=1, max_value=999), max_size=3)), max_size=8))
def test_cite_markers_round_trip(parts: list[tuple[str, list[int]]]) -> None:
    text = " ".join(f"{s} {''.join(marker(n) for n in ns)}".rstrip() for s, ns in parts)
    assert cited_sentences(text) == [(s, ns) for s, ns in parts]
    # Without its markers (and the spaces before them) the answer is its sentences, one space apart.
    assert strip_markers(text) == " ".join(s for s, _ in parts)
    assert not CITATION_RE.search(strip_markers(text))


@given(
    st.lists(
        st.tuples(loose_sentences(), st.lists(st.integers(min_value=1, max_value=999), min_size=1, max_size=3)),
        max_size=8,
    )
)
def test_markers_end_a_sentence_that_has_no_final_mark(parts: list[tuple[str, list[int]]]) -> None:
    flat = [(" ".join(s.split()), ns) for s, ns in parts]
    text = " ".join(f"{s} {''.join(marker(n) for n in ns)}" for s, ns in flat)
    assert cited_sentences(text) == flat


def test_markers_inside_a_sentence_do_not_end_it() -> None:
    # Only markers followed by a sentence's opening end one: a lower-case word, a comma or a full stop
    # after them continues the sentence (an LLM citing mid-sentence).
    assert cited_sentences("ISKP [1] and the Taliban [2] fight. Next one. [3]") == [
        ("ISKP and the Taliban fight.", [1, 2]),
        ("Next one.", [3]),
    ]
    assert cited_sentences("The Taliban [1], ISKP [2] and others [3].") == [
        ("The Taliban, ISKP and others.", [1, 2, 3])
    ]
    assert cited_sentences("A clause without a stop [1] Another one [2]") == [
        ("A clause without a stop", [1]),
        ("Another one", [2]),
    ]


@given(st.integers(min_value=0, max_value=999))
def test_a_marker_parses_back_to_its_number(n: int) -> None:
    m = CITATION_RE.fullmatch(marker(n))
    assert m is not None and int(m.group(1)) == n
    assert re.fullmatch(r"\[\d+\]", marker(n))


def _term_in_reference(term: str, terms: frozenset[str]) -> bool:
    """The word-form match spelled out pair by pair: what the prefix sets must reproduce."""
    for u in terms:
        n = min(len(term), len(u))
        if term == u or (n >= 4 and (term.startswith(u) or u.startswith(term))) or (n >= 5 and term[:5] == u[:5]):
            return True
    return False


_STEMS = st.text(alphabet="abcdeno", min_size=1, max_size=8)


@given(_STEMS, st.frozensets(_STEMS, max_size=12))
def test_word_form_matching_by_prefix_sets_is_the_pairwise_rule(term: str, terms: frozenset[str]) -> None:
    from rag.verify.constraints import _term_in

    assert _term_in(term, terms) == _term_in_reference(term, terms)
