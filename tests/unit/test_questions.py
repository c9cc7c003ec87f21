"""Validate the hand-written evaluation question set eval/questions.jsonl."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

import pytest
from conftest import ROOT

from eval.metrics import normalize_text

QUESTIONS = ROOT / "eval" / "questions.jsonl"
SEEDS = ROOT / "seeds"
TYPES = {
    "factoid",
    "why",
    "multi",
    "comparison",
    "temporal",
    "alias",
    "followup",
    "unanswerable",
    "constraint",
    "entity",
}
MIN_PER_TYPE = {
    "factoid": 14,
    "why": 8,
    "multi": 8,
    "comparison": 5,
    "temporal": 6,
    "alias": 8,
    "followup": 6,
    "unanswerable": 12,
    "constraint": 12,
    "entity": 10,
}
ALLOWED_KEYS = {"id", "question", "type", "sources", "facts", "history", "reference", "answerable"}


def load_items() -> list[dict[str, Any]]:
    """Parse every non-empty line of the question file."""
    items: list[dict[str, Any]] = []
    with QUESTIONS.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            assert isinstance(obj, dict), f"line {lineno} is not an object"
            items.append(obj)
    return items


@cache
def seed_text(name: str) -> str:
    """Return the normalised text of one seed article."""
    return normalize_text((SEEDS / name).read_text(encoding="utf-8"))


ITEMS = load_items()


def is_unanswerable(item: dict[str, Any]) -> bool:
    """Unanswerable by type, or a question of another type marked ``"answerable": false``."""
    return item["type"] == "unanswerable" or item.get("answerable") is False


ANSWERABLE = [it for it in ITEMS if not is_unanswerable(it)]


def test_enough_items() -> None:
    assert len(ITEMS) >= 60


def test_ids_unique_and_fields_well_formed() -> None:
    ids = [it["id"] for it in ITEMS]
    assert len(ids) == len(set(ids))
    for it in ITEMS:
        assert set(it) <= ALLOWED_KEYS, it["id"]
        assert isinstance(it["id"], str) and it["id"]
        assert isinstance(it["question"], str) and it["question"].strip()
        assert it["type"] in TYPES, it["id"]
        assert isinstance(it["sources"], list)
        assert isinstance(it["facts"], list)
        assert it.get("answerable", True) in (True, False), it["id"]


def test_type_coverage() -> None:
    counts = Counter(it["type"] for it in ITEMS)
    assert set(counts) == TYPES
    for type_, minimum in MIN_PER_TYPE.items():
        assert counts[type_] >= minimum, (type_, counts[type_])


def test_questions_unique() -> None:
    keys = [(tuple(it.get("history", [])), it["question"].strip().lower()) for it in ITEMS]
    assert len(keys) == len(set(keys))


def test_followups_have_history() -> None:
    for it in ITEMS:
        if it["type"] == "followup":
            history = it.get("history")
            assert isinstance(history, list) and history, it["id"]
            assert all(isinstance(h, str) and h.strip() for h in history), it["id"]
        else:
            assert not it.get("history"), it["id"]


def test_unanswerable_items_have_no_gold() -> None:
    unanswerable = [it for it in ITEMS if is_unanswerable(it)]
    assert len(unanswerable) >= 10
    assert all(it.get("answerable", False) is False for it in unanswerable)
    for it in unanswerable:
        assert it["sources"] == [], it["id"]
        assert it["facts"] == [], it["id"]


def test_answerable_sources_exist() -> None:
    for it in ANSWERABLE:
        assert it["sources"], it["id"]
        assert len(it["sources"]) == len(set(it["sources"])), it["id"]
        for src in it["sources"]:
            assert (SEEDS / src).is_file(), (it["id"], src)


def test_multi_items_have_several_sources() -> None:
    for it in ITEMS:
        if it["type"] == "multi":
            assert len(it["sources"]) >= 2, it["id"]


def test_answerable_facts_well_formed() -> None:
    for it in ANSWERABLE:
        assert it["facts"], it["id"]
        for fact in it["facts"]:
            assert isinstance(fact, list) and fact, it["id"]
            for phrase in fact:
                assert isinstance(phrase, str) and phrase.strip(), it["id"]
                assert phrase == phrase.lower(), (it["id"], phrase)


@pytest.mark.parametrize("item", ANSWERABLE, ids=[it["id"] for it in ANSWERABLE])
def test_fact_phrasings_appear_in_gold_sources(item: dict[str, Any]) -> None:
    texts = [seed_text(src) for src in item["sources"]]
    for fact in item["facts"]:
        for phrase in fact:
            norm = normalize_text(phrase)
            assert any(norm in text for text in texts), (item["id"], phrase)


def test_required_why_item_present() -> None:
    matches = [it for it in ITEMS if it["type"] == "why" and it["question"] == "Why does ISKP oppose the Taliban?"]
    assert len(matches) == 1
    item = matches[0]
    assert {"001_8ce81ff0f6d118bf.txt", "002_fd3580523704a8ee.txt"} <= set(item["sources"])
    phrasings = {p for fact in item["facts"] for p in fact}
    assert "apostates" in phrasings
    assert "caliphate" in phrasings


def test_constraint_questions_mostly_unanswerable() -> None:
    constraint = [it for it in ITEMS if it["type"] == "constraint"]
    assert sum(is_unanswerable(it) for it in constraint) >= 10
    assert sum(not is_unanswerable(it) for it in constraint) >= 3
