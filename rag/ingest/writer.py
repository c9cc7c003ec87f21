"""Ingest runs: each file prepared, chunked, embedded and written to the store in slices, idempotently and resumably.

Each document is written as: delete its old record and chunks, add its chunks, then write its
document record last. A run killed half-way leaves a document without a record; retrieval ignores
its chunks and the next run redoes it (chunk ids are deterministic, so nothing is duplicated).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed import Embedder
from rag.errors import IngestError
from rag.ingest.chunk import chunk_document
from rag.ingest.discover import discover_files
from rag.ingest.metadata import load_sidecar
from rag.ingest.prepare import prepare_document
from rag.ingest.progress import Progress
from rag.records import META_FIELDS, Key, chunk_meta, chunk_record, doc_record, relative_spans
from rag.settings import Settings
from rag.types import Chunk, Document
from store import DocRecord, Record, VectorStore

# prepare_document is re-exported: it is imported from here by existing callers.
__all__ = ["IngestReport", "ingest_paths", "ingest_signature", "prepare_document"]


#: Bump when cleaning or chunking changes, so unchanged files are re-processed once.
PIPELINE_VERSION = "3"


@dataclass
class IngestReport:
    """What an ingest run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    #: Instruction-like sentences flagged (kept, never evidence) in the documents written this run.
    flagged: int = 0
    hidden: list[str] = field(default_factory=list)
    chunks: int = 0
    reused: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """The one-line summary printed after an ingest."""
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.skipped)} unchanged",
        ]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.flagged:
            parts.append(f"{self.flagged} instruction-like sentence(s) flagged, never used as evidence")
        if self.hidden:
            parts.append(f"{len(self.hidden)} hidden skipped")
        reused = f" ({self.reused} already stored, reused)" if self.reused else ""
        return (
            f"ingest: {', '.join(parts)}; {self.chunks - self.reused} chunks embedded{reused} in {self.seconds:.1f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": [{"path": p, "error": e} for p, e in self.failed],
            "notes": [{"path": p, "note": n} for p, n in self.notes],
            "flagged": self.flagged,
            "hidden": self.hidden,
            "chunks": self.chunks,
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
        }


def ingest_signature(settings: Settings, model_id: str) -> str:
    """What, besides the file's content, decides its chunks and vectors."""
    data = {"v": PIPELINE_VERSION, "chunk": settings.chunk.model_dump(), "model": model_id}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _chunk_records(pairs: Sequence[tuple[Document, Chunk]], embedder: Embedder) -> tuple[list[Record], np.ndarray]:
    vecs, sent_vecs = embedder.embed_with_spans([c.text for _, c in pairs], [relative_spans(c) for _, c in pairs])
    records = [
        chunk_record(doc, c, v, sv, embedder.model_id) for (doc, c), v, sv in zip(pairs, vecs, sent_vecs, strict=True)
    ]
    return records, vecs


