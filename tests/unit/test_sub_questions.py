"""Compound questions split into the questions they join, each standalone."""

from __future__ import annotations

import pytest

from rag.answer.question import sub_questions
from rag.retrieve.aliases import load_aliases

ALIASES = load_aliases()


def test_two_questions_joined_by_and_are_split() -> None:
    assert sub_questions("What did Mansour write to al-Baghdadi, and what did IS call the Taliban?", ALIASES) == [
        "What did Mansour write to al-Baghdadi?",
        "What did IS call the Taliban?",
    ]


def test_a_later_part_pronoun_takes_the_earlier_part_names_only() -> None:
    # "she" is Jennifer Cafarella; the first part's other words ("work") are not what the second asks.
    parts = sub_questions("Where does Jennifer Cafarella work, and what did she predict?", ALIASES)
    assert parts == ["Where does Jennifer Cafarella work?", "What did she predict? (Jennifer Cafarella)"]


def test_a_searched_form_context_goes_with_every_part() -> None:
    parts = sub_questions("Which countries deal with them, and what worries Russia? (ISKP; Taliban)", ALIASES)
    assert parts == ["Which countries deal with them? (ISKP; Taliban)", "What worries Russia? (ISKP; Taliban)"]


@pytest.mark.parametrize(
    "question",
    [
        "Why does ISKP oppose the Taliban?",
        "When and where did the attack happen?",  # "When" is no question of its own
        "What did the Taliban and IS each do to the other's leaders?",  # "and" joins names, not questions
        "Did the Taliban fight ISKP, and why?",  # the first part asks no question word
    ],
)
def test_a_question_asking_one_thing_is_not_split(question: str) -> None:
    assert sub_questions(question, ALIASES) == []


def test_at_most_three_parts() -> None:
    q = "Who is A B, and what did he say, and where did he work, and when did he leave?"
    assert sub_questions(q, ALIASES) == []
    assert len(sub_questions("Who is A B, and what did he say, and where did he work?", ALIASES)) == 3
