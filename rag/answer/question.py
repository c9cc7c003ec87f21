"""What a question is before it is answered: cleaned, bounded, and the answer mode resolved."""

from __future__ import annotations

from rag.errors import ConfigError, EmptyQuestionError
from rag.settings import Settings
from rag.text import clip_words

__all__ = ["clean_question", "resolve_mode"]


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
