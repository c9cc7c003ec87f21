"""Ingest: find files, read and clean them, chunk, embed, and store — idempotently and resumably.

Each document is written as: delete its old record and chunks, add its chunks, then write its
document record last. A run killed half-way leaves a document without a record; retrieval ignores
its chunks and the next run redoes it (chunk ids are deterministic, so nothing is duplicated).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed import Embedder
from rag.errors import IngestError
from rag.ingest.chunk import chunk_document
from rag.ingest.clean import clean_text
from rag.ingest.instructions import detect_instructions
from rag.ingest.loaders import load_file
from rag.ingest.metadata import extract_metadata, load_sidecar, merge
from rag.records import encode_vectors, node_fields
from rag.settings import Settings
from rag.types import Chunk, Document
from store import DocRecord, Record, VectorStore

__all__ = ["IngestReport", "discover", "ingest_paths", "ingest_signature", "prepare_document"]

#: Bump when cleaning or chunking changes, so unchanged files are re-processed once.
PIPELINE_VERSION = "2"


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
    chunks: int = 0
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
        return f"ingest: {', '.join(parts)}; {self.chunks} chunks embedded in {self.seconds:.1f} s"

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
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


def ingest_signature(settings: Settings, model_id: str) -> str:
    """What, besides the file's content, decides its chunks and vectors."""
    data = {"v": PIPELINE_VERSION, "chunk": settings.chunk.model_dump(), "model": model_id}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def document_key(path: Path) -> str:
    """The identity of a file across runs: its resolved absolute path (the same from any directory)."""
    return path.resolve().as_posix()


