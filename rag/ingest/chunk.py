"""Sentence-aware chunking sized for MiniLM's window, with character offsets into the cleaned text."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from rag.ingest.instructions import flagged_indices
from rag.text import split_sentences
from rag.types import Chunk, Document

__all__ = ["chunk_document", "chunk_id"]

TokenCounter = Callable[[Sequence[str]], list[int]]


def chunk_id(doc_id: str, index: int, text: str) -> str:
    """A stable id: the same document and text give the same id on every ingest."""
    digest = hashlib.sha1(f"{doc_id}\x00{text}".encode()).hexdigest()[:10]
    return f"{doc_id[:12]}-{index:04d}-{digest}"


def _split_long(text: str, start: int, end: int, counts: TokenCounter, max_tokens: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence at word boundaries into pieces that fit."""
    pieces: list[tuple[int, int]] = []
    a = start
    while a < end:
        # Grow the piece word by word (binary search over word ends keeps this cheap).
        ends = [i for i in range(a + 1, end + 1) if i == end or text[i].isspace()]
        lo, hi = 0, len(ends) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if counts([text[a : ends[mid]]])[0] <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        b = ends[lo]
        pieces.append((a, b))
        a = b
        while a < end and text[a].isspace():
            a += 1
    return pieces


#: Sentences whose tokens are counted per call.
COUNT_BATCH = 1024


def chunk_document(
    doc: Document, counts: TokenCounter, max_tokens: int = 160, overlap_sentences: int = 1
) -> list[Chunk]:
    """Pack consecutive whole sentences into chunks of at most ``max_tokens`` model tokens."""
    text = doc.text
    sents = split_sentences(text)
    if not sents:
        return []
    # Counted in batches: one call over a large document's every sentence holds all their encodings.
    sizes = [
        n for b in range(0, len(sents), COUNT_BATCH) for n in counts([text[x:y] for x, y in sents[b : b + COUNT_BATCH]])
    ]
    units: list[tuple[int, int]] = []
    unit_sizes: list[int] = []
    for (a, b), n in zip(sents, sizes, strict=True):
        if n <= max_tokens:
            units.append((a, b))
            unit_sizes.append(n)
        else:
            for pa, pb in _split_long(text, a, b, counts, max_tokens):
                units.append((pa, pb))
                unit_sizes.append(counts([text[pa:pb]])[0])

    groups: list[tuple[int, int]] = []  # [first unit, last unit] inclusive
    i = 0
    while i < len(units):
        j, total = i, unit_sizes[i]
        while j + 1 < len(units) and total + unit_sizes[j + 1] + 1 <= max_tokens:
            j += 1
            total += unit_sizes[j] + 1
        groups.append((i, j))
        if j + 1 >= len(units):
            break
        # Repeat the last sentences in the next chunk, but always move forward, and only as many
        # as fit beside the next new sentence: a chunk that adds nothing is pure redundancy.
        i = max(j + 1 - overlap_sentences, i + 1)
        while i <= j and sum(unit_sizes[i : j + 2]) + (j + 1 - i) > max_tokens:
            i += 1

    chunks = []
    for index, (i, j) in enumerate(groups):
        start, end = units[i][0], units[j][1]
        body = text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc.doc_id, index, body),
                doc_id=doc.doc_id,
                source=doc.source,
                text=body,
                start=start,
                end=end,
                index=index,
                sentences=tuple(units[i : j + 1]),
                meta=doc.meta,
                flagged=flagged_indices(units[i : j + 1], doc.flagged) if doc.flagged else (),
            )
        )
    return chunks
