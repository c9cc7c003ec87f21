"""Typed results that carry the evidence trail: Document → Chunk → ScoredChunk → Answer(citations)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "DocumentInfo",
    "Flagged",
    "Query",
    "Quote",
    "RemovedLine",
    "ScoredChunk",
    "Source",
    "StreamEvent",
]


@dataclass(frozen=True)
class RemovedLine:
    """A line cleaning dropped from a document, and the rule that dropped it."""

    line: int
    text: str
    rule: str


@dataclass(frozen=True)
class Flagged:
    """A sentence of a document addressed to an assistant (an instruction): shown marked, never evidence."""

    start: int
    end: int
    rule: str
    text: str


@dataclass(frozen=True)
class Source:
    """Bibliographic metadata of a document (any field may be unknown)."""

    title: str | None = None
    publisher: str | None = None
    author: str | None = None
    date: str | None = None
    language: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Document:
    """A cleaned document: the text every offset and quote refers to."""

    doc_id: str
    source: str
    path: str
    text: str
    content_hash: str
    meta: Source = field(default_factory=Source)
    removed: tuple[RemovedLine, ...] = ()
    notes: tuple[str, ...] = ()
    #: Sentences that read as instructions to an assistant: kept in ``text``, never used as evidence.
    flagged: tuple[Flagged, ...] = ()

    @property
    def title(self) -> str:
        """The title, or the file name when unknown."""
        return self.meta.title or self.source

    def marked_text(self, open_mark: str = "⟦", close_mark: str = "⟧") -> str:
        """The text with every flagged (instruction-like) sentence wrapped in marks, for display."""
        out: list[str] = []
        pos = 0
        for f in sorted(self.flagged, key=lambda f: f.start):
            if f.start < pos:
                continue
            out += [self.text[pos : f.start], open_mark, self.text[f.start : f.end], close_mark]
            pos = f.end
        out.append(self.text[pos:])
        return "".join(out)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, with its character span in the cleaned text."""

    chunk_id: str
    doc_id: str
    source: str
    text: str
    start: int
    end: int
    index: int
    sentences: tuple[tuple[int, int], ...] = ()
    meta: Source = field(default_factory=Source)
    #: One L2-normalised vector per sentence (pooled from the chunk's token vectors), when stored.
    sentence_vectors: Any = field(default=None, repr=False, compare=False)
    #: Indices into ``sentences`` of instruction-like sentences (see :class:`Flagged`): never evidence.
    flagged: tuple[int, ...] = ()

    def flagged_spans(self) -> tuple[tuple[int, int], ...]:
        """Document offsets of the chunk's flagged sentences."""
        return tuple(self.sentences[i] for i in self.flagged if i < len(self.sentences))

    @property
    def title(self) -> str:
        """The document title, or the file name when unknown."""
        return self.meta.title or self.source


@dataclass(frozen=True)
class Query:
    """A question prepared for retrieval: the text encoded, lexical tokens and its vector."""

    text: str
    dense_text: str
    tokens: tuple[str, ...]
    #: The L2-normalised embedding of ``dense_text`` (a numpy array).
    vector: Any = field(repr=False, compare=False)
    #: The questions a compound question joins, each prepared on its own (empty: it asks one thing).
    parts: tuple[Query, ...] = ()


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its fused score and the scores of each retriever."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    lexical_score: float | None = None

    @property
    def source(self) -> str:
        """File name of the chunk's document."""
        return self.chunk.source

    @property
    def chunk_id(self) -> str:
        """Stable id of the chunk."""
        return self.chunk.chunk_id

    @property
    def text(self) -> str:
        """Text of the chunk."""
        return self.chunk.text

    def to_dict(self) -> dict[str, Any]:
        """The ``retrieved`` entry of the ``--json`` contract."""
        return {
            "source": self.source,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 6),
            "text": self.text,
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "lexical_score": None if self.lexical_score is None else round(self.lexical_score, 6),
            "title": self.chunk.title,
        }


@dataclass(frozen=True)
class Quote:
    """Verbatim text of a cleaned source, located by character span."""

    text: str
    start: int
    end: int
    chunk_id: str
    score: float = 0.0


@dataclass(frozen=True)
class Citation:
    """Source number ``n`` of an answer: the document and the verbatim quote(s) that support it."""

    n: int
    source: str
    title: str
    quote: str
    chunk_id: str
    score: float
    start: int
    end: int
    publisher: str | None = None
    author: str | None = None
    date: str | None = None
    doc_id: str = ""
    quotes: tuple[Quote, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``citations`` entry of the ``--json`` contract."""
        d = asdict(self)
        d["score"] = round(self.score, 6)
        d["quotes"] = [{**asdict(q), "score": round(q.score, 6)} for q in self.quotes]
        return d


@dataclass
class Answer:
    """An answer whose every sentence cites numbered sources; ``abstained`` when the documents lack it."""

    question: str
    text: str
    citations: list[Citation]
    retrieved: list[ScoredChunk]
    abstained: bool
    mode: str = "extractive"
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None
    unverified: list[int] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    standalone_question: str | None = None
    #: The best sentence score behind the answer: below ``answer.min_evidence`` the pipeline abstains.
    evidence: float | None = None
    #: The model the LLM server reports serving (its ``/v1/models``), when an LLM was asked.
    served_model: str | None = None

    def citation(self, n: int) -> Citation:
        """The citation numbered ``n``."""
        for c in self.citations:
            if c.n == n:
                return c
        raise KeyError(n)

    def to_dict(self) -> dict[str, Any]:
        """The stable ``rag ask --json`` contract."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [r.to_dict() for r in self.retrieved],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "notice": self.notice,
            "unverified": list(self.unverified),
            "usage": dict(self.usage),
            "standalone_question": self.standalone_question,
            "evidence": None if self.evidence is None else round(self.evidence, 4),
            "served_model": self.served_model,
        }


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: ``delta`` text as it is written, then the final ``answer``."""

    kind: str
    text: str = ""
    answer: Answer | None = None


@dataclass(frozen=True)
class DocumentInfo:
    """A stored document's metadata, as ``rag sources`` lists it."""

    doc_id: str
    source: str
    path: str
    meta: Source
    chunks: int
    chars: int
    ingested_at: str
    removed: tuple[RemovedLine, ...]
    notes: tuple[str, ...]
    #: Instruction-like sentences (character spans of the cleaned text; ``text`` is filled by ``document()``).
    flagged: tuple[Flagged, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "path": self.path,
            "title": self.meta.title,
            "publisher": self.meta.publisher,
            "author": self.meta.author,
            "date": self.meta.date,
            "language": self.meta.language,
            "chunks": self.chunks,
            "chars": self.chars,
            "ingested_at": self.ingested_at,
            "removed": [{"line": r.line, "rule": r.rule, "text": r.text} for r in self.removed],
            "notes": list(self.notes),
            "flagged": [{"start": f.start, "end": f.end, "rule": f.rule} for f in self.flagged],
        }
