"""The verifier applies the extractive answerer's typed-answer rule to the quotes of an LLM's sentences."""

from __future__ import annotations

from sources import scored_chunk

from rag.retrieve.aliases import load_aliases
from rag.testing import WordOverlapJudge
from rag.text import stem
from rag.types import ScoredChunk
from rag.verify.constraints import TypedAnswer
from rag.verify.verifier import Verifier

BUILT = "The Karsk bridge was built in 1931 by a Danish firm."
TOLL = "The Karsk bridge toll was abolished in 1975 after years of protest."
# "When was the Karsk bridge built?": a date, and the predicate term "built" (the name is not predicate).
WHEN_BUILT = TypedAnswer("date", (stem("built"),), load_aliases())


def _source() -> ScoredChunk:
    return scored_chunk((BUILT, TOLL), "bridge.txt")


def test_a_quote_with_a_date_but_nothing_of_the_predicate_is_not_verified() -> None:
    v = Verifier(WordOverlapJudge(), [_source()], typed=WHEN_BUILT)
    assert v.add(TOLL, [1]) is not None  # the judge finds the quote: faithful, but it dates the toll
    result = v.finish()
    assert not v.answered and result.abstained and result.off_type and result.citations == []


def test_a_quote_with_a_date_and_the_predicate_is_verified() -> None:
    v = Verifier(WordOverlapJudge(), [_source()], typed=WHEN_BUILT)
    assert v.add(BUILT, [1]) == f"{BUILT} [1]"
    result = v.finish()
    assert v.answered and not result.abstained and not result.off_type
    assert [q.text for c in result.citations for q in c.quotes] == [BUILT]


def test_once_answered_a_supported_companion_stays_verified() -> None:
    v = Verifier(WordOverlapJudge(), [_source()], typed=WHEN_BUILT)
    v.add(TOLL, [1])
    v.add(BUILT, [1])
    result = v.finish()
    assert not result.abstained and result.unverified == []
    assert [q.text for c in result.citations for q in c.quotes] == [TOLL, BUILT]


def test_without_a_typed_question_the_same_sentence_is_verified_as_before() -> None:
    v = Verifier(WordOverlapJudge(), [_source()])
    v.add(TOLL, [1])
    result = v.finish()
    assert v.answered and not result.abstained and not result.off_type


def test_the_rule_needs_the_answer_type_as_well_as_the_predicate() -> None:
    assert WHEN_BUILT.held_by(BUILT)
    assert not WHEN_BUILT.held_by(TOLL)  # a date, nothing of "built"
    assert not WHEN_BUILT.held_by("The Karsk bridge was built by a Danish firm.")  # "built", no date
