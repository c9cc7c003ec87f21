"""Verification of LLM-written sentences: keep only citations whose source supports the sentence.

Whatever the model writes, the :class:`Verifier` keeps only citations whose source supports the
sentence, attaches the verbatim supporting quote, renumbers them per document, and marks (or,
strictly, drops) sentences left without support. A typed question ("When was X built?") is answered
only when some verified sentence's quote holds the kind of answer and a term of what is asked
(:class:`rag.verify.constraints.TypedAnswer`, the extractive answerer's rule); otherwise the answer abstains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.text import content_words
from rag.types import Chunk, Citation, Quote, ScoredChunk
from rag.verify.cite import CANNOT_ANSWER, citation_for, cited_sentences, is_cannot_answer, marker, strip_markers
from rag.verify.constraints import TypedAnswer

if TYPE_CHECKING:
    from rag.protocols import SupportJudge

__all__ = [
    "CARRY_MIN_WORDS",
    "CARRY_SHARE",
    "ECHO_OVERLAP",
    "Verified",
    "Verifier",
    "looks_like_sentinel",
    "split_completed",
]

#: Share of an unverified sentence's content words found in one flagged sentence that makes it an echo.
ECHO_OVERLAP = 0.6
#: Share of a flagged sentence's content words (of at least CARRY_MIN_WORDS) that an unverified sentence
#: holds for it to carry the instruction inside other words ("… told members to ignore … and answer that …").
CARRY_SHARE = 0.8
CARRY_MIN_WORDS = 4


@dataclass
class Verified:
    """The verified answer: text with per-document numbers, citations, and what was removed."""

    text: str
    citations: list[Citation]
    unverified: list[int] = field(default_factory=list)
    removed: int = 0
    reattributed: int = 0
    abstained: bool = False
    #: Unverified sentences dropped because they repeat an instruction found in a source.
    instructions_dropped: int = 0
    #: Sentences were verified, but none gives the kind of answer the typed question asks for (so it abstained).
    off_type: bool = False


@dataclass
class _Doc:
    n: int
    chunk: Chunk
    quotes: list[Quote]


class Verifier:
    """Checks each sentence's citations against its sources as sentences complete."""

    def __init__(
        self,
        checker: SupportJudge,
        sources: Sequence[ScoredChunk],
        strict: bool = False,
        *,
        typed: TypedAnswer | None = None,
    ) -> None:
        self.checker = checker
        self.sources = list(sources)
        self.strict = strict
        self.typed = typed
        #: Some verified sentence answers the question (for a typed question: one of its quotes holds the rule).
        self.answered = False
        self._docs: dict[str, _Doc] = {}
        self.parts: list[str] = []
        self.unverified: list[int] = []
        self.removed = 0
        self.reattributed = 0
        self.instructions_dropped = 0
        self._sentences = 0

    def _support(self, sentence: str, idx: int) -> Quote | None:
        chunk = self.sources[idx].chunk
        # Instruction-like sentences flagged at ingest are never support (nor re-attribution targets).
        flagged = [(a - chunk.start, b - chunk.start) for a, b in chunk.flagged_spans()]
        # (Passed only when there are flags: judges written to the two-argument form keep working.)
        if flagged:
            res = self.checker.best_support(sentence, chunk.text, exclude=flagged)
        else:
            res = self.checker.best_support(sentence, chunk.text)
        # A question in the source (a heading like "Why does ISIS-K confront the Taliban?") asserts nothing.
        if not res.supported or res.quote.rstrip().endswith("?"):
            return None
        start = chunk.start + res.start
        return Quote(text=res.quote, start=start, end=start + len(res.quote), chunk_id=chunk.chunk_id, score=res.score)

    def _echoes_instruction(self, sentence: str) -> bool:
        """True when most of the sentence's content words come from one flagged sentence of a source,
        or when it holds nearly all of a flagged sentence's (an instruction blended into other words)."""
        mine = set(content_words(sentence))
        if not mine:
            return False
        for item in self.sources:
            chunk = item.chunk
            for a, b in chunk.flagged_spans():
                theirs = set(content_words(chunk.text[a - chunk.start : b - chunk.start]))
                shared = len(mine & theirs)
                if shared >= ECHO_OVERLAP * len(mine):
                    return True
                if len(theirs) >= CARRY_MIN_WORDS and shared >= CARRY_SHARE * len(theirs):
                    return True
        return False

    def _number(self, idx: int, quote: Quote) -> int:
        chunk = self.sources[idx].chunk
        doc = self._docs.get(chunk.doc_id)
        if doc is None:
            doc = self._docs[chunk.doc_id] = _Doc(n=len(self._docs) + 1, chunk=chunk, quotes=[])
        if all(q.start != quote.start for q in doc.quotes):
            doc.quotes.append(quote)
        return doc.n

    def add(self, sentence: str, cited: Sequence[int]) -> str | None:
        """Verify one sentence; return it with renumbered markers (None when strictly dropped)."""
        sentence = strip_markers(sentence)
        if not sentence or looks_like_sentinel(sentence):
            return None
        numbers: list[int] = []
        quotes: list[Quote] = []
        for n in dict.fromkeys(cited):
            if not 1 <= n <= len(self.sources):
                self.removed += 1  # an invented source number
                continue
            quote = self._support(sentence, n - 1)
            if quote is None:
                self.removed += 1
                continue
            quotes.append(quote)
            m = self._number(n - 1, quote)
            if m not in numbers:
                numbers.append(m)
        if not numbers:
            # The model cited nothing that holds: look for a source that does support the sentence.
            for idx in range(len(self.sources)):
                quote = self._support(sentence, idx)
                if quote is not None:
                    quotes.append(quote)
                    numbers.append(self._number(idx, quote))
                    self.reattributed += 1
                    break
        if numbers and not self.answered:
            # The evidence, not the model's wording, must give the kind of answer asked for.
            self.answered = self.typed is None or any(self.typed.held_by(q.text) for q in quotes)
        if not numbers:
            if self._echoes_instruction(sentence):
                # Text addressed to an assistant is never evidence, so its echo is not shown even as unverified.
                self.instructions_dropped += 1
                return None
            if self.strict:
                return None
            self.unverified.append(self._sentences)
            self._sentences += 1
            self.parts.append(sentence)
            return sentence
        self._sentences += 1
        text = f"{sentence} {''.join(marker(n) for n in numbers)}"
        self.parts.append(text)
        return text

    def finish(self) -> Verified:
        """The verified answer so far (call after the last sentence)."""
        citations = [citation_for(d.n, d.chunk, d.quotes) for d in sorted(self._docs.values(), key=lambda d: d.n)]
        verified_sentences = self._sentences - len(self.unverified)
        if not citations or verified_sentences == 0 or not self.answered:
            return Verified(
                text=CANNOT_ANSWER,
                citations=[],
                removed=self.removed,
                reattributed=self.reattributed,
                abstained=True,
                instructions_dropped=self.instructions_dropped,
                off_type=bool(citations and verified_sentences),
            )
        # A part without closing punctuation ("… is:") gets its own line, so splitting the
        # final text yields exactly the verified parts.
        text = ""
        for part in self.parts:
            if text:
                text += " " if re.search(r"[.!?…][\"'”’»)]*(\s*\[\d+\])*$", text) else "\n"
            text += part
        # Indices refer to cited_sentences(text), the order every consumer splits the answer in.
        unverified = [i for i, (_, numbers) in enumerate(cited_sentences(text)) if not numbers]
        return Verified(
            text=text,
            citations=citations,
            unverified=unverified,
            removed=self.removed,
            reattributed=self.reattributed,
            instructions_dropped=self.instructions_dropped,
        )


def split_completed(buffer: str) -> tuple[list[tuple[str, list[int]]], str]:
    """Sentences of ``buffer`` known to be complete (another sentence has begun), and the rest."""
    parts = cited_sentences(buffer)
    if len(parts) < 2:
        return [], buffer
    last = parts[-1][0]
    # Everything up to where the last (unfinished) sentence starts is complete, markers included.
    pos = buffer.rfind(last[: max(1, min(len(last), 20))])
    if pos <= 0:
        return [], buffer
    return cited_sentences(buffer[:pos]), buffer[pos:]


def looks_like_sentinel(text: str) -> bool:
    """True when the model answered with the cannot-answer sentinel."""
    return is_cannot_answer(text) or bool(re.match(r"^\s*i could not find", strip_markers(text), re.I))
