"""Follow-up questions: carry context only when a question cannot stand on its own.

The rule is transparent. A question that names its own subject ("What happened in Kabul?") is
searched as written. Context is carried only when the question leans on the conversation: it
opens with "And"/"But"/"What about", uses a pronoun that needs a referent ("them", "she"), a
bare demonstrative with no name of its own ("When did that start?"), or is an ellipsis with
almost no content words ("Why?"). The context is the names (then, if few, the content words
without stopwords) of the latest *answered* turn, as that turn was searched — so a referent
resolved one turn ago carries on to the next ("two turns back"). Abstained turns are skipped.
The LLM path may condense with the model instead; :func:`accept_rewrite` guards that rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.retrieve.aliases import Aliases
from rag.text import STOPWORDS, content_words, words

__all__ = [
    "HistoryItem",
    "Turn",
    "accept_rewrite",
    "as_turns",
    "condense_question",
    "key_terms",
    "names_own_subject",
    "needs_context",
]

#: A turn of ``history``: a plain question (taken as answered), an ``Answer``, a
#: ``(question, abstained)`` pair, or a :class:`Turn`.
HistoryItem = Any


@dataclass(frozen=True)
class Turn:
    """An earlier question, whether it was answered, and what was searched for it."""

    question: str
    answered: bool = True
    searched: str | None = None

    @property
    def text(self) -> str:
        """What the turn was about: the searched form when it was itself a follow-up."""
        return self.searched or self.question


def as_turns(history: Sequence[HistoryItem] | None) -> list[Turn]:
    """Normalise ``history`` (oldest first); anything unrecognised or empty is dropped."""
    out: list[Turn] = []
    for h in history or ():
        turn: Turn | None = None
        if isinstance(h, Turn):
            turn = h
        elif isinstance(h, str):
            turn = Turn(h)
        elif isinstance(h, tuple) and len(h) == 2 and isinstance(h[0], str):
            turn = Turn(h[0], answered=not bool(h[1]))
        elif isinstance(getattr(h, "question", None), str) and hasattr(h, "abstained"):
            # An Answer: its own standalone form says what it was about.
            searched = getattr(h, "standalone_question", None)
            turn = Turn(h.question, answered=not h.abstained, searched=searched if isinstance(searched, str) else None)
        if turn is not None and turn.question.strip():
            out.append(turn)
    return out


# Pronouns that always need a referent from the conversation.
_PRONOUN = re.compile(
    r"\b(he|she|it|its|they|them|their|theirs|him|his|her|hers|the group|the latter|the former|the same|"
    r"the organi[sz]ation|the movement)\b",
    re.I,
)
# Demonstratives and "there": a referent only when the question names nothing of its own
# ("When did that start?"; but "Who reported that ISKP attacked Kabul?" stands alone).
_DEMONSTRATIVE = re.compile(r"\b(this|that|these|those|there|such)\b", re.I)
_CONTINUATION = re.compile(r"^\s*(and|but|also|so|then|what about|how about|why not)\b", re.I)
_QUESTION_WORDS = {
    "what",
    "why",
    "how",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "which",
    "did",
    "does",
    "do",
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "had",
    "can",
    "could",
    "will",
    "would",
    "should",
}
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:al-|bin\s|of\s|the\s)?[A-Z][\w'’-]*)*")
_YEAR_OR_NUMBER = re.compile(r"\b\d[\d,.]*\b")


def key_terms(text: str, aliases: Aliases) -> list[str]:
    """Names in a turn: alias entities as written, then capitalised phrases (never stopwords or
    question words, such as a sentence-initial "And" or "What")."""
    text = _strip_context(text)
    terms: list[str] = []
    found = aliases.find(text)
    for a, b, _ in found:
        name = text[a:b]
        if name not in terms:
            terms.append(name)
    for m in _CAPITALISED.finditer(text):
        if any(a <= m.start() < b for a, b, _ in found):
            continue
        parts = m.group().split()
        while parts and (parts[0].lower() in _QUESTION_WORDS or parts[0].lower() in STOPWORDS):
            parts = parts[1:]
        phrase = " ".join(parts)
        if phrase and phrase.lower() not in STOPWORDS and phrase not in terms:
            terms.append(phrase)
    return terms


def names_own_subject(question: str, aliases: Aliases) -> bool:
    """True when the question names something itself: an entity, a capitalised name, or a number."""
    return bool(key_terms(question, aliases)) or bool(_YEAR_OR_NUMBER.search(question))


def needs_context(question: str, aliases: Aliases) -> bool:
    """True when the question cannot stand alone (see the module docstring for the rule)."""
    if _CONTINUATION.search(question) or _PRONOUN.search(question):
        return True
    if names_own_subject(question, aliases):
        return False
    if _DEMONSTRATIVE.search(question):
        return True
    return len(content_words(aliases.canonicalize(question))) <= 1


def _strip_context(text: str) -> str:
    # A searched form ends with the context we appended, "… (ISKP; Taliban)": read its names too,
    # but not the parentheses.
    return re.sub(r"\s*\(([^()]*)\)\s*$", lambda m: " " + m.group(1).replace(";", ","), text)


def _plain_words(text: str) -> list[str]:
    return [w for w in words(_strip_context(text)) if w not in STOPWORDS and w not in _QUESTION_WORDS and len(w) > 2]


#: Earlier turns a follow-up can reach back through (each resolved against the ones before it).
MAX_TURNS = 4


def condense_question(question: str, history: Sequence[HistoryItem], aliases: Aliases) -> str:
    """A standalone version of ``question`` given the earlier turns (oldest first)."""
    resolved: list[Turn] = []
    for t in [t for t in as_turns(history) if t.answered][-MAX_TURNS:]:
        # Plain-string turns did not say what was searched: resolve them as they would have been.
        resolved.append(t if t.searched else Turn(t.question, True, _condense(t.question, resolved, aliases)))
    return _condense(question, resolved, aliases)


def _condense(question: str, turns: Sequence[Turn], aliases: Aliases) -> str:
    if not turns or not needs_context(question, aliases):
        return question
    own = {t.lower() for t in key_terms(question, aliases)}
    own_words = set(words(question))
    terms: list[str] = []
    for i, turn in enumerate(reversed(turns[-2:])):
        names = [t for t in key_terms(turn.text, aliases) if t.lower() not in own and t not in terms]
        if i == 0 and len(names) < 2:
            # Few names: the latest turn's other content words carry its subject ("courting", "prisoners").
            named = " ".join(terms + names).lower()
            names += [w for w in dict.fromkeys(_plain_words(turn.text)) if w not in named and w not in own_words]
        terms += names
        if any(key_terms(t, aliases) for t in terms):
            break  # a name found: the referent is resolved; an older turn would only dilute the query
    if not terms:
        return question
    return f"{question.rstrip()} ({'; '.join(terms)})"


def accept_rewrite(rewrite: str, question: str, history: Sequence[HistoryItem]) -> bool:
    """Whether an LLM's standalone rewrite of ``question`` may replace the rule's version.

    Rejected: anything that is not a question of sensible length, and a rewrite that is just an
    earlier question (the model condensed the follow-up back into the first turn).
    """
    text = rewrite.strip()
    if not text.endswith("?") or not 3 <= len(text.split()) <= 60:
        return False
    norm = _normal(text)
    return all(_normal(t.question) != norm and _normal(t.text) != norm for t in as_turns(history))


def _normal(text: str) -> str:
    return " ".join(words(_strip_context(text)))