def discover(paths: Sequence[Path], settings: Settings) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest under ``paths`` and the ones refused (with reasons)."""
    exts = {e.lower() for e in settings.ingest.extensions}
    files: list[Path] = []
    failed: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for root in paths:
        if not root.exists() and not root.is_symlink():
            failed.append((str(root), "no such file or folder"))
            continue
        if root.is_file():
            if root.suffix.lower() not in exts:
                failed.append((str(root), f"unsupported type {root.suffix or '(none)'}; use {', '.join(sorted(exts))}"))
            elif root.resolve() not in seen:
                seen.add(root.resolve())
                files.append(root)
            continue
        for f in _walk(root, settings.ingest.follow_symlinks, failed):
            if f.suffix.lower() in exts and f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
    return sorted(files, key=lambda p: p.as_posix()), failed


def _walk(root: Path, follow: bool, failed: list[tuple[str, str]]) -> Iterator[Path]:
    base = root.resolve()
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(
        root, followlinks=follow, onerror=lambda e: failed.append((str(e.filename), e.strerror or str(e)))
    ):
        d = Path(dirpath)
        try:
            st = d.stat()
        except OSError as exc:
            failed.append((str(d), exc.strerror or str(exc)))
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:  # a symlink loop
            failed.append((str(d), "symlink loop; skipped"))
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            f = d / name
            if f.is_symlink():
                try:
                    target = f.resolve(strict=True)
                except (OSError, RuntimeError):
                    failed.append((str(f), "broken or looping symlink; skipped"))
                    continue
                if not follow and not target.is_relative_to(base):
                    failed.append(
                        (str(f), "symlink points outside the folder; skipped (set RAG_INGEST_FOLLOW_SYMLINKS=1)")
                    )
                    continue
            yield f


def prepare_document(path: Path, settings: Settings, sidecar: dict[str, Any] | None = None) -> Document:
    """Read, clean and describe one file (no embedding)."""
    loaded = load_file(path, max_bytes=int(settings.ingest.max_file_mb * 1_000_000))
    cleaned = clean_text(loaded.text)
    if not cleaned.text.strip():
        raise IngestError(f"{path}: nothing left after removing boilerplate")
    curated = (sidecar or {}).get(path.name)
    meta = merge(*(m for m in (curated, loaded.meta, extract_metadata(cleaned.text)) if m is not None))
    key = document_key(path)
    flagged = detect_instructions(cleaned.text)
    notes = loaded.notes
    if flagged:
        notes += (
            f"{len(flagged)} sentence(s) read as instructions to an assistant; kept but never used as evidence "
            f"(see `rag sources --show {path.name}`)",
        )
    return Document(
        doc_id=hashlib.sha1(key.encode()).hexdigest()[:16],
        source=path.name,
        path=key,
        text=cleaned.text,
        content_hash=hashlib.sha256(cleaned.text.encode()).hexdigest(),
        meta=meta,
        removed=cleaned.removed,
        notes=notes,
        flagged=flagged,
    )


def _chunk_records(
    items: Sequence[tuple[Document, Sequence[Chunk]]], embedder: Embedder
) -> tuple[list[Record], np.ndarray]:
    pairs = [(doc, c) for doc, chunks in items for c in chunks]
    rel = [[(a - c.start, b - c.start) for a, b in c.sentences] for _, c in pairs]
    vecs, sent_vecs = embedder.embed_with_spans([c.text for _, c in pairs], rel)
    records = []
    for (doc, c), v, sv, spans in zip(pairs, vecs, sent_vecs, rel, strict=True):
        meta: dict[str, Any] = {
            "doc_id": c.doc_id,
            "source": c.source,
            "path": doc.path,
            "start": c.start,
            "end": c.end,
            "index": c.index,
            "content_hash": doc.content_hash,
            "embed_model": embedder.model_id,
            "sents": json.dumps(spans, separators=(",", ":")),
            "svec": encode_vectors(sv),
            "flagged": json.dumps(list(c.flagged), separators=(",", ":")) if c.flagged else None,
            "title": c.meta.title,
            "publisher": c.meta.publisher,
            "author": c.meta.author,
            "date": c.meta.date,
            "language": c.meta.language,
        }
        meta.update(node_fields(c.chunk_id, c.doc_id, c.start, c.end, meta))
        records.append(Record(id=c.chunk_id, vector=v, text=c.text, metadata=meta))
    return records, vecs


def _doc_record(doc: Document, vecs: np.ndarray, n_chunks: int, signature: str, model_id: str) -> DocRecord:
    mean = vecs.mean(axis=0)
    mean = mean / max(float(np.linalg.norm(mean)), 1e-9)
    meta: dict[str, Any] = {
        "source": doc.source,
        "path": doc.path,
        "title": doc.meta.title,
        "publisher": doc.meta.publisher,
        "author": doc.meta.author,
        "date": doc.meta.date,
        "language": doc.meta.language,
        "content_hash": doc.content_hash,
        "signature": signature,
        "embed_model": model_id,
        "n_chunks": n_chunks,
        "chars": len(doc.text),
        "removed": json.dumps([[r.line, r.rule, r.text] for r in doc.removed], ensure_ascii=False),
        "notes": json.dumps(list(doc.notes), ensure_ascii=False),
        "flagged": json.dumps([[f.start, f.end, f.rule] for f in doc.flagged]) if doc.flagged else None,
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return DocRecord(
        id=doc.doc_id,
        vector=mean.astype(np.float32),
        text=doc.text,
        metadata={k: v for k, v in meta.items() if v is not None},
    )


_META_FIELDS = ("title", "publisher", "author", "date", "language")


def _unchanged(old: Mapping[str, Any], doc: Document, signature: str) -> bool:
    """Same text, same chunking and model, same metadata (an edited metadata.json re-ingests the file)."""
    return (
        old.get("content_hash") == doc.content_hash
        and old.get("signature") == signature
        and all(old.get(f) == getattr(doc.meta, f) for f in _META_FIELDS)
    )


def _progress(total: int, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", desc="ingest", disable=not show, leave=False, dynamic_ncols=True)


def ingest_paths(
    paths: Sequence[Path],
    store: VectorStore,
    embedder: Embedder,
    settings: Settings,
    *,
    prune: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Ingest files under ``paths`` into ``store``; unchanged documents are skipped."""
    t0 = time.perf_counter()
    report = IngestReport()
    files, refused = discover(paths, settings)
    report.failed.extend(refused)
    signature = ingest_signature(settings, embedder.model_id)
    existing = {d.id: d.metadata for d in store.documents()}
    sidecars: dict[Path, dict[str, Any]] = {}
    batch = _Batch(store, embedder, signature)
    bar = _progress(len(files), progress)
    try:
        for path in files:
            bar.set_postfix_str(path.name[-30:], refresh=False)
            try:
                folder = path.parent
                if folder not in sidecars:
                    sidecars[folder] = load_sidecar(folder)
                doc = prepare_document(path, settings, sidecars[folder])
                report.notes.extend((str(path), note) for note in doc.notes)
                old = existing.get(doc.doc_id)
                if old and _unchanged(old, doc, signature):  # decided before the costlier chunking
                    report.skipped.append(doc.path)
                    bar.update(1)
                    continue
                chunks = chunk_document(
                    doc, embedder.count_tokens, settings.chunk.max_tokens, settings.chunk.overlap_sentences
                )
                if not chunks:
                    raise IngestError(f"{path}: no sentences to index")
            except IngestError as exc:
                report.failed.append((str(path), str(exc).removeprefix(f"{path}: ")))
                bar.update(1)
                continue
            except Exception as exc:  # one bad file must not stop the batch
                report.failed.append((str(path), f"{type(exc).__name__}: {exc}"))
                bar.update(1)
                continue
            (report.updated if old else report.added).append(doc.path)
            report.flagged += len(doc.flagged)
            report.chunks += len(chunks)
            if batch.add(doc, chunks) >= BATCH_CHUNKS:
                bar.update(batch.flush())
        bar.update(batch.flush())
    finally:
        bar.close()
    if prune:
        report.removed.extend(prune_missing(store, existing))
    report.seconds = time.perf_counter() - t0
    return report


