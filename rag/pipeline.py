"""The pipeline object: one store, one embedder, one retriever and answerer, built from settings."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.aliases import load_aliases
from rag.answer import ExtractiveAnswerer
from rag.cite import CANNOT_ANSWER, assemble, cited_sentences
from rag.embed import Embedder, make_embedder
from rag.errors import EmptyQuestionError, RagError, translate_store_errors
from rag.followup import condense_question
from rag.ingest import IngestReport, ingest_paths
from rag.lexical import LexicalIndex, tokenizer_fingerprint
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.types import Answer, Document, RemovedLine, Source, StreamEvent
from store import VectorStore, open_store

__all__ = ["DocumentInfo", "Pipeline"]


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
        }


def _info(doc_id: str, m: Any) -> DocumentInfo:
    def opt(key: str) -> str | None:
        v = m.get(key)
        return str(v) if v not in (None, "") else None

    return DocumentInfo(
        doc_id=doc_id,
        source=str(m.get("source", "")),
        path=str(m.get("path", "")),
        meta=Source(
            title=opt("title"),
            publisher=opt("publisher"),
            author=opt("author"),
            date=opt("date"),
            language=opt("language"),
        ),
        chunks=int(m.get("n_chunks", 0)),
        chars=int(m.get("chars", 0)),
        ingested_at=str(m.get("ingested_at", "")),
        removed=tuple(
            RemovedLine(line=int(a), rule=str(b), text=str(c)) for a, b, c in json.loads(str(m.get("removed", "[]")))
        ),
        notes=tuple(json.loads(str(m.get("notes", "[]")))),
    )


class Pipeline:
    """Ingest documents and answer questions with verified citations; safe to share across threads."""

    def __init__(
        self, settings: Settings, *, embedder: Embedder | None = None, store: VectorStore | None = None
    ) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or make_embedder(settings)
        if store is None:
            with translate_store_errors():
                store = _open(settings)
        self.store: VectorStore = store
        with translate_store_errors():
            self.store.check_model(self.embedder.model_id, self.embedder.dim)
        self.aliases = load_aliases(settings.retrieve.aliases_path)
        self._lock = threading.RLock()
        self._docs: dict[str, Any] | None = None
        self._lexical: LexicalIndex | None = None
        self.retriever = HybridRetriever(
            self.store, self.embedder, self.aliases, settings.retrieve, self._lexical_index, self._committed
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Pipeline:
        """Build a pipeline from settings (default: the environment's ``RAG_*`` variables)."""
        return cls(settings or Settings(), **overrides)

    # -- corpus state -------------------------------------------------------
    def _documents(self) -> dict[str, Any]:
        with self._lock:
            if self._docs is None:
                with translate_store_errors():
                    self._docs = {d.id: d.metadata for d in self.store.documents()}
            return self._docs

    def _committed(self) -> set[str]:
        return set(self._documents())

    def _signature(self) -> str:
        docs = self._documents()
        data = sorted((k, str(v.get("content_hash")), str(v.get("signature"))) for k, v in docs.items())
        tok = tokenizer_fingerprint(self.settings.retrieve.aliases_path)
        return hashlib.sha256(json.dumps([self.store.location, tok, data]).encode()).hexdigest()[:20]

    def _cache_dir(self) -> Path:
        base = self.settings.store.cache_dir
        if base is None:
            base = self.settings.store.path.parent / "cache" if self.settings.chroma.host else self.settings.store.path
        return Path(base) / "lexical"

    def _lexical_index(self) -> LexicalIndex:
        with self._lock:
            if self._lexical is None:
                sig = self._signature()
                cache = self._cache_dir()
                index = LexicalIndex.load(cache, sig)
                if index is None:
                    committed = self._committed()
                    with translate_store_errors():
                        items = [
                            (h.id, h.text) for h in self.store.iter_chunks() if h.metadata.get("doc_id") in committed
                        ]
                    index = LexicalIndex.build(items, self.aliases)
                    # A read-only cache folder only costs a rebuild next time.
                    with contextlib.suppress(OSError):
                        index.save(cache, sig)
                self._lexical = index
            return self._lexical

    def _invalidate(self) -> None:
        with self._lock:
            self._docs = None
            self._lexical = None

    def warm(self) -> Pipeline:
        """Load the model and indexes now, so the first question is as fast as the rest."""
        self.embedder.embed_query("warm up")
        self._lexical_index()
        return self

    # -- ingest ---------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        prune: bool = False,
        rebuild: bool = False,
        progress: bool = False,
    ) -> IngestReport:
        """Ingest files or folders (default: the seed documents)."""
        targets = [Path(p) for p in paths] if paths else [self.settings.ingest.seeds_path]
        with self._lock, translate_store_errors():
            if rebuild:
                self.store.reset()
                self.store.check_model(self.embedder.model_id, self.embedder.dim)
            try:
                return ingest_paths(targets, self.store, self.embedder, self.settings, prune=prune, progress=progress)
            finally:
                self._invalidate()

    def is_empty(self) -> bool:
        """True when no document has been ingested."""
        return not self._documents()

    # -- sources --------------------------------------------------------------
    def sources(self) -> list[DocumentInfo]:
        """Every ingested document with its metadata and chunk count."""
        return sorted((_info(k, v) for k, v in self._documents().items()), key=lambda d: d.path)

    def document(self, key: str) -> Document:
        """A stored document (by id, file name or path) with its cleaned text."""
        for info in self.sources():
            if key in (info.doc_id, info.source, info.path):
                with translate_store_errors():
                    rec = self.store.document(info.doc_id)
                if rec is None:
                    break
                return Document(
                    doc_id=info.doc_id,
                    source=info.source,
                    path=info.path,
                    text=rec.text,
                    content_hash=str(rec.metadata.get("content_hash", "")),
                    meta=info.meta,
                    removed=info.removed,
                    notes=info.notes,
                )
        raise RagError(f"no document {key!r} in the store; see `rag sources`")

    # -- questions --------------------------------------------------------------
    def _clean_question(self, question: str) -> tuple[str, str | None]:
        if not isinstance(question, str):
            raise EmptyQuestionError(f"the question must be a string, not {type(question).__name__}")
        q = "".join(ch for ch in question if ch.isprintable() or ch in "\n\t")
        q = " ".join(q.split())
        if not q:
            raise EmptyQuestionError(
                'the question is empty: ask something, e.g. rag ask "Why does ISKP oppose the Taliban?"'
            )
        limit = self.settings.answer.max_question_chars
        if len(q) > limit:
            return q[:limit], f"The question was {len(q):,} characters long; only its first {limit:,} were used."
        return q, None

    def ask(self, question: str, *, top_k: int | None = None, history: Sequence[str] | None = None) -> Answer:
        """Answer ``question`` from the documents, every sentence cited, or abstain.

        ``history`` holds the earlier user turns of a conversation (oldest first); a follow-up
        such as "And what did the Taliban do about them?" is made standalone before retrieval.
        """
        t0 = time.perf_counter()
        q, notice = self._clean_question(question)
        history = [h for h in (history or []) if isinstance(h, str) and h.strip()]
        standalone = condense_question(q, history, self.aliases) if history else q
        timings: dict[str, float] = {}
        if self.is_empty():
            return Answer(
                question=q,
                text=CANNOT_ANSWER,
                citations=[],
                retrieved=[],
                abstained=True,
                notice="The document store is empty: run `rag ingest` first.",
                timings_ms={"total": (time.perf_counter() - t0) * 1000},
            )
        with translate_store_errors():
            t = time.perf_counter()
            query = self.retriever.prepare(standalone)
            timings["embed"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            retrieved = self.retriever.retrieve(query, top_k)
            timings["retrieve"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        answerer = ExtractiveAnswerer(
            self.aliases,
            self._lexical_index().idf,
            max_sentences=self.settings.answer.max_sentences,
            min_evidence=self.settings.answer.min_evidence,
        )
        selection = answerer.select(query, retrieved)
        if selection.sentences:
            text, citations = assemble(selection.sentences)
        else:
            text, citations = CANNOT_ANSWER, []
        timings["answer"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(
            question=q,
            text=text,
            citations=citations,
            retrieved=retrieved,
            abstained=not citations,
            mode="extractive",
            timings_ms=timings,
            notice=notice,
            standalone_question=standalone if standalone != q else None,
            evidence=selection.evidence,
        )

    def ask_stream(
        self, question: str, *, top_k: int | None = None, history: Sequence[str] | None = None
    ) -> Iterator[StreamEvent]:
        """Like :meth:`ask`, but yield the answer as it is written: ``delta`` events, then ``answer``."""
        answer = self.ask(question, top_k=top_k, history=history)
        parts = cited_sentences(answer.text) if answer.citations else [(answer.text, [])]
        for i, (sentence, numbers) in enumerate(parts):
            piece = sentence + "".join(f" [{n}]" for n in dict.fromkeys(numbers))
            yield StreamEvent(kind="delta", text=piece if i == 0 else " " + piece)
        yield StreamEvent(kind="answer", text=answer.text, answer=answer)


def _open(settings: Settings) -> VectorStore:
    c = settings.chroma
    if c.host:
        return open_store(
            host=c.host,
            port=c.port,
            ssl=c.ssl,
            headers=c.headers(),
            timeout=c.timeout,
            collection=settings.store.collection,
        )
    return open_store(path=settings.store.path, collection=settings.store.collection)
