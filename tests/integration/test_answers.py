"""Cited answers over the seed corpus: verbatim quotes, abstention, the headline question."""

from __future__ import annotations

import pytest
from conftest import SEEDS

from rag.errors import EmptyQuestionError
from rag.ingest.clean import clean_text
from rag.verify.cite import CANNOT_ANSWER, cited_sentences, parse_markers, strip_markers

QUESTIONS = [
    "Why does ISKP oppose the Taliban?",
    "What is the difference between the Taliban and ISIS?",
    "When did the Islamic State form its Khorasan province?",
    "Who wrote to Abu Bakr al-Baghdadi?",
    "How many members does IS have in Afghanistan?",
    "What happened at Kabul airport on August 26?",
    "What did Daesh-Khorasan accuse the Taliban of?",
    "How did the Taliban respond to ISIS-K after taking Kabul?",
    "What does the Doha Agreement say about terrorist groups?",
    "Why is the Taliban's legitimacy at risk?",
]


def _cleaned(source: str) -> str:
    return clean_text((SEEDS / source).read_text(encoding="utf-8")).text


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_is_verbatim_in_its_source(pipeline, question: str) -> None:  # type: ignore[no-untyped-def]
    a = pipeline.ask(question)
    assert not a.abstained, f"abstained on an answerable question: {question}"
    numbers = {c.n for c in a.citations}
    assert numbers == set(range(1, len(numbers) + 1))
    assert set(parse_markers(a.text)) == numbers
    for c in a.citations:
        text = _cleaned(c.source)
        assert text[c.start : c.end] == c.quote
        for q in c.quotes:
            assert text[q.start : q.end] == q.text
            assert strip_markers(q.text) in a.text
    # Every sentence of the answer carries a citation.
    for sentence, cited in cited_sentences(a.text):
        assert cited, f"uncited sentence: {sentence}"


def test_headline_question(pipeline) -> None:  # type: ignore[no-untyped-def]
    a = pipeline.ask("Why does ISKP oppose the Taliban?")
    assert len(a.citations) >= 2
    text = a.text.lower()
    assert "apostate" in text or "nationalist" in text
    assert "afghanistan" in text and ("limited to" in text or "focused on" in text or "global" in text)
    assert all(c.title and c.date for c in a.citations)


@pytest.mark.parametrize(
    "question",
    ["Who won the 2022 FIFA World Cup?", "What is the recipe for Kabuli pulao?", "How do I reset my router password?"],
)
def test_unanswerable_questions_are_abstained(pipeline, question: str) -> None:  # type: ignore[no-untyped-def]
    a = pipeline.ask(question)
    assert a.abstained and a.text == CANNOT_ANSWER and a.citations == []


def test_name_variants_reach_the_same_article(pipeline) -> None:  # type: ignore[no-untyped-def]
    sources = []
    for name in ("ISIS-K", "Islamic State Khorasan Province", "IS-K"):
        a = pipeline.ask(f"Why does {name} oppose the Taliban?")
        sources.append({c.source for c in a.citations})
    assert all("001_8ce81ff0f6d118bf.txt" in s for s in sources)


def test_a_question_pasted_with_typographic_dashes_gets_the_same_answer(pipeline) -> None:  # type: ignore[no-untyped-def]
    plain = pipeline.ask("Why does ISIS-K oppose the Taliban?")
    for typed in ("Why does ISIS\u2013K oppose the Taliban?", "Why does ISIS\u2011K oppose the Taliban?"):
        a = pipeline.ask(typed)
        assert a.text == plain.text, typed
        # The same quotes (their scores differ a little: the embedder sees another character).
        assert [[(q.text, q.start) for q in c.quotes] for c in a.citations] == [
            [(q.text, q.start) for q in c.quotes] for c in plain.citations
        ]


def test_empty_question_raises(pipeline) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmptyQuestionError):
        pipeline.ask("   \n\t ")


def test_huge_question_is_truncated_with_notice(pipeline) -> None:  # type: ignore[no-untyped-def]
    a = pipeline.ask("Why does ISKP oppose the Taliban? " + "padding " * 30_000)
    assert a.notice and "first" in a.notice
    assert len(a.question) <= pipeline.settings.answer.max_question_chars
    assert a.question.endswith(" padding")  # cut between words, not inside one
    # The notice counts what was kept, not the limit.
    assert f"only its first {len(a.question):,} were used" in a.notice


def test_json_contract(pipeline) -> None:  # type: ignore[no-untyped-def]
    d = pipeline.ask("Why does ISKP oppose the Taliban?").to_dict()
    assert {"question", "answer", "abstained", "mode", "citations", "retrieved", "timings_ms"} <= set(d)
    assert {"n", "source", "title", "quote", "chunk_id", "score"} <= set(d["citations"][0])
    assert {"source", "chunk_id", "score", "text"} <= set(d["retrieved"][0])
    assert d["mode"] == "extractive"