#: Chunks embedded and written together: big enough to amortise store round trips, small
#: enough to bound memory (and the work an interruption loses).
BATCH_CHUNKS = 64


class _Batch:
    """Documents waiting to be embedded and written as one group."""

    def __init__(self, store: VectorStore, embedder: Embedder, signature: str) -> None:
        self.store = store
        self.embedder = embedder
        self.signature = signature
        self.items: list[tuple[Document, list[Chunk]]] = []
        self.size = 0

    def add(self, doc: Document, chunks: list[Chunk]) -> int:
        self.items.append((doc, chunks))
        self.size += len(chunks)
        return self.size

    def flush(self) -> int:
        """Embed and write the group; returns how many documents it held."""
        if not self.items:
            return 0
        ids = [d.doc_id for d, _ in self.items]
        # Un-commit first: until its new record is written, a document is invisible and redoable.
        self.store.delete_documents(ids)
        self.store.delete_doc_chunks(ids)
        records, vecs = _chunk_records(self.items, self.embedder)
        self.store.add(records)
        doc_records, i = [], 0
        for doc, cs in self.items:
            doc_records.append(_doc_record(doc, vecs[i : i + len(cs)], len(cs), self.signature, self.embedder.model_id))
            i += len(cs)
        self.store.put_documents(doc_records)
        n = len(self.items)
        self.items, self.size = [], 0
        return n


def prune_missing(store: VectorStore, existing: dict[str, Any]) -> list[str]:
    """Remove documents whose files no longer exist."""
    # Documents inserted through llama-index have no file of ours to check.
    gone = {
        doc_id: str(meta.get("path"))
        for doc_id, meta in existing.items()
        if meta.get("origin") != "llama-index" and not Path(str(meta.get("path", ""))).exists()
    }
    store.delete_documents(list(gone))
    store.delete_doc_chunks(list(gone))
    return list(gone.values())
