"""Answers as streamed events: the extractive answer's sentences, and the empty-store answer."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.protocols import Answerer
from rag.types import Answer, Citation, Query, ScoredChunk, StreamEvent
from rag.verify.cite import CANNOT_ANSWER, assemble, cited_sentences

__all__ = ["AnswerContext", "empty_store_answer", "extractive_events"]


@dataclass(frozen=True)
class AnswerContext:
    """What every writer of one answer shares: the question, its chunks, its clock, timings and notices."""

    question: str
    retrieved: list[ScoredChunk]
    standalone_question: str | None
    #: ``time.perf_counter()`` when the question arrived; ``timings_ms["total"]`` counts from it.
    t0: float
    #: Filled in as the answer is written (the same dict becomes ``Answer.timings_ms``).
    timings: dict[str, float]
    #: Said to the user in ``Answer.notice``; writers append to it.
    notices: list[str]

    def finish(self) -> None:
        """Record the answer's total time."""
        self.timings["total"] = (time.perf_counter() - self.t0) * 1000

    def answer(
        self,
        text: str,
        citations: list[Citation],
        *,
        abstained: bool,
        mode: str,
        evidence: float | None = None,
        unverified: list[int] | None = None,
        usage: dict[str, int] | None = None,
        served_model: str | None = None,
    ) -> Answer:
        """The ``Answer`` to this question: its chunks, timings and notices, with what the writer wrote."""
        return Answer(
            question=self.question,
            text=text,
            citations=citations,
            retrieved=self.retrieved,
            abstained=abstained,
            mode=mode,
            timings_ms=self.timings,
            notice=" ".join(self.notices) or None,
            unverified=[] if unverified is None else unverified,
            usage={} if usage is None else usage,
            standalone_question=self.standalone_question,
            evidence=evidence,
            served_model=served_model,
        )


def extractive_events(answerer: Answerer, query: Query, ctx: AnswerContext) -> Iterator[StreamEvent]:
    """The extractive answer's events: its cited sentences as ``delta``s, then the ``answer``."""
    t = time.perf_counter()
    selection = answerer.select(query, ctx.retrieved)
    if selection.sentences:
        text, citations = assemble(selection.sentences)
        # Optional on the protocol: an answerer written before compound questions has no such field.
        unanswered: Sequence[str] = getattr(selection, "unanswered", ())
        if unanswered:
            asked = " ".join(f"“{q}”" for q in unanswered)
            ctx.notices.append(f"The documents do not answer {asked}; the answer covers the rest of the question.")
    else:
        text, citations = CANNOT_ANSWER, []
        if selection.unmet:
            ctx.notices.append(f"Not answered: {selection.unmet}.")
    ctx.timings["answer"] = (time.perf_counter() - t) * 1000
    parts = cited_sentences(text) if citations else [(text, [])]
    for i, (sentence, numbers) in enumerate(parts):
        piece = sentence + "".join(f" [{n}]" for n in dict.fromkeys(numbers))
        yield StreamEvent(kind="delta", text=piece if i == 0 else " " + piece)
    ctx.finish()
    answer = ctx.answer(text, citations, abstained=not citations, mode="extractive", evidence=selection.evidence)
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
