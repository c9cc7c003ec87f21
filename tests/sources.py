"""A retrieved chunk made of sentences joined by spaces, for verifier unit tests."""

from __future__ import annotations

from rag.types import Chunk, ScoredChunk


def scored_chunk(sentences: tuple[str, ...], source: str, flagged: tuple[int, ...] = ()) -> ScoredChunk:
    """One chunk of ``sentences`` (``flagged``: indices of those read as instructions), ranked first."""
    text = " ".join(sentences)
    spans, pos = [], 0
    for s in sentences:
        spans.append((pos, pos + len(s)))
        pos += len(s) + 1
    chunk = Chunk(
        chunk_id="c1",
        doc_id="d1",
        source=source,
        text=text,
        start=0,
        end=len(text),
        index=0,
        sentences=tuple(spans),
        flagged=flagged,
    )
    return ScoredChunk(chunk=chunk, score=1.0, rank=1)
