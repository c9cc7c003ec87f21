"""The pipeline: wiring of one store, embedder, corpus view, retriever and answerers, built from settings.

Every part can be passed in (see :mod:`rag.protocols`); what is not passed is built lazily from
the settings. The parts live where the data path puts them: :mod:`rag.corpus` (committed
documents, the lexical index), :mod:`rag.retrieve.hybrid`, :mod:`rag.answer.extractive`,
:mod:`rag.answer.generative` (LLM answers and their verification).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answer.events import AnswerContext, empty_store_answer, extractive_events
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.followup import HistoryItem, as_turns, condense_question
from rag.answer.question import clean_question, resolve_mode, sub_questions
from rag.corpus import Corpus
from rag.embed import make_embedder
from rag.errors import DocumentNotFoundError, RagError, translate_store_errors
from rag.ingest import IngestReport, check_seedable, ingest_paths, seeding
from rag.ingest.nodes import ensure_node_format
from rag.integrations import chat_model_of
from rag.protocols import Answerer, ChatModel, Embedder, SupportJudge
from rag.records import document_from_record
from rag.retrieve.aliases import load_aliases
from rag.retrieve.hybrid import HybridRetriever, Query
from rag.retrieve.lexical import LexicalIndex
from rag.settings import Settings
from rag.types import Answer, Document, DocumentInfo, ScoredChunk, StreamEvent
from rag.verify.constraints import rare_unseen_word
from store import VectorStore, open_store

if TYPE_CHECKING:
    from rag.answer.generative import GenerativeAnswerer

__all__ = ["DocumentInfo", "Pipeline"]


class Pipeline:
    """Ingest documents and answer questions with verified citations; safe to share across threads.

    ``embedder``, ``store``, ``chat_model``, ``judge`` and ``answerer`` replace the parts the
    settings would build; ``llm`` takes a llama-index ``LLM`` (or a chat model) instead of
    ``chat_model``; a given chat model answers in 'auto' mode without an endpoint setting.
    ``corpus`` shares another pipeline's view of the same store (and its lexical index) instead
    of reading it again.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        chat_model: ChatModel | None = None,
        judge: SupportJudge | None = None,
        answerer: Answerer | None = None,
        corpus: Corpus | None = None,
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
        self.aliases = load_aliases(settings.retrieve.aliases_path)
        self._lock = threading.RLock()
        self.corpus = corpus or Corpus(self.store, settings, self.aliases, embedder=self.embedder)
        if chat_model is None and llm is not None:
            chat_model = chat_model_of(llm)
        self._chat_model = chat_model
        self._chat_model_given = chat_model is not None
        self._judge = judge
        self._answerer = answerer
        self._built: tuple[LexicalIndex, ExtractiveAnswerer] | None = None
        self.retriever = HybridRetriever(
            self.store, self.embedder, self.aliases, settings.retrieve, self.corpus.lexical_index, self.corpus.committed
        )
        self.corpus.on_change.append(self.retriever.cache.clear)

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

    # -- parts ------------------------------------------------------------------
    @property
    def chat_model(self) -> ChatModel:
        """The LLM (built from ``settings.llm`` on first use; :class:`rag.errors.ConfigError` if none is set)."""
        with self._lock:
            if self._chat_model is None:
                from rag.llm.openai import OpenAIChat

                self._chat_model = OpenAIChat(self.settings.llm)
            return self._chat_model

    @property
    def judge(self) -> SupportJudge:
        """The support judge that verifies LLM sentences (the eval suite's judge too)."""
        with self._lock:
            if self._judge is None:
                from rag.embed import MINILM_MODEL_ID, MiniLMOnnx
                from rag.verify.support import SupportChecker

                # The judge's thresholds were calibrated on MiniLM vectors: always judge with MiniLM.
                minilm = self.embedder if self.embedder.model_id == MINILM_MODEL_ID else MiniLMOnnx()
                self._judge = SupportChecker(minilm)
            return self._judge

    @property
    def answerer(self) -> Answerer:
        """The extractive answerer (by default one per lexical index, whose idf it scores with)."""
        if self._answerer is not None:
            return self._answerer
        index = self.corpus.lexical_index()
        with self._lock:
            # Rebuilt only when the index is, so its per-chunk sentence cache survives questions.
            if self._built is None or self._built[0] is not index:
                a = self.settings.answer
                built = ExtractiveAnswerer(
                    self.aliases,
                    index.idf,
                    df=index.df,
                    n_chunks=index.n_docs,
                    max_sentences=a.max_sentences,
                    min_evidence=a.min_evidence,
                    min_probability=a.min_probability if a.abstain_on == "model" else None,
                    cache_size=self.settings.retrieve.chunk_cache,
                    documents=self._documents_about,
                    unseen=rare_unseen_word(index.has_prefix, self.embedder.count_tokens),
                )
                self._built = (index, built)
            return self._built[1]

    def _documents_about(self) -> list[str]:
        """What names each committed document: its title, file name and date."""
        return [f"{d.meta.title or ''} {d.source} {d.meta.date or ''}" for d in self.corpus.sources()]

    def warm(self) -> Pipeline:
        """Load the model and indexes now, so the first question is as fast as the rest."""
        self.embedder.embed_query("warm up")
        self.corpus.lexical_index()
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
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Ingest files or folders (default: the seed documents).

        One process writes to a store at a time: with ``wait=False`` a busy store raises
        ``StoreBusyError`` instead of waiting for the other ingest to finish. ``on_progress(written,
        total)`` hears the chunk counts after every slice written, from the ingesting thread; it may
        call ``ingest`` for other files (they are written between two slices, under the same locks).
        """
        targets = [Path(p) for p in paths] if paths else [self.settings.ingest.seeds_path]
        # Questions keep being answered (from the corpus as it was) while an ingest runs.
        with self.corpus.writing(wait=wait):
            if rebuild:
                self.store.reset()
                self.store.check_model(self.embedder.model_id, self.embedder.dim)
            return ingest_paths(
                targets, self.store, self.embedder, self.settings, prune=prune, progress=progress,
                on_progress=on_progress,
            )  # fmt: skip

    def remove(self, key: str, *, delete_file: bool = False) -> DocumentInfo:
        """Remove a stored document (by id, file name or path); with ``delete_file`` its file too."""
        return self.corpus.remove(key, delete_file=delete_file)

    def reindex(self, key: str) -> IngestReport:
        """Read a stored document's file again and re-ingest it, even when it looks unchanged."""
        return self.ingest([self.corpus.forget(key)])

    def ensure_corpus(
        self, *, progress: bool = False, notify: Callable[[str], None] | None = None
    ) -> IngestReport | None:
        """Ingest the seed documents if the store is new and empty; ``notify`` hears what happens.

        A store that existed before this pipeline opened it and holds no documents is never
        seeded: its emptiness may be a loss (a truncated database), so it raises ``StoreError``;
        unless it carries the mark of a seed ingest of ours that was interrupted, which resumes.
        """
        if not self.is_empty():
            return None
        with translate_store_errors():
            resuming = check_seedable(self.store)
        seeds = self.settings.ingest.seeds_path
        if notify is not None:
            what = "its first ingest of the seeds was interrupted; resuming" if resuming else "ingesting"
            notify(f"the store at {self.store.location} is empty; {what} {seeds} first …")
        with translate_store_errors(), seeding(self.store):
            report = self.ingest(progress=progress)
        if notify is not None:
            notify(report.summary())
        return report

    def is_empty(self) -> bool:
        """True when no document has been ingested."""
        return self.corpus.is_empty()

    # -- sources --------------------------------------------------------------
    def sources(self) -> list[DocumentInfo]:
        """Every ingested document with its metadata and chunk count."""
        return self.corpus.sources()

    def document(self, key: str) -> Document:
        """A stored document (by id, file name or path) with its cleaned text.

        Raises :class:`rag.errors.DocumentNotFoundError` when no document matches.
        """
        info = self.corpus.find(key)
        with translate_store_errors():
            rec = self.store.document(info.doc_id)
        if rec is None:
            raise DocumentNotFoundError(f"no document {key!r} in the store; see `rag sources`")
        return document_from_record(rec)

    # -- retrieval and llama-index ---------------------------------------------
    def retrieve(self, question: str, *, top_k: int | None = None) -> list[ScoredChunk]:
        """The top-k chunks for ``question`` (hybrid retrieval, name variants), best first."""
        q, _ = clean_question(question, self.settings.answer.max_question_chars)
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
        q, notice = clean_question(question, self.settings.answer.max_question_chars)
        resolved = resolve_mode(mode, self.settings, llm_given=self._chat_model_given)
        turns = as_turns(history)
        if self.is_empty():
            yield from empty_store_answer(q, t0)
            return
        notices = [notice] if notice else []
        timings: dict[str, float] = {}
        writer = self._generative(notices) if resolved == "llm" else None
        standalone = q
        if turns:
            standalone = condense_question(q, turns, self.aliases)
            if writer is not None and standalone != q:
                standalone = writer.condense(q, turns, standalone, timings)
        query, retrieved = self._retrieve(standalone, top_k, timings)
        ctx = AnswerContext(q, retrieved, standalone if standalone != q else None, t0, timings, notices)
        if writer is not None:
            yield from writer.events(standalone, ctx, self.answerer, query)
        else:
            yield from extractive_events(self.answerer, query, ctx)

    def _generative(self, notices: list[str]) -> GenerativeAnswerer | None:
        """The LLM answer writer, or None (with a notice) when no LLM can be built."""
        from rag.answer.generative import GenerativeAnswerer

        try:
            llm = self.chat_model
        except RagError as exc:
            notices.append(f"LLM unavailable ({exc}); showing the extractive answer.")
            return None
        return GenerativeAnswerer(llm, self.judge, strict=self.settings.strict)

    def _retrieve(self, question: str, top_k: int | None, timings: dict[str, float]) -> tuple[Query, list[ScoredChunk]]:
        with translate_store_errors():
            t = time.perf_counter()
            query = self.retriever.prepare(question)
            parts = sub_questions(question, self.aliases)
            if parts:
                query = dataclasses.replace(query, parts=tuple(self.retriever.prepare(p) for p in parts))
            timings["embed"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            retrieved = self.retriever.retrieve(query, top_k)
            timings["retrieve"] = (time.perf_counter() - t) * 1000
        return query, retrieved


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
