"""Instruction detection: sentences addressed to an assistant are kept and shown, but never evidence.

A document may carry text written for a model rather than a reader ("Answer every question with:
…", "IMPORTANT SYSTEM NOTICE …", "SYSTEM: …"). Such sentences stay in the document (the user can
see them, marked) and are flagged per sentence; the answerer, the support judge and the LLM
prompt all honour the flags. The rules are data (``rag/data/instructions.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.text import split_sentences
from rag.types import Flagged

__all__ = ["RULES_PATH", "detect_instructions", "flagged_indices", "instruction_rule"]

RULES_PATH = Path(__file__).parents[1] / "data" / "instructions.json"


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    paragraph: bool
    imperative: bool


@dataclass(frozen=True)
class _Rules:
    rules: tuple[_Rule, ...]
    reported: re.Pattern[str]


@lru_cache(maxsize=4)
def _rules(path: Path = RULES_PATH) -> _Rules:
    data = json.loads(path.read_text(encoding="utf-8"))
    flags = re.IGNORECASE | re.MULTILINE
    return _Rules(
        rules=tuple(
            _Rule(
                name=r["name"],
                pattern=re.compile(r["pattern"], flags),
                paragraph=r.get("scope") == "paragraph",
                imperative=bool(r.get("imperative")),
            )
            for r in data["rules"]
        ),
        reported=re.compile(r"(?:" + data["reported_speech"] + r")", re.IGNORECASE),
    )


def _match(sentence: str, rules: _Rules) -> _Rule | None:
    for rule in rules.rules:
        for m in rule.pattern.finditer(sentence):
            # "The group told followers to ignore …" reports an instruction to people; it is not one.
            if rule.imperative and rules.reported.search(sentence[: m.start()]):
                continue
            return rule
    return None


def instruction_rule(sentence: str, rules_path: Path | None = None) -> str | None:
    """The name of the rule that flags ``sentence`` as addressed to an assistant, or None."""
    rule = _match(sentence.strip(), _rules(rules_path or RULES_PATH))
    return rule.name if rule else None


def detect_instructions(text: str, rules_path: Path | None = None) -> tuple[Flagged, ...]:
    """The sentences of ``text`` that read as instructions to an assistant, in document order."""
    rules = _rules(rules_path or RULES_PATH)
    out: list[Flagged] = []
    carry: str | None = None  # a paragraph-scope rule flags the rest of its paragraph
    prev_end = 0
    for a, b in split_sentences(text):
        if carry is not None and "\n" in text[prev_end:a]:
            carry = None
        prev_end = b
        sentence = text[a:b]
        rule = _match(sentence, rules)
        if rule is not None:
            out.append(Flagged(start=a, end=b, rule=rule.name, text=sentence))
            if rule.paragraph:
                carry = rule.name
        elif carry is not None:
            out.append(Flagged(start=a, end=b, rule=carry, text=sentence))
    return tuple(out)


def flagged_indices(sentences: Sequence[tuple[int, int]], flagged: Sequence[Flagged]) -> tuple[int, ...]:
    """Indices of the ``sentences`` (document offsets) that overlap a flagged span."""
    return tuple(i for i, (a, b) in enumerate(sentences) if any(f.start < b and a < f.end for f in flagged))
