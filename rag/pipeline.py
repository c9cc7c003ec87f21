"""The pipeline object: one store, one embedder, one retriever and answerer, built from settings."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.followup import HistoryItem, Turn, accept_rewrite, as_turns, condense_question
from rag.embed import Embedder, make_embedder
from rag.errors import ConfigError, EmptyQuestionError, IngestError, LLMError, RagError, translate_store_errors
from rag.ingest import IngestReport, check_seedable, ingest_paths
from rag.ingest.nodes import adopt_foreign_nodes, ensure_node_format
from rag.records import decode_flagged
from rag.retrieve.aliases import load_aliases
from rag.retrieve.hybrid import HybridRetriever
from rag.retrieve.lexical import LexicalIndex, tokenizer_fingerprint
from rag.settings import Settings
from rag.text import clip_words
from rag.types import Answer, Document, Flagged, RemovedLine, ScoredChunk, Source, StreamEvent
from rag.verify.cite import CANNOT_ANSWER, assemble, cited_sentences
from store import StoreError, VectorStore, open_store, write_lock

if TYPE_CHECKING:
    from rag.llm.openai import ChatModel

__all__ = ["DocumentInfo", "Pipeline"]

log = logging.getLogger("rag")


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
        flagged=decode_flagged(m),
    )


class Pipeline:
    """Ingest documents and answer questions with verified citations; safe to share across threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        llm: Any = None,
    ) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or make_embedder(settings)
        if store is None:
            with translate_store_errors():
                store = _open(settings)
        self.store: VectorStore = store
        with translate_store_errors():
            self.store.check_model(self.embedder.model_id, self.embedder.dim)
            #: What opening did to the store's chunk format (None: nothing), also logged to ``rag``.
            self.migration = ensure_node_format(self.store)
        self._chunk_count = -1
        self._outside_seen = -1
        self.aliases = load_aliases(settings.retrieve.aliases_path)
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()
        self._docs_at = 0.0
        self._docs: dict[str, Any] | None = None
        self._committed_ids: frozenset[str] = frozenset()
        self._docs_version: str | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._answerer_index: LexicalIndex | None = None
        self._lexical: LexicalIndex | None = None
        # A given LLM (ours or any llama-index LLM) answers in 'auto' mode without an endpoint setting.
        self._llm: ChatModel | None = _chat_model_of(llm) if llm is not None else None
        self._llm_given = llm is not None
        self._checker: Any = None
        self.retriever = HybridRetriever(
            self.store, self.embedder, self.aliases, settings.retrieve, self._lexical_index, self._committed
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Pipeline:
        """Build a pipeline from settings (default: the environment's ``RAG_*`` variables)."""
        return cls(settings or Settings(), **overrides)

    def close(self) -> None:
        """Release the store's connections; the pipeline is unusable afterwards."""
        self.store.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- corpus state -------------------------------------------------------
    def _documents(self) -> dict[str, Any]:
        with self._lock:
            stale = time.monotonic() - self._docs_at > self.settings.store.refresh_seconds
            if self._docs is None or stale:
                with translate_store_errors():
                    version = self.store.corpus_version()
                    if self._docs is not None and self._unchanged_since_last_read(version):
                        self._docs_at = time.monotonic()
                        return self._docs
                    docs = {d.id: d.metadata for d in self.store.documents()}
                    if self._adopt_foreign(docs):
                        version = self.store.corpus_version()
                        docs = {d.id: d.metadata for d in self.store.documents()}
                if self._docs is not None and docs != self._docs:
                    # Another process (or server client) changed the corpus: rebuild the lexical index.
                    self._lexical = None
                    self.retriever.cache.clear()
                if docs != self._docs:
                    self._committed_ids = frozenset(docs)
                self._docs = docs
                self._docs_version = version
                self._docs_at = time.monotonic()
            return self._docs

    def _adopt_foreign(self, docs: dict[str, Any]) -> bool:
        """Adopt nodes inserted through llama-index (more chunks than our documents account for)."""
        count = self.store.count()
        self._chunk_count = count
        if count <= sum(int(m.get("n_chunks", 0)) for m in docs.values()) or count == self._outside_seen:
            return False
        if not self._ingest_lock.acquire(blocking=False):
            return False  # an ingest is writing those chunks; look again at the next refresh
        try:
            from rag.ingest.writer import ingest_signature

            signature = ingest_signature(self.settings, self.embedder.model_id)
            try:
                report = adopt_foreign_nodes(self.store, self.embedder, list(docs), signature=signature)
            except StoreError as exc:
                log.warning("rag: documents inserted through llama-index cannot be adopted: %s", exc)
                report = None
            self._outside_seen = count
        finally:
            self._ingest_lock.release()
        if report is None:
            return False
        for doc_id, reason in report.refused:
            log.warning("rag: llama-index document %s is not answerable: %s", doc_id, reason)
        if report.adopted:
            log.warning(
                "rag: adopted %d document(s) inserted through llama-index (%d chunks): %s",
                len(report.adopted),
                report.chunks,
                ", ".join(report.adopted),
            )
        return bool(report.adopted)

    def _unchanged_since_last_read(self, version: str | None) -> bool:
        """Whether the corpus is as last read, judged without reading every document's metadata."""
        # llama-index writes chunks without touching our version token: a chunk count that moved says so.
        if self._chunk_count >= 0 and self.store.count() != self._chunk_count:
            return False
        if version is not None:
            return version == self._docs_version
        # A store no writer of this version has touched: the same ids is the best cheap evidence
        # (an in-place re-ingest by an older version goes unseen until the next change).
        return self._docs_version is None and frozenset(self.store.document_ids()) == self._committed_ids

    def _committed(self) -> frozenset[str]:
        self._documents()
        return self._committed_ids

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
                        # Streamed page by page: the corpus's texts are never all in memory at once.
                        items = (
                            (h.id, h.text) for h in self.store.iter_chunks() if h.metadata.get("doc_id") in committed
                        )
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
            self._docs_at = 0.0
            self.retriever.cache.clear()

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
        wait: bool = True,
    ) -> IngestReport:
        """Ingest files or folders (default: the seed documents).

        One process writes to a store at a time: with ``wait=False`` a busy store raises
        ``StoreBusyError`` instead of waiting for the other ingest to finish.
        """
        targets = [Path(p) for p in paths] if paths else [self.settings.ingest.seeds_path]
        # Questions keep being answered (from the corpus as it was) while an ingest runs.
        with (
            self._ingest_lock,
            translate_store_errors(),
            self._write_lock(wait),
        ):
            if rebuild:
                self.store.reset()
                self.store.check_model(self.embedder.model_id, self.embedder.dim)
            try:
                return ingest_paths(targets, self.store, self.embedder, self.settings, prune=prune, progress=progress)
            finally:
                # Also after an ingest that wrote nothing: the rerun after a crash tells readers
                # about documents the crashed run committed without announcing them.
                with contextlib.suppress(StoreError):  # the ingest's own error says more
                    self.store.mark_changed()
                self._invalidate()

    def remove(self, key: str, *, delete_file: bool = False) -> DocumentInfo:
        """Remove a stored document (by id, file name or path); with ``delete_file`` its file too."""
        info = self._info(key)
        with self._ingest_lock, translate_store_errors(), self._write_lock():
            try:
                self.store.delete_documents([info.doc_id])
                self.store.delete_doc_chunks([info.doc_id])
            finally:
                with contextlib.suppress(StoreError):
                    self.store.mark_changed()
                self._invalidate()
        if delete_file:
            try:
                Path(info.path).unlink(missing_ok=True)
            except OSError as exc:
                raise IngestError(
                    f"removed {info.source} from the store, but its file could not be deleted: {exc}"
                ) from None
        return info

    def reindex(self, key: str) -> IngestReport:
        """Read a stored document's file again and re-ingest it, even when it looks unchanged."""
        info = self._info(key)
        path = Path(info.path)
        if not path.is_file():
            raise IngestError(
                f"the file of {info.source} is gone ({info.path}); remove the document or ingest it again"
            )
        with self._ingest_lock, translate_store_errors(), self._write_lock():
            # Without its record the document reads as new, so the ingest rebuilds its chunks.
            self.store.delete_documents([info.doc_id])
        return self.ingest([path])

    def _info(self, key: str) -> DocumentInfo:
        for info in self.sources():
            if key in (info.doc_id, info.source, info.path):
                return info
        raise RagError(f"no document {key!r} in the store; see `rag sources`")

    def _write_lock(self, wait: bool = True) -> contextlib.AbstractContextManager[None]:
        """The store's cross-process write lock (one writing process at a time)."""
        folder: Path | None = getattr(self.store, "folder", None)
        if folder is None and self.settings.chroma.host:
            # Locked beside the local cache: that serialises this machine's writers only, since a
            # Chroma server offers no lock of its own.
            folder = self._cache_dir().parent
        return write_lock(folder, self.store.location, wait=wait, notify=_tell)

    def ensure_corpus(
        self, *, progress: bool = False, notify: Callable[[str], None] | None = None
    ) -> IngestReport | None:
        """Ingest the seed documents if the store is new and empty; ``notify`` hears what happens.

        A store that existed before this pipeline opened it and holds no documents is never
        seeded: its emptiness may be a loss (a truncated database), so it raises ``StoreError``.
        """
        if not self.is_empty():
            return None
        check_seedable(self.store)
        seeds = self.settings.ingest.seeds_path
        if notify is not None:
            notify(f"the store at {self.store.location} is empty; ingesting {seeds} first …")
        report = self.ingest(progress=progress)
        if notify is not None:
            notify(report.summary())
        return report

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
                    flagged=decode_flagged(rec.metadata, rec.text),
                )
        raise RagError(f"no document {key!r} in the store; see `rag sources`")

    # -- llama-index ------------------------------------------------------------
    def retrieve(self, question: str, *, top_k: int | None = None) -> list[ScoredChunk]:
        """The top-k chunks for ``question`` (hybrid retrieval, name variants), best first."""
        q, _ = self._clean_question(question)
        if self.is_empty():
            return []
        with translate_store_errors():
            return self.retriever.retrieve(self.retriever.prepare(q), top_k)

    def as_retriever(self, top_k: int | None = None) -> Any:
        """This pipeline's retrieval as a llama-index ``BaseRetriever`` (imports llama_index)."""
        from rag.integrations.llama_index import RagRetriever

        return RagRetriever(self, top_k=top_k)

    def as_query_engine(self, *, top_k: int | None = None, mode: str | None = None, streaming: bool = False) -> Any:
        """This pipeline's answers as a llama-index query engine (``Response`` with verified ``[n]``)."""
        from rag.integrations.llama_index import CitedQueryEngine

        return CitedQueryEngine(pipeline=self, top_k=top_k, mode=mode, streaming=streaming)

    def as_chat_engine(self, *, top_k: int | None = None, mode: str | None = None) -> Any:
        """This pipeline as a llama-index chat engine with memory; follow-ups condensed as in ``ask``."""
        from rag.integrations.llama_index import CitedChatEngine

        return CitedChatEngine(self, top_k=top_k, mode=mode)

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
            notice = f"The question was {len(q):,} characters long; only its first {limit:,} were used."
            # At a word boundary: a word cut in two ("…Tal") would be searched as a word of its own.
            return clip_words(q, limit), notice
        return q, None

    def _resolve_mode(self, mode: str | None) -> str:
        mode = mode or self.settings.answer.mode
        if mode not in ("auto", "extractive", "llm"):
            raise ConfigError(f"unknown answer mode {mode!r}; use auto, extractive or llm")
        if mode == "auto":
            return "llm" if self._llm_given or self.settings.llm.configured() else "extractive"
        return mode

    def _chat_model(self) -> ChatModel:
        with self._lock:
            if self._llm is None:
                from rag.llm.openai import OpenAIChat

                self._llm = OpenAIChat(self.settings.llm)
            return self._llm

    def _support_checker(self) -> Any:
        with self._lock:
            if self._checker is None:
                from rag.embed import MINILM_MODEL_ID, MiniLMOnnx
                from rag.verify.support import SupportChecker

                # The judge's thresholds were calibrated on MiniLM vectors: always judge with MiniLM.
                judge = self.embedder if self.embedder.model_id == MINILM_MODEL_ID else MiniLMOnnx()
                self._checker = SupportChecker(judge)
            return self._checker

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        history: Sequence[HistoryItem] | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the documents, every sentence cited, or abstain.

        ``history`` holds the earlier turns of a conversation (oldest first): question strings
        (taken as answered), earlier :class:`Answer` objects, or ``(question, abstained)`` pairs.
        A follow-up such as "And what did the Taliban do about them?" is made standalone before
        retrieval, with context from answered turns only; ``Answer.standalone_question`` shows it.
        ``mode`` overrides ``settings.answer.mode`` ('auto', 'extractive' or 'llm').
        """
        answer: Answer | None = None
        for event in self.ask_stream(question, top_k=top_k, history=history, mode=mode):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None
        return answer

    def ask_stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        history: Sequence[HistoryItem] | None = None,
        mode: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Like :meth:`ask`, but yield the answer as it is written.

        Events: ``delta`` (a verified sentence with its markers, to append), ``token`` (raw LLM
        text not yet verified, for display only), then one final ``answer``.
        """
        t0 = time.perf_counter()
        q, notice = self._clean_question(question)
        resolved = self._resolve_mode(mode)
        turns = as_turns(history)
        timings: dict[str, float] = {}
        if self.is_empty():
            empty = Answer(
                question=q,
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
            return
        notices = [notice] if notice else []
        llm: ChatModel | None = None
        if resolved == "llm":
            try:
                llm = self._chat_model()
            except RagError as exc:
                notices.append(f"LLM unavailable ({exc}); showing the extractive answer.")
        standalone = q
        if turns:
            standalone = condense_question(q, turns, self.aliases)
            if llm is not None and standalone != q:
                standalone = self._condense_with_llm(llm, q, turns, standalone, timings)
        with translate_store_errors():
            t = time.perf_counter()
            query = self.retriever.prepare(standalone)
            timings["embed"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            retrieved = self.retriever.retrieve(query, top_k)
            timings["retrieve"] = (time.perf_counter() - t) * 1000
        common: dict[str, Any] = {
            "question": q,
            "retrieved": retrieved,
            "standalone_question": standalone if standalone != q else None,
        }
        if llm is not None:
            try:
                yield from self._answer_llm(llm, standalone, retrieved, timings, t0, notices, common)
                return
            except LLMError as exc:
                notices.append(f"LLM unavailable ({exc}); showing the extractive answer.")
        t = time.perf_counter()
        selection = self._extractive().select(query, retrieved)
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

    def _extractive(self) -> ExtractiveAnswerer:
        index = self._lexical_index()
        with self._lock:
            # One answerer per lexical index (its idf), so its per-chunk sentence cache survives questions.
            if self._answerer is None or self._answerer_index is not index:
                self._answerer = ExtractiveAnswerer(
                    self.aliases,
                    index.idf,
                    df=index.df,
                    n_chunks=index.n_docs,
                    max_sentences=self.settings.answer.max_sentences,
                    min_evidence=self.settings.answer.min_evidence,
                    cache_size=self.settings.retrieve.chunk_cache,
                )
                self._answerer_index = index
            return self._answerer

    def _condense_with_llm(
        self, llm: ChatModel, q: str, turns: Sequence[Turn], fallback: str, timings: dict[str, float]
    ) -> str:
        from rag.answer.prompts import condense_messages

        t = time.perf_counter()
        # The model sees the answered turns only, as the rule does.
        history = [turn.question for turn in turns if turn.answered]
        try:
            text = "".join(llm.stream(condense_messages(q, history), max_tokens=64)).strip()
        except LLMError:
            return fallback
        finally:
            timings["condense"] = (time.perf_counter() - t) * 1000
        text = text.splitlines()[0].strip().strip('"') if text else ""
        # A small model may answer instead of rewriting, or hand back an earlier question: keep the rule's version.
        return text if accept_rewrite(text, q, turns) else fallback

    def _answer_llm(
        self,
        llm: ChatModel,
        question: str,
        retrieved: list[ScoredChunk],
        timings: dict[str, float],
        t0: float,
        notices: list[str],
        common: dict[str, Any],
    ) -> Iterator[StreamEvent]:
        from rag.answer.prompts import build_messages
        from rag.verify.verifier import Verifier, looks_like_sentinel, split_completed

        verifier = Verifier(self._support_checker(), retrieved, strict=self.settings.strict)
        buffer = ""
        emitted = 0
        t = time.perf_counter()
        for piece in llm.stream(build_messages(question, retrieved)):
            buffer += piece
            yield StreamEvent(kind="token", text=piece)
            done, buffer = split_completed(buffer)
            for sentence, numbers in done:
                kept = verifier.add(sentence, numbers)
                if kept is not None:
                    yield StreamEvent(kind="delta", text=kept if emitted == 0 else " " + kept)
                    emitted += 1
        for sentence, numbers in cited_sentences(buffer):
            kept = verifier.add(sentence, numbers)
            if kept is not None:
                yield StreamEvent(kind="delta", text=kept if emitted == 0 else " " + kept)
                emitted += 1
        result = verifier.finish()
        usage = llm.last
        timings["llm"] = (time.perf_counter() - t) * 1000
        if usage.first_token_ms is not None:
            timings["llm_first_token"] = usage.first_token_ms
        timings["total"] = (time.perf_counter() - t0) * 1000
        if result.abstained and not looks_like_sentinel(usage.text):
            notices.append("No sentence of the LLM's answer could be verified against the sources.")
        if result.removed or result.reattributed:
            notices.append(
                f"Verification removed {result.removed} unsupported citation(s)"
                + (f" and re-attributed {result.reattributed} sentence(s)" if result.reattributed else "")
                + "."
            )
        answer = Answer(
            text=result.text,
            citations=result.citations,
            abstained=result.abstained,
            mode="llm",
            timings_ms=timings,
            notice=" ".join(notices) or None,
            unverified=result.unverified,
            usage={
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "citations_removed": result.removed,
                "sentences_reattributed": result.reattributed,
            },
            **common,
        )
        yield StreamEvent(kind="answer", text=answer.text, answer=answer)


def _chat_model_of(llm: Any) -> ChatModel:
    """Our chat model as given, or a llama-index ``LLM`` behind the adapter."""
    # Judged by class ancestry, so that telling them apart never imports llama_index itself.
    if any(c.__module__.startswith("llama_index.") for c in type(llm).__mro__):
        from rag.integrations.llama_index.llm import chat_model_for

        return chat_model_for(llm)
    if callable(getattr(llm, "stream", None)):
        return llm  # type: ignore[no-any-return]
    raise ConfigError(f"llm= takes a llama_index.core.llms.LLM or a rag chat model, not {type(llm).__name__}")


def _tell(message: str) -> None:
    print(f"rag: {message}", file=sys.stderr, flush=True)


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
