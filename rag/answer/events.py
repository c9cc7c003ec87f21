"""Answers as streamed events: the extractive answer's sentences, and the empty-store answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rag.protocols import Answerer
from rag.types import Answer, Query, ScoredChunk, StreamEvent
from rag.verify.cite import CANNOT_ANSWER, assemble, cited_sentences

__all__ = ["empty_store_answer", "extractive_events"]


def extractive_events(
    answerer: Answerer,
    query: Query,
    retrieved: list[ScoredChunk],
    *,
    timings: dict[str, float],
    t0: float,
    notices: list[str],
    common: dict[str, Any],
) -> Iterator[StreamEvent]:
    """The extractive answer's events: its cited sentences as ``delta``s, then the ``answer``."""
    t = time.perf_counter()
    selection = answerer.select(query, retrieved)
    if selection.sentences:
        text, citations = assemble(selection.sentences)
    else:
        text, citations = CANNOT_ANSWER, []
        if selection.unmet:
            notices.append(f"Not answered: {selection.unmet}.")
    timings["answer"] = (time.perf_counter() - t) * 1000
    parts = cited_sentences(text) if citations else [(text, [])]
    for i, (sentence, numbers) in enumerate(parts):
        piece = sentence + "".join(f" [{n}]" for n in dict.fromkeys(numbers))
        yield StreamEvent(kind="delta", text=piece if i == 0 else " " + piece)
    timings["total"] = (time.perf_counter() - t0) * 1000
    answer = Answer(
        text=text,
        citations=citations,
        abstained=not citations,
        mode="extractive",
        timings_ms=timings,
        notice=" ".join(notices) or None,
        evidence=selection.evidence,
        **common,
    )
    yield StreamEvent(kind="answer", text=answer.text, answer=answer)


def empty_store_answer(question: str, t0: float) -> Iterator[StreamEvent]:
    """The events of an answer from an empty store: abstain, saying how to fix it."""
    empty = Answer(
        question=question,
        text=CANNOT_ANSWER,
        citations=[],
        retrieved=[],
        abstained=True,
        mode="extractive",
        notice="The document store is empty: run `rag ingest` first.",
        timings_ms={"total": (time.perf_counter() - t0) * 1000},
    )
    yield StreamEvent(kind="delta", text=CANNOT_ANSWER)
    yield StreamEvent(kind="answer", text=empty.text, answer=empty)
