"""LLM-written answers: stream the model's text, verify each sentence as it completes, keep what holds.

The model sees the retrieved chunks as numbered, fenced sources (:mod:`rag.answer.prompts`);
whatever it writes, :class:`rag.verify.verifier.Verifier` keeps only citations the support judge
confirms. Usage and timings come from the call's own completion, so concurrent answers stay apart.
When the endpoint fails, or nothing the model wrote verifies, the extractive answer is shown instead.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Generator, Iterator, Sequence

from rag.answer.events import AnswerContext, extractive_events
from rag.answer.followup import Turn, accept_rewrite
from rag.answer.prompts import build_messages, condense_messages
from rag.errors import LLMError
from rag.protocols import Answerer, ChatModel, Completion, SupportJudge
from rag.types import Answer, Query, StreamEvent
from rag.verify.cite import cited_sentences, parse_markers
from rag.verify.constraints import TypedAnswer
from rag.verify.verifier import Verified, Verifier, looks_like_sentinel, split_completed

__all__ = ["GenerativeAnswerer"]


class GenerativeAnswerer:
    """Writes answers with a chat model and verifies them with a support judge."""

    def __init__(self, llm: ChatModel, judge: SupportJudge, *, strict: bool = False) -> None:
        self.llm = llm
        self.judge = judge
        self.strict = strict

    def condense(self, question: str, turns: Sequence[Turn], fallback: str, timings: dict[str, float]) -> str:
        """A follow-up rewritten as a standalone question by the model (``fallback`` if it does not)."""
        t = time.perf_counter()
        # The model sees the answered turns only, as the rule does.
        history = [turn.question for turn in turns if turn.answered]
        try:
            text = "".join(self.llm.stream(condense_messages(question, history), max_tokens=64)).strip()
        except LLMError:
            return fallback
        finally:
            timings["condense"] = (time.perf_counter() - t) * 1000
        text = text.splitlines()[0].strip().strip('"') if text else ""
        # A small model may answer instead of rewriting, or hand back an earlier question: keep the rule's version.
        return text if accept_rewrite(text, question, turns) else fallback

    def stream(self, question: str, ctx: AnswerContext, typed: TypedAnswer | None = None) -> Iterator[StreamEvent]:
        """Events of one LLM answer: raw ``token``s, verified ``delta``s, then the ``answer``.

        ``typed``: what a typed question asks of the evidence (some verified sentence's quote must hold it).
        Raises :class:`LLMError` (before any ``delta``) when the endpoint fails, so the caller
        can fall back to the extractive answer.
        """
        verifier = Verifier(self.judge, ctx.retrieved, strict=self.strict, typed=typed)
        completion = self.llm.stream(build_messages(question, ctx.retrieved))
        t = time.perf_counter()
        cut = yield from _verified_events(completion, verifier)
        result = verifier.finish()
        ctx.timings["llm"] = (time.perf_counter() - t) * 1000
        if completion.first_token_ms is not None:
            ctx.timings["llm_first_token"] = completion.first_token_ms
        ctx.finish()
        answer = _answer(result, completion, ctx, cut=cut, served=_served_model(self.llm))
        yield StreamEvent(kind="answer", text=answer.text, answer=answer)

    def events(self, question: str, ctx: AnswerContext, extractive: Answerer, query: Query) -> Iterator[StreamEvent]:
        """The LLM's answer, or ``extractive``'s when the LLM fails or nothing it wrote verifies (never worse)."""
        before = list(ctx.notices)
        try:
            written: Answer | None = None
            for event in self.stream(question, ctx, _typed_answer(extractive, query)):
                if event.kind == "answer":
                    written = event.answer
                else:
                    yield event
        except LLMError as exc:
            ctx.notices.append(f"LLM unavailable ({exc}); showing the extractive answer.")
        else:
            assert written is not None
            yield from _never_worse(written, extractive, query, dataclasses.replace(ctx, notices=before))
            return
        yield from extractive_events(extractive, query, ctx)


def _never_worse(written: Answer, answerer: Answerer, query: Query, ctx: AnswerContext) -> Iterator[StreamEvent]:
    """The LLM's answer, unless nothing of it verified and the extractive answer has something.

    ``ctx.notices`` are the notices from before the LLM wrote (the fallback's notice adds to them).
    """
    if not written.abstained:
        yield StreamEvent(kind="answer", text=written.text, answer=written)
        return
    # Nothing was streamed as a delta yet (unverified sentences wait for a verified one).
    fallback = list(extractive_events(answerer, query, dataclasses.replace(ctx, notices=[])))
    extractive = fallback[-1].answer
    if extractive is None or extractive.abstained:
        yield StreamEvent(kind="delta", text=written.text)
        yield StreamEvent(kind="answer", text=written.text, answer=written)
        return
    yield from (e for e in fallback if e.kind == "delta")
    if written.usage.get("answer_type_missing"):
        why = "No verified sentence of the LLM's answer gives the kind of answer asked for"
    else:
        why = "No sentence of the LLM's answer could be verified against the sources"
    notice = f"{why}; showing the extractive answer."
    answer = dataclasses.replace(
        extractive,
        notice=" ".join([*ctx.notices, notice]),
        usage=dict(written.usage),
        served_model=written.served_model,
    )
    yield StreamEvent(kind="answer", text=answer.text, answer=answer)


def _typed_answer(answerer: Answerer, query: Query) -> TypedAnswer | None:
    """The extractive answerer's typed-answer rule for ``query``, so both modes apply the same one
    (None for an answerer that has none, or a question without an answer type)."""
    rule = getattr(answerer, "typed_answer", None)
    typed = rule(query) if callable(rule) else None
    return typed if isinstance(typed, TypedAnswer) else None


def _served_model(llm: ChatModel) -> str | None:
    """The model the endpoint says it serves, when the chat model can ask (None otherwise)."""
    ask = getattr(llm, "served_model", None)
    name = ask() if callable(ask) else None
    return name if isinstance(name, str) and name else None


# A sentence that ends like one: terminal punctuation, then closing quotes or brackets.
_COMPLETE = re.compile(r"[.!?…][\"'”’»)\]]*$")


class _Deltas:
    """The ``delta`` events of verified text; unverified sentences wait for the first verified one,
    so an answer that ends with nothing verified has shown nothing (and can be replaced whole)."""

    def __init__(self) -> None:
        self.emitted = 0
        self.held: list[str] = []

    def events(self, kept: str | None, answered: bool = True) -> list[StreamEvent]:
        if kept is None:
            return []
        # Verified sentences wait too until one answers a typed question: without one, the answer abstains.
        if not (parse_markers(kept) and answered):
            self.held.append(kept)
            return []
        out = []
        for text in [*self.held, kept]:
            out.append(StreamEvent(kind="delta", text=text if self.emitted == 0 else " " + text))
            self.emitted += 1
        self.held = []
        return out


def _verified_events(completion: Completion, verifier: Verifier) -> Generator[StreamEvent, None, int]:
    """Stream the completion, verifying each sentence once the next one has begun.

    Returns how many sentences were left out because ``max_tokens`` cut them off mid-sentence.
    """
    buffer = ""
    deltas = _Deltas()
    for piece in completion:
        buffer += piece
        yield StreamEvent(kind="token", text=piece)
        done, buffer = split_completed(buffer)
        for sentence, numbers in done:
            yield from deltas.events(verifier.add(sentence, numbers), verifier.answered)
    tail = cited_sentences(buffer)
    cut = 0
    if tail and completion.finish_reason == "length" and not _COMPLETE.search(tail[-1][0].rstrip()):
        # Cut by the token limit: the unfinished sentence is never verified, cited or shown.
        tail, cut = tail[:-1], 1
    for sentence, numbers in tail:
        yield from deltas.events(verifier.add(sentence, numbers), verifier.answered)
    return cut


def _answer(result: Verified, completion: Completion, ctx: AnswerContext, *, cut: int, served: str | None) -> Answer:
    notices = ctx.notices
    if cut:
        notices.append("The LLM's answer reached its token limit; the unfinished last sentence was left out.")
    if result.off_type:
        notices.append("No verified sentence of the LLM's answer gives the kind of answer asked for.")
    elif result.abstained and not looks_like_sentinel(completion.text):
        notices.append("No sentence of the LLM's answer could be verified against the sources.")
    if result.removed or result.reattributed:
        notices.append(
            f"Verification removed {result.removed} unsupported citation(s)"
            + (f" and re-attributed {result.reattributed} sentence(s)" if result.reattributed else "")
            + "."
        )
    return ctx.answer(
        result.text,
        result.citations,
        abstained=result.abstained,
        mode="llm",
        unverified=result.unverified,
        usage={
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "citations_removed": result.removed,
            "sentences_reattributed": result.reattributed,
            "sentences_cut": cut,
            "instructions_dropped": result.instructions_dropped,
            "answer_type_missing": int(result.off_type),
        },
        served_model=served,
    )
