"""LLM mode is never worse than extractive, and a sentence cut by max_tokens is never shown cited
(the logic, with the doubles of rag.testing; the real llama.cpp server is in tests/integration)."""

from __future__ import annotations

from pathlib import Path

from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.testing import HashEmbedder, InMemoryStore, ScriptedChat, WordOverlapJudge
from rag.verify.cite import CANNOT_ANSWER, cited_sentences

DOC = (
    "The Old Harbour Report\n\n"
    "The harbour of Port Elland was dredged in 1998 to admit container ships. "
    "Its lighthouse was automated in 2004 and no keeper has lived there since. "
    "Fishing boats moved to the northern quay after the dredging."
)
QUESTION = "When was the lighthouse of Port Elland automated?"
# What the extractive answerer answers with the hash embedder (it scores the lighthouse sentence
# too low to find it, and the dredging sentence dates something else, so it declines QUESTION).
EXTRACTIVE_QUESTION = "When was the harbour of Port Elland dredged?"


def _pipe(tmp_path: Path, chat: ScriptedChat) -> Pipeline:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "harbour.txt").write_text(DOC, encoding="utf-8")
    settings = Settings(store={"path": tmp_path / "store"}, ingest={"seeds_path": folder})
    pipe = Pipeline(settings, embedder=HashEmbedder(), store=InMemoryStore(), chat_model=chat, judge=WordOverlapJudge())
    pipe.ensure_corpus()
    return pipe


def test_nothing_verified_gives_the_extractive_answer_with_a_notice(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path, ScriptedChat("Bananas are yellow and grow in bunches. Pears are green."))
    extractive = pipe.ask(EXTRACTIVE_QUESTION, mode="extractive")
    assert not extractive.abstained
    events = list(pipe.ask_stream(EXTRACTIVE_QUESTION, mode="llm"))
    answer = events[-1].answer
    assert answer is not None and answer.text == extractive.text and answer.mode == "extractive"
    assert answer.notice is not None and answer.notice.endswith("showing the extractive answer.")
    assert answer.usage["completion_tokens"] > 0  # the LLM's cost is still reported
    # The unverified sentences were never streamed: the deltas are exactly the answer shown.
    assert "".join(e.text for e in events if e.kind == "delta") == answer.text


def test_the_model_saying_it_cannot_answer_does_not_hide_the_extractive_answer(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path, ScriptedChat(CANNOT_ANSWER))
    answer = pipe.ask(EXTRACTIVE_QUESTION, mode="llm")
    assert not answer.abstained and answer.text == pipe.ask(EXTRACTIVE_QUESTION, mode="extractive").text


def test_abstains_when_extractive_abstains_too(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path, ScriptedChat("Bananas are yellow."))
    events = list(pipe.ask_stream("What is the population of Ulan Bator in 1850?", mode="llm"))
    answer = events[-1].answer
    assert answer is not None and answer.abstained and answer.mode == "llm"
    assert "".join(e.text for e in events if e.kind == "delta") == CANNOT_ANSWER


def test_a_verified_answer_is_kept_and_unverified_sentences_stream_after_a_verified_one(tmp_path: Path) -> None:
    pipe = _pipe(
        tmp_path,
        ScriptedChat("Pears are green. Its lighthouse was automated in 2004 and no keeper has lived there since. [1]"),
    )
    events = list(pipe.ask_stream(QUESTION, mode="llm"))
    answer = events[-1].answer
    assert answer is not None and answer.mode == "llm" and answer.unverified == [0]
    assert "".join(e.text for e in events if e.kind == "delta") == answer.text


def test_a_sentence_cut_by_max_tokens_is_left_out(tmp_path: Path) -> None:
    text = "Its lighthouse was automated in 2004 and no keeper has lived there since. [1] The harbour of Port Elland [1"
    pipe = _pipe(tmp_path, ScriptedChat(text, finish_reason="length"))
    answer = pipe.ask(QUESTION, mode="llm")
    assert answer.mode == "llm" and not answer.abstained
    assert [s for s, _ in cited_sentences(answer.text)] == [
        "Its lighthouse was automated in 2004 and no keeper has lived there since."
    ]
    assert answer.usage["sentences_cut"] == 1
    assert answer.notice is not None and "token limit" in answer.notice


def test_a_complete_last_sentence_is_kept_even_at_the_limit(tmp_path: Path) -> None:
    text = "Its lighthouse was automated in 2004 and no keeper has lived there since. [1]"
    pipe = _pipe(tmp_path, ScriptedChat(text, finish_reason="length"))
    answer = pipe.ask(QUESTION, mode="llm")
    assert answer.usage["sentences_cut"] == 0 and "2004" in answer.text and answer.citations


def test_a_sentence_that_ends_without_punctuation_is_kept_when_not_cut(tmp_path: Path) -> None:
    text = "Its lighthouse was automated in 2004 and no keeper has lived there since [1]"
    answer = _pipe(tmp_path, ScriptedChat(text)).ask(QUESTION, mode="llm")
    assert answer.usage["sentences_cut"] == 0 and answer.citations


# A typed question ("When …?") is answered only when a verified sentence's quote holds a date *and* a term
# of what is asked: the extractive answerer's rule, applied to the LLM's evidence.
DREDGED = "The harbour of Port Elland was dredged in 1998 to admit container ships."
AUTOMATED = "Its lighthouse was automated in 2004 and no keeper has lived there since."


def test_a_quote_with_a_date_but_not_what_is_asked_does_not_answer_a_when_question(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path, ScriptedChat(f"{DREDGED} [1]"))
    assert pipe.ask(QUESTION, mode="extractive").abstained
    events = list(pipe.ask_stream(QUESTION, mode="llm"))
    answer = events[-1].answer
    # The sentence is faithful to its quote (1998 is in it) but dates the dredging, not the lighthouse.
    assert answer is not None and answer.abstained and answer.citations == [] and "1998" not in answer.text
    assert answer.usage["answer_type_missing"] == 1
    assert answer.notice is not None and "kind of answer asked for" in answer.notice
    assert "".join(e.text for e in events if e.kind == "delta") == CANNOT_ANSWER


def test_an_off_type_llm_answer_falls_back_to_the_extractive_one_saying_why(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path, ScriptedChat(f"{AUTOMATED} [1]"))
    extractive = pipe.ask(EXTRACTIVE_QUESTION, mode="extractive")
    events = list(pipe.ask_stream(EXTRACTIVE_QUESTION, mode="llm"))
    answer = events[-1].answer
    assert answer is not None and answer.mode == "extractive" and answer.text == extractive.text
    assert "1998" in answer.text and "2004" not in answer.text
    assert answer.notice is not None
    assert answer.notice.endswith("gives the kind of answer asked for; showing the extractive answer.")
    assert "".join(e.text for e in events if e.kind == "delta") == answer.text


def test_a_verified_companion_sentence_stays_cited_once_one_sentence_answers(tmp_path: Path) -> None:
    # The off-type sentence comes first: it waits, and is streamed once the answering one verifies.
    pipe = _pipe(tmp_path, ScriptedChat(f"{DREDGED} [1] {AUTOMATED} [1]"))
    events = list(pipe.ask_stream(QUESTION, mode="llm"))
    answer = events[-1].answer
    assert answer is not None and answer.mode == "llm" and not answer.abstained
    assert [(s, bool(n)) for s, n in cited_sentences(answer.text)] == [(DREDGED, True), (AUTOMATED, True)]
    assert answer.unverified == [] and answer.usage["answer_type_missing"] == 0
    assert "".join(e.text for e in events if e.kind == "delta") == answer.text
