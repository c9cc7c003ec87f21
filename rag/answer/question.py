"""What a question is before it is answered: cleaned, bounded, and the answer mode resolved."""

from __future__ import annotations

import re

from rag.answer.followup import key_terms, needs_context
from rag.errors import ConfigError, EmptyQuestionError
from rag.retrieve.aliases import Aliases
from rag.settings import Settings
from rag.text import clip_words

__all__ = ["clean_question", "resolve_mode", "sub_questions"]


def clean_question(question: str, limit: int) -> tuple[str, str | None]:
    """The question with control characters and runs of spaces removed, cut at ``limit`` characters
    (with a notice saying so)."""
    if not isinstance(question, str):
        raise EmptyQuestionError(f"the question must be a string, not {type(question).__name__}")
    q = "".join(ch for ch in question if ch.isprintable() or ch in "\n\t")
    q = " ".join(q.split())
    if not q:
        raise EmptyQuestionError(
            'the question is empty: ask something, e.g. rag ask "Why does ISKP oppose the Taliban?"'
        )
    if len(q) > limit:
        # At a word boundary: a word cut in two ("…Tal") would be searched as a word of its own.
        kept = clip_words(q, limit)
        return kept, f"The question was {len(q):,} characters long; only its first {len(kept):,} were used."
    return q, None


def resolve_mode(mode: str | None, settings: Settings, *, llm_given: bool = False) -> str:
    """'extractive' or 'llm': ``mode`` (default ``settings.answer.mode``) with 'auto' decided
    (an LLM when one was given or an endpoint is configured)."""
    mode = mode or settings.answer.mode
    if mode not in ("auto", "extractive", "llm"):
        raise ConfigError(f"unknown answer mode {mode!r}; use auto, extractive or llm")
    if mode == "auto":
        return "llm" if llm_given or settings.llm.configured() else "extractive"
    return mode


# "… , and what …": a second question joined to the first by "and" and its own question word.
_JOINED = re.compile(r"\s*,?\s+and\s+(?=(?:what|how|why|who|whom|whose|which|when|where)\b)", re.I)
_ASKS = re.compile(r"^(?:what|how|why|who|whom|whose|which|when|where|in which|in what)\b", re.I)
# A searched form's context from earlier turns, "… (ISKP; Taliban)": each part keeps it.
_CONTEXT = re.compile(r"\s*\([^()]*\)\s*$")
# Parts shorter than this are not questions of their own ("When and where did …").
_MIN_PART_WORDS = 3
MAX_PARTS = 3


def sub_questions(question: str, aliases: Aliases) -> list[str]:
    """The questions a compound question joins ("Who is X, and what did she predict?" → "Who is X?",
    "What did she predict? (X)"), each standalone; empty when the question asks one thing."""
    m = _CONTEXT.search(question)
    context = m.group().strip() if m and m.start() > 0 else ""
    body = question[: m.start()] if context and m else question
    if not _ASKS.match(body.strip()):
        return []
    pieces = [p.strip(" ,;?") for p in _JOINED.split(body.strip())]
    if len(pieces) < 2 or len(pieces) > MAX_PARTS or any(len(p.split()) < _MIN_PART_WORDS for p in pieces):
        return []
    parts: list[str] = []
    for piece in pieces:
        text = piece[0].upper() + piece[1:] + "?"
        # A later part's pronoun ("what did she predict") refers to an earlier part's names (only
        # those: the earlier part's other words say what it asks, not what this part is about).
        if parts and needs_context(text, aliases):
            own = {t.lower() for t in key_terms(text, aliases)}
            names = [t for p in pieces[: len(parts)] for t in key_terms(p, aliases) if t.lower() not in own]
            if names:
                text = f"{text} ({'; '.join(dict.fromkeys(names))})"
        parts.append(f"{text} {context}" if context else text)
    return parts
