"""Follow-up questions: make "And what did the Taliban do about them?" retrievable on its own.

The extractive rule is transparent: when a question leans on the conversation (a pronoun, an
opening "And"/"What about", or almost no content words of its own), the key names of the latest
earlier turn that named something are appended to it. The LLM path can condense with the model
instead and falls back to this rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.retrieve.aliases import Aliases
from rag.text import content_words

__all__ = ["condense_question", "key_terms", "needs_context"]

_PRONOUN = re.compile(
    r"\b(he|she|it|its|they|them|their|theirs|him|his|her|hers|this|that|these|those|there|the group|the latter|"
    r"the former|the same)\b",
    re.I,
)
_CONTINUATION = re.compile(r"^\s*(and|but|also|so|then|what about|how about|and what|why not)\b", re.I)
_QUESTION_WORDS = {
    "what",
    "why",
    "how",
    "who",
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
}


def needs_context(question: str, aliases: Aliases) -> bool:
    """True when the question cannot stand alone."""
    if _CONTINUATION.search(question) or _PRONOUN.search(question):
        return True
    return len(content_words(aliases.canonicalize(question))) <= 1


def key_terms(text: str, aliases: Aliases) -> list[str]:
    """Names in a turn: alias entities as written, then capitalised phrases (not sentence-initial words)."""
    terms: list[str] = []
    for a, b, _ in aliases.find(text):
        name = text[a:b]
        if name not in terms:
            terms.append(name)
    covered = [(a, b) for a, b, _ in aliases.find(text)]
    for m in re.finditer(r"\b[A-Z][\w'’-]*(?:\s+(?:al-|bin\s|of\s|the\s)?[A-Z][\w'’-]*)*", text):
        if any(a <= m.start() < b for a, b in covered):
            continue
        phrase = m.group()
        if m.start() == 0 and phrase.split()[0].lower() in _QUESTION_WORDS:
            phrase = " ".join(phrase.split()[1:])
        if phrase and phrase.lower() not in _QUESTION_WORDS and phrase not in terms:
            terms.append(phrase)
    return terms


def condense_question(question: str, history: Sequence[str], aliases: Aliases) -> str:
    """A standalone version of ``question`` given the earlier user turns (latest last)."""
    if not history or not needs_context(question, aliases):
        return question
    own = {t.lower() for t in key_terms(question, aliases)}
    for turn in reversed(history):
        terms = [t for t in key_terms(turn, aliases) if t.lower() not in own]
        if len(terms) < 2:
            # Few names: the turn's other content words carry its subject ("courting", "prisoners").
            named = " ".join(terms).lower()
            terms += [w for w in dict.fromkeys(_plain_words(turn)) if w not in named and w not in own]
        if terms:
            return f"{question.rstrip()} ({'; '.join(terms)})"
    return question


def _plain_words(text: str) -> list[str]:
    from rag.text import STOPWORDS, words

    return [w for w in words(text) if w not in STOPWORDS and w not in _QUESTION_WORDS and len(w) > 2]
