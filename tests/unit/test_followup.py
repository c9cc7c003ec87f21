"""The follow-up rule: context only for questions that lean on the conversation, only from answered turns."""

from __future__ import annotations

import pytest

from rag.answer.followup import Turn, accept_rewrite, as_turns, condense_question, needs_context
from rag.retrieve.aliases import load_aliases
from rag.types import Answer

ALIASES = load_aliases()
FIFA = "Who won the 2022 FIFA World Cup?"
ISKP = "Why does ISKP oppose the Taliban?"
AND_TALIBAN = "And what did the Taliban do about them?"
START = "When did that start?"


@pytest.mark.parametrize(
    "question",
    ["What happened in Kabul?", "Who is Jennifer Cafarella?", "How many people died in 2021?", FIFA, ISKP],
)
def test_questions_that_name_their_subject_are_searched_as_written(question: str) -> None:
    assert not needs_context(question, ALIASES)
    assert condense_question(question, [ISKP, "Who leads the Haqqani network?"], ALIASES) == question


@pytest.mark.parametrize(
    "question", [START, AND_TALIBAN, "What did she predict?", "Why?", "What about the Haqqani network?"]
)
def test_pronouns_demonstratives_ellipsis_and_continuations_need_context(question: str) -> None:
    assert needs_context(question, ALIASES)


def test_fifa_then_kabul_is_not_mixed() -> None:
    assert condense_question("What happened in Kabul?", [FIFA], ALIASES) == "What happened in Kabul?"


def test_and_led_follow_up_carries_names_without_stopwords() -> None:
    out = condense_question(AND_TALIBAN, [ISKP], ALIASES)
    assert out.startswith(AND_TALIBAN + " (")
    context = out[len(AND_TALIBAN) :]
    assert "ISKP" in context
    assert "And" not in context and "Taliban" not in context  # its own name is not repeated


def test_referent_two_turns_back_is_resolved_with_plain_strings_and_answers() -> None:
    plain = condense_question(START, [ISKP, AND_TALIBAN], ALIASES)
    assert plain.startswith(START + " (")
    assert "ISKP" in plain and "Taliban" in plain and "(And" not in plain
    # The same through Answer objects, whose standalone_question says what was searched.
    first = _answer(ISKP, abstained=False)
    second = _answer(AND_TALIBAN, abstained=False, standalone=condense_question(AND_TALIBAN, [ISKP], ALIASES))
    assert condense_question(START, [first, second], ALIASES) == plain


def test_abstained_turns_never_give_context() -> None:
    assert condense_question(START, [(FIFA, True)], ALIASES) == START
    assert condense_question(START, [_answer(FIFA, abstained=True)], ALIASES) == START
    # An abstained latest turn is skipped: the answered one before it gives the context.
    assert "ISKP" in condense_question(START, [ISKP, (FIFA, True)], ALIASES)
    assert "FIFA" not in condense_question(START, [ISKP, (FIFA, True)], ALIASES)


def test_history_forms() -> None:
    turns = as_turns(["", "  ", FIFA, (ISKP, True), _answer(START, abstained=False, standalone="X?"), 42, None])
    assert turns == [Turn(FIFA), Turn(ISKP, answered=False), Turn(START, answered=True, searched="X?")]


def test_llm_rewrite_that_is_an_earlier_question_is_rejected() -> None:
    history = [ISKP, AND_TALIBAN]
    assert not accept_rewrite(ISKP, START, history)
    assert not accept_rewrite("  why does ISKP oppose the Taliban ?", START, history)
    assert not accept_rewrite("The Taliban fought ISKP.", START, history)  # an answer, not a question
    assert accept_rewrite("When did the Taliban start fighting ISKP?", START, history)


def _answer(question: str, *, abstained: bool, standalone: str | None = None) -> Answer:
    return Answer(
        question=question,
        text="",
        citations=[],
        retrieved=[],
        abstained=abstained,
        standalone_question=standalone,
    )


def test_cli_shows_what_was_searched_and_how_to_ask_it() -> None:
    from rag.cli import format_sources

    shown = format_sources(_answer(START, abstained=False, standalone="When did that start? (ISKP; Taliban)"))
    assert "Searched as: When did that start? (ISKP; Taliban)" in shown
    assert "rag ask 'When did that start? (ISKP; Taliban)'" in shown
    assert "Searched as" not in format_sources(_answer(START, abstained=False))
