"""Every seam of the pipeline in one place: what a component must offer to be passed in.

``Pipeline(settings, embedder=, store=, chat_model=, judge=, answerer=)`` takes any object that
satisfies these protocols; :mod:`rag.testing` holds small deterministic implementations of each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rag.types import Query, ScoredChunk
from rag.verify.cite import CitedSentence
from store.types import VectorStore

__all__ = [
    "AnswerSelection",
    "Answerer",
    "ChatModel",
    "Completion",
    "Embedder",
    "Span",
    "SupportJudge",
    "SupportVerdict",
    "VectorStore",
]

#: A character span ``(start, end)`` inside a text.
Span = tuple[int, int]


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline needs from an embedding model."""

    @property
    def model_id(self) -> str:
        """Names the model (stored with the vectors: a store refuses vectors of another model)."""
        ...

    @property
    def dim(self) -> int:
        """Length of each vector (known before the first vector is written)."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Return the L2-normalised vector of one query."""
        ...

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Return text vectors and, per text, one vector per character span (sentence vectors)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return the model's token count of each text (special tokens excluded)."""
        ...


class Completion(Protocol):
    """One streamed chat completion: iterate it once for text pieces; the rest is known afterwards.

    Each call to :meth:`ChatModel.stream` returns its own completion, so concurrent answers never
    see each other's usage or timings.
    """

    @property
    def text(self) -> str:
        """The whole text streamed so far."""
        ...

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens the endpoint reported (0 if it reported none)."""
        ...

    @property
    def completion_tokens(self) -> int:
        """Completion tokens the endpoint reported (0 if it reported none)."""
        ...

    @property
    def first_token_ms(self) -> float | None:
        """Milliseconds from the request to the first text piece (None before one arrived)."""
        ...

    @property
    def total_ms(self) -> float:
        """Milliseconds from the request to the end of the stream."""
        ...

    @property
    def finish_reason(self) -> str | None:
        """Why generation stopped ('stop', 'length', …), when the endpoint said."""
        ...

    def __iter__(self) -> Iterator[str]:
        """Yield the text pieces as they arrive (raises :class:`rag.errors.LLMError` on failure)."""
        ...


class ChatModel(Protocol):
    """What the pipeline needs from an LLM: a streamed completion per call."""

    model: str

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Completion:
        """Start one chat completion of ``messages`` (OpenAI chat format)."""
        ...


class SupportVerdict(Protocol):
    """A judge's answer for one statement against one passage."""

    @property
    def supported(self) -> bool:
        """Whether the passage supports the statement."""
        ...

    @property
    def score(self) -> float:
        """How well the best sentence supports it (for ranking quotes)."""
        ...

    @property
    def quote(self) -> str:
        """The best-supporting sentence, verbatim: ``passage[start:end]``."""
        ...

    @property
    def start(self) -> int:
        """Start offset of the quote in the passage."""
        ...

    @property
    def end(self) -> int:
        """End offset of the quote in the passage."""
        ...


class SupportJudge(Protocol):
    """What the LLM answer verifier and the eval suite need from a support judge."""

    def best_support(self, statement: str, passage: str, exclude: Sequence[Span] = ()) -> SupportVerdict:
        """The passage sentence that best supports ``statement``, judged; sentences overlapping an
        ``exclude`` span (passage offsets: instructions flagged at ingest) never support."""
        ...

    def supports(self, statement: str, passages: Sequence[str]) -> bool:
        """Whether the passages, together, support ``statement`` (the ALCE judge)."""
        ...


class AnswerSelection(Protocol):
    """The sentences an answerer chose, in reading order, and the evidence behind them."""

    @property
    def sentences(self) -> Sequence[CitedSentence]:
        """The chosen sentences (empty: abstain)."""
        ...

    @property
    def evidence(self) -> float:
        """The best sentence score (the pipeline abstains below ``answer.min_evidence``)."""
        ...

    @property
    def unmet(self) -> str | None:
        """Why nothing was chosen, when a requirement of the question was not met (shown as a notice)."""
        ...


class Answerer(Protocol):
    """What the pipeline needs from the extractive answerer: choose the sentences to cite."""

    def select(self, query: Query, retrieved: Sequence[ScoredChunk]) -> AnswerSelection:
        """Sentences of ``retrieved`` answering ``query`` (none: abstain), with the evidence score."""
        ...