def _doc_record(doc: Document, total: np.ndarray, n_chunks: int, signature: str, model_id: str) -> DocRecord:
    mean = total / max(float(np.linalg.norm(total)), 1e-9)
    return doc_record(
        doc,
        mean.astype(np.float32),
        n_chunks=n_chunks,
        signature=signature,
        model_id=model_id,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _unchanged(old: Mapping[str, Any], doc: Document, signature: str) -> bool:
    """Same text, same chunking and model, same metadata (an edited metadata.json re-ingests the file)."""
    return (
        old.get(Key.CONTENT_HASH) == doc.content_hash
        and old.get(Key.SIGNATURE) == signature
        and all(old.get(f) == getattr(doc.meta, f) for f in META_FIELDS)
    )


def ingest_paths(
    paths: Sequence[Path],
    store: VectorStore,
    embedder: Embedder,
    settings: Settings,
    *,
    prune: bool = False,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest files under ``paths`` into ``store``; unchanged documents are skipped.

    ``on_progress(written, total)`` hears the chunk counts after each slice written (and when a
    document's chunks are counted), from the ingesting thread.
    """
    t0 = time.perf_counter()
    report = IngestReport()
    files, refused, report.hidden = discover_files(paths, settings)
    report.failed.extend(refused)
    signature = ingest_signature(settings, embedder.model_id)
    existing = {d.id: d.metadata for d in store.documents()}
    sidecars: dict[Path, dict[str, Any]] = {}
    writer = _Writer(store, embedder, signature, settings.ingest.batch_chunks)
    bar = Progress(len(files), progress, on_progress)
    writer.on_write = bar.wrote
    try:
        for path in files:
            bar.file(path.name)
            try:
                folder = path.parent
                if folder not in sidecars:
                    sidecars[folder] = load_sidecar(folder)
                doc = prepare_document(path, settings, sidecars[folder])
                report.notes.extend((str(path), note) for note in doc.notes)
                old = existing.get(doc.doc_id)
                if old and _unchanged(old, doc, signature):  # decided before the costlier chunking
                    report.skipped.append(doc.path)
                    bar.file_done()
                    continue
                chunks = chunk_document(
                    doc, embedder.count_tokens, settings.chunk.max_tokens, settings.chunk.overlap_sentences
                )
                if not chunks:
                    raise IngestError(f"{path}: no sentences to index")
            except IngestError as exc:
                report.failed.append((str(path), str(exc).removeprefix(f"{path}: ")))
                bar.file_done()
                continue
            except Exception as exc:  # one bad file must not stop the batch
                report.failed.append((str(path), f"{type(exc).__name__}: {exc}"))
                bar.file_done()
                continue
            (report.updated if old else report.added).append(doc.path)
            report.flagged += len(doc.flagged)
            report.chunks += len(chunks)
            bar.found(len(chunks))
            writer.add(doc, chunks)
            del doc, chunks  # a large document's text and chunks go as soon as they are written
            bar.file_done()
        writer.flush()
        report.reused = writer.reused
    finally:
        bar.close()
    if prune:
        report.removed.extend(prune_missing(store, existing))
    report.seconds = time.perf_counter() - t0
    return report


def _same_meta(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    # The store drops None values: an absent key is a None.
    return all(stored.get(k) == v for k, v in wanted.items())


class _Open:
    """A document whose chunks are being written: how many remain and the sum of their vectors."""

    def __init__(self, doc: Document, total: int, dim: int) -> None:
        self.doc = doc
        self.total = total
        self.left = total
        self.ids: list[str] = []
        self.vector = np.zeros(dim, dtype=np.float64)


class _Writer:
    """Chunks embedded and written in bounded slices; each document committed once all its chunks are in.

    Commit protocol per document: delete its record (it becomes invisible), upsert its chunks slice by
    slice, delete its chunks that the new version no longer has, then write its record last. A run
    killed in between leaves an invisible document; the rerun finds the slices already written
    (chunk ids are derived from the text) and embeds only the rest.
    """

    def __init__(self, store: VectorStore, embedder: Embedder, signature: str, batch: int) -> None:
        self.store = store
        self.embedder = embedder
        self.signature = signature
        self.batch = max(1, batch)
        self.pending: list[tuple[_Open, Chunk]] = []
        self.open: list[_Open] = []
        self.uncommitted: set[str] = set()
        self.reused = 0
        self.on_write: Any = None
        # Reusing written slices needs to read their vectors and delete single chunks: stores that
        # cannot (a user's own VectorStore) re-embed a document from the start instead.
        self.resumable = all(hasattr(store, n) for n in ("vectors", "chunk_ids_of", "delete_chunks"))

    def add(self, doc: Document, chunks: Sequence[Chunk]) -> None:
        state = _Open(doc, len(chunks), self.embedder.dim)
        self.open.append(state)
        for c in chunks:
            self.pending.append((state, c))
            if len(self.pending) >= self.batch:
                self._write_slice()

    def flush(self) -> None:
        while self.pending:
            self._write_slice()
        self._commit_finished()

    def _uncommit(self, states: Sequence[_Open]) -> None:
        ids = list(dict.fromkeys(s.doc.doc_id for s in states if s.doc.doc_id not in self.uncommitted))
        if not ids:
            return
        # Until its new record is written, a document is invisible and redoable.
        self.store.delete_documents(ids)
        if not self.resumable:
            self.store.delete_doc_chunks(ids)
        self.uncommitted.update(ids)

    def _written(self, pairs: Sequence[tuple[_Open, Chunk]]) -> dict[str, np.ndarray]:
        """Vectors of the chunks of ``pairs`` already stored exactly as this run would write them."""
        if not self.resumable:
            return {}
        hits = {h.id: h.metadata for h in self.store.get([c.chunk_id for _, c in pairs])}
        same = [
            c.chunk_id
            for st, c in pairs
            if c.chunk_id in hits and _same_meta(hits[c.chunk_id], chunk_meta(st.doc, c, self.embedder.model_id))
        ]
        return dict(self.store.vectors(same)) if same else {}

    def _write_slice(self) -> None:
        pairs, self.pending = self.pending[: self.batch], self.pending[self.batch :]
        self._uncommit([st for st, _ in pairs])
        have = self._written(pairs)
        todo = [(st.doc, c) for st, c in pairs if c.chunk_id not in have]
        vectors = dict(have)
        if todo:
            records, vecs = _chunk_records(todo, self.embedder)
            self.store.add(records)
            vectors.update((r.id, v) for r, v in zip(records, vecs, strict=True))
        self.reused += len(have)
        for st, c in pairs:
            st.vector += vectors[c.chunk_id]
            st.ids.append(c.chunk_id)
            st.left -= 1
        if self.on_write is not None:
            self.on_write(len(pairs))
        self._commit_finished()

    def _commit_finished(self) -> None:
        done = [st for st in self.open if st.left == 0]
        if not done:
            return
        self._uncommit(done)  # a document with no chunks pending was never sliced
        if self.resumable:
            for st in done:
                keep = set(st.ids)
                stale = [i for i in self.store.chunk_ids_of(st.doc.doc_id) if i not in keep]  # type: ignore[attr-defined]
                self.store.delete_chunks(stale)  # type: ignore[attr-defined]
        self.store.put_documents(
            [_doc_record(st.doc, st.vector, st.total, self.signature, self.embedder.model_id) for st in done]
        )
        self.open = [st for st in self.open if st.left > 0]


def prune_missing(store: VectorStore, existing: dict[str, Any]) -> list[str]:
    """Remove documents whose files no longer exist."""
    # Documents inserted through llama-index have no file of ours to check.
    gone = {
        doc_id: str(meta.get(Key.PATH))
        for doc_id, meta in existing.items()
        if meta.get(Key.ORIGIN) != "llama-index" and not Path(str(meta.get(Key.PATH, ""))).exists()
    }
    store.delete_documents(list(gone))
    store.delete_doc_chunks(list(gone))
    return list(gone.values())
