"""The follow-up conversations of issue 12, answered from the seeds: context only when it is a follow-up."""

from __future__ import annotations

from typing import Any


def test_fifa_then_kabul_is_answered_as_if_asked_fresh(pipeline: Any) -> None:
    fifa = pipeline.ask("Who won the 2022 FIFA World Cup?")
    assert fifa.abstained
    kabul = pipeline.ask("What happened in Kabul?", history=[fifa])
    assert kabul.standalone_question is None  # searched as written
    assert not kabul.abstained
    assert kabul.text == pipeline.ask("What happened in Kabul?").text


def test_iskp_conversation_resolves_that_two_turns_back(pipeline: Any) -> None:
    first = pipeline.ask("Why does ISKP oppose the Taliban?")
    second = pipeline.ask("And what did the Taliban do about them?", history=[first])
    assert second.standalone_question is not None and "ISKP" in second.standalone_question
    third = pipeline.ask("When did that start?", history=[first, second])
    searched = third.standalone_question
    assert searched is not None
    context = searched.removeprefix("When did that start?")
    assert "ISKP" in context and "Taliban" in context and "And" not in context
    assert not third.abstained
    # The fighting between them began in 2015 (when ISKP was formed), not the 2023 events.
    assert "since 2015" in third.text
    # Plain-string history gives the same search.
    plain = pipeline.ask("When did that start?", history=[first.question, second.question])
    assert plain.standalone_question == searched


def test_an_abstained_turn_gives_no_context(pipeline: Any) -> None:
    fifa = pipeline.ask("Who won the 2022 FIFA World Cup?")
    follow = pipeline.ask("When did that start?", history=[fifa])
    assert follow.standalone_question is None
    assert pipeline.ask("When did that start?", history=[(fifa.question, True)]).standalone_question is None
