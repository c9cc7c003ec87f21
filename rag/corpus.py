"""The pipeline's view of the corpus: which documents are committed, the lexical index over them, and writes.

Readers poll a one-record corpus-version token (cheap) and re-read the document records only
when it changes; when the corpus changed under them (another process or server client ingested)
the lexical index is rebuilt and every ``on_change`` callback runs (the chunk caches). Writers
(ingest, remove, reindex) hold the ingest lock and the store's cross-process write lock, and
announce what they changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from rag.errors import DocumentNotFoundError, IngestError, translate_store_errors
from rag.protocols import Embedder
from rag.records import Key, document_info
from rag.retrieve.aliases import Aliases
from rag.retrieve.lexical import LexicalIndex, tokenizer_fingerprint
from rag.settings import Settings
from rag.types import DocumentInfo
from store import Scalar, StoreError, VectorStore, write_lock

__all__ = ["Corpus"]

DocMeta = Mapping[str, Scalar]

log = logging.getLogger("rag")


class Corpus:
    """Committed documents of one store and the BM25 index over their chunks; thread-safe."""

    def __init__(
        self,
        store: VectorStore,
        settings: Settings,
        aliases: Aliases,
        *,
        embedder: Embedder | None = None,
        ingest_lock: threading.Lock | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.aliases = aliases
        # Nodes inserted through llama-index are adopted (given a document record) with this
        # embedder, under the ingest lock; without an embedder they stay invisible.
        self._embedder = embedder
        self._ingest_lock = ingest_lock or threading.Lock()
        self._writer: int | None = None  # the thread inside a write, holding its locks
        self._chunk_count = -1
        self._outside_seen = -1
        #: Called (under the corpus lock) whenever the corpus is found changed or is invalidated.
        self.on_change: list[Callable[[], None]] = []
        self._lock = threading.RLock()
        self._docs_at = 0.0
        self._docs: dict[str, DocMeta] | None = None
        self._committed_ids: frozenset[str] = frozenset()
        self._docs_version: str | None = None
        self._lexical: LexicalIndex | None = None

    def documents(self) -> dict[str, DocMeta]:
        """Every committed document's record metadata by id (re-read at most every refresh period)."""
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
                    emptied = self._drop_emptied(docs)
                    if emptied:
                        docs = {k: v for k, v in docs.items() if k not in emptied}
                if self._docs is not None and docs != self._docs:
                    # Another process (or server client) changed the corpus: rebuild the lexical index.
                    self._lexical = None
                    self._changed()
                if docs != self._docs:
                    self._committed_ids = frozenset(docs)
                self._docs = docs
                self._docs_version = version
                self._docs_at = time.monotonic()
            return self._docs

    def _adopt_foreign(self, docs: Mapping[str, DocMeta]) -> bool:
        """Adopt nodes inserted through llama-index (more chunks than our documents account for)."""
        count = self.store.count()
        self._chunk_count = count
        if self._embedder is None or count <= sum(int(m.get(Key.N_CHUNKS, 0)) for m in docs.values()):
            return False
        if count == self._outside_seen or not self._ingest_lock.acquire(blocking=False):
            return False  # seen already, or an ingest is writing those chunks: look again at the next refresh
        try:
            from rag.ingest.nodes import adopt_foreign_nodes
            from rag.ingest.writer import ingest_signature

            signature = ingest_signature(self.settings, self._embedder.model_id)
            try:
                report = adopt_foreign_nodes(self.store, self._embedder, list(docs), signature=signature)
            except StoreError as exc:
                log.warning("rag: documents inserted through llama-index cannot be adopted: %s", exc)
                return False
            finally:
                self._outside_seen = count
        finally:
            self._ingest_lock.release()
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

    def _drop_emptied(self, docs: Mapping[str, DocMeta]) -> set[str]:
        """Documents whose chunks were all deleted behind our back (llama-index's ``delete_ref_doc``).

        Their records are removed when this process may write (else they are only hidden, and
        removing is tried again at the next change); fewer chunks than the records count is the sign.
        """
        count = self.store.count()
        if count >= sum(int(m.get(Key.N_CHUNKS, 0)) for m in docs.values()):
            return set()
        ids_of = getattr(self.store, "chunk_ids_of", None)
        if ids_of is not None:
            emptied = {d for d in docs if not ids_of(d)}
        else:
            have = {h.doc_id for h in self.store.iter_chunks()}
            emptied = {d for d in docs if d not in have}
        if not emptied or not self._ingest_lock.acquire(blocking=False):
            return emptied
        try:
            with self.write_lock(wait=False):
                self.store.delete_documents(sorted(emptied))
                self.store.mark_changed()
            log.warning(
                "rag: removed %d document(s) whose chunks were deleted through llama-index: %s",
                len(emptied),
                ", ".join(str(docs[d].get(Key.SOURCE, d)) for d in sorted(emptied)),
            )
        except StoreError as exc:  # read-only, or another process is writing: hidden until it can be removed
            log.debug("documents without chunks not removed yet: %s", exc)
        finally:
            self._ingest_lock.release()
        return emptied

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

    def committed(self) -> frozenset[str]:
        """Ids of the documents whose ingest finished (chunks of others are invisible)."""
        self.documents()
        return self._committed_ids

    def is_empty(self) -> bool:
        """True when no document has been ingested."""
        return not self.documents()

    def _signature(self) -> str:
        docs = self.documents()
        data = sorted((k, str(v.get(Key.CONTENT_HASH)), str(v.get(Key.SIGNATURE))) for k, v in docs.items())
        tok = tokenizer_fingerprint(self.settings.retrieve.aliases_path)
        return hashlib.sha256(json.dumps([self.store.location, tok, data]).encode()).hexdigest()[:20]

    def cache_dir(self) -> Path:
        """Where the lexical index is cached on disk (beside the store, or ``store.cache_dir``)."""
        base = self.settings.store.cache_dir
        if base is None:
            base = self.settings.store.path.parent / "cache" if self.settings.chroma.host else self.settings.store.path
        return Path(base) / "lexical"

    def lexical_index(self) -> LexicalIndex:
        """The BM25 index of the committed chunks: from memory, the disk cache, or built now."""
        with self._lock:
            if self._lexical is None:
                sig = self._signature()
                cache = self.cache_dir()
                index = LexicalIndex.load(cache, sig)
                if index is None:
                    committed = self.committed()
                    with translate_store_errors():
                        # Streamed page by page: the corpus's texts are never all in memory at once.
                        items = (
                            (h.id, h.text, str(h.metadata.get(Key.TITLE, "")), str(h.metadata.get(Key.SOURCE, "")))
                            for h in self.store.iter_chunks()
                            if h.doc_id in committed
                        )
                        index = LexicalIndex.build(items, self.aliases)
                    # A read-only cache folder only costs a rebuild next time.
                    with contextlib.suppress(OSError):
                        index.save(cache, sig)
                self._lexical = index
            return self._lexical

    def invalidate(self) -> None:
        """Forget everything read (after this process wrote to the store)."""
        with self._lock:
            self._docs = None
            self._lexical = None
            self._docs_at = 0.0
            self._changed()

    def _changed(self) -> None:
        for callback in self.on_change:
            callback()

    # -- documents and writes ---------------------------------------------------
    def sources(self) -> list[DocumentInfo]:
        """Every committed document with its metadata and chunk count, ordered by path."""
        return sorted((document_info(k, v) for k, v in self.documents().items()), key=lambda d: d.path)

    def find(self, key: str) -> DocumentInfo:
        """The committed document whose id, file name or path is ``key`` (``DocumentNotFoundError`` if none)."""
        for info in self.sources():
            if key in (info.doc_id, info.source, info.path):
                return info
        raise DocumentNotFoundError(f"no document {key!r} in the store; see `rag sources`")

    def write_lock(self, wait: bool = True) -> contextlib.AbstractContextManager[None]:
        """The store's cross-process write lock (one writing process at a time)."""
        folder: Path | None = getattr(self.store, "folder", None)
        if folder is None and self.settings.chroma.host:
            # Locked beside the local cache: that serialises this machine's writers only, since a
            # Chroma server offers no lock of its own.
            folder = self.cache_dir().parent
        return write_lock(folder, self.store.location, wait=wait, notify=_tell)

    @contextlib.contextmanager
    def _held(self, wait: bool = True) -> Iterator[None]:
        """Hold the ingest and write locks, unless this thread does (a write called back from an ingest's progress)."""
        with contextlib.ExitStack() as held, translate_store_errors():
            if self._writer != threading.get_ident():
                held.enter_context(self._ingest_lock)
                held.enter_context(self.write_lock(wait))
                self._writer = threading.get_ident()
                held.callback(setattr, self, "_writer", None)
            yield

    @contextlib.contextmanager
    def writing(self, *, wait: bool = True) -> Iterator[None]:
        """Hold the ingest and write locks while the body writes; then tell every reader the corpus changed."""
        with self._held(wait):
            try:
                yield
            finally:
                # Also after an ingest that wrote nothing: the rerun after a crash tells readers
                # about documents the crashed run committed without announcing them.
                with contextlib.suppress(StoreError):  # the write's own error says more
                    self.store.mark_changed()
                self.invalidate()

    def remove(self, key: str, *, delete_file: bool = False) -> DocumentInfo:
        """Remove a committed document (by id, file name or path); with ``delete_file`` its file too."""
        info = self.find(key)
        with self.writing():
            self.store.delete_documents([info.doc_id])
            self.store.delete_doc_chunks([info.doc_id])
        if delete_file:
            try:
                Path(info.path).unlink(missing_ok=True)
            except OSError as exc:
                raise IngestError(
                    f"removed {info.source} from the store, but its file could not be deleted: {exc}"
                ) from None
        return info

    def forget(self, key: str) -> Path:
        """Drop a document's record (not its chunks) so that ingesting its file, returned, rebuilds it."""
        info = self.find(key)
        path = Path(info.path)
        if not path.is_file():
            raise IngestError(
                f"the file of {info.source} is gone ({info.path}); remove the document or ingest it again"
            )
        with self._held():
            # Without its record the document reads as new, so the ingest rebuilds its chunks.
            self.store.delete_documents([info.doc_id])
        return path


def _tell(message: str) -> None:
    print(f"rag: {message}", file=sys.stderr, flush=True)
