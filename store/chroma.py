"""Chroma behind the :class:`~store.types.VectorStore` interface: embedded or a ``chroma run`` server."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from store.faults import chroma_error
from store.types import DocRecord, EmbeddingMismatchError, Hit, Record, Scalar, StoreError, StoreUnavailableError

__all__ = ["DOC_ID_KEY", "MAX_BATCH", "TEXT_PART", "ChromaStore", "raw_persistent_client"]

T = TypeVar("T")

#: Chroma refuses batches larger than 5,461 records.
MAX_BATCH = 5000

#: The chunk metadata key holding a chunk's document id (the store's own field, filtered on).
DOC_ID_KEY = "doc_id"

#: A document's text is kept in parts of this many characters, in metadata (not Chroma's document
#: field, whose full-text index makes one 15 MB write cost ~15 s and a few hundred MB at once).
TEXT_PART = 131_072
#: Parts written per call: each call costs ~0.1 s of fixed overhead embedded, and its batch is held in memory.
TEXT_PARTS_PER_CALL = 16
_PART_KEY = "part"
_TEXT_KEY = "text"


def _clean_meta(meta: Mapping[str, Any]) -> dict[str, Scalar]:
    # Chroma metadata values must be scalars and never None.
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}


def _chunk_meta(record: Record | DocRecord) -> dict[str, Scalar]:
    meta = _clean_meta(record.metadata)
    if isinstance(record, Record):
        meta[DOC_ID_KEY] = record.doc_id
    return meta


def _hit(id_: str, text: str | None, meta: Mapping[str, Any] | None) -> Hit:
    rest = dict(meta or {})
    return Hit(id=id_, text=text or "", doc_id=str(rest.pop(DOC_ID_KEY, "")), metadata=rest)


class ChromaStore:
    """Chunks in one collection, documents in another; vectors always supplied by the caller."""

    def __init__(
        self,
        client: Any,
        name: str,
        location: str,
        timeout: float | None = None,
        *,
        created: bool | None = None,
        damage: str | None = None,
        folder: Path | None = None,
        copy: Any = None,
    ) -> None:
        self._client = client
        self.name = name
        self.location = location
        #: The embedded store's folder (None for a server store or a read-only one).
        self.folder = folder
        #: Opened from a temporary copy because the folder cannot be written: every write is refused.
        self.read_only = copy is not None
        self._keep: Any = copy  # that copy's TemporaryDirectory, removed when the store is closed or collected
        #: What was wrong with the store's files when it was opened (e.g. an emptied database), if anything.
        self.damage = damage
        self._timeout = timeout
        self._lock = threading.RLock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4) if timeout else None
        if created is None:  # a server store: new when its document collection is
            created = not self._exists(f"{name}_docs")
        #: True when this open made the store (no folder or collection before): only then may it be seeded.
        self.created = created
        self._chunks = self._call(lambda: self._collection(f"{name}_chunks"))
        self._docs = self._call(lambda: self._collection(f"{name}_docs"))
        self._texts: Any = None  # the documents' texts in parts; made on first write
        self._state: Any = None  # one-record collection holding the corpus version; made on first write

    # -- plumbing ---------------------------------------------------------
    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(
                f"the store at {self.location} is read-only (its folder cannot be written): questions work, "
                "but to ingest, copy it somewhere writable (cp -r SRC DST) and set RAG_STORE_PATH=DST"
            )

    def _exists(self, name: str) -> bool:
        try:
            self._call(lambda: self._client.get_collection(name=name, embedding_function=None))
        except StoreUnavailableError:
            raise
        except StoreError:
            return False
        return True

    def _collection(self, name: str, metadata: Mapping[str, Scalar] | None = None) -> Any:
        meta: dict[str, Scalar] = {"hnsw:space": "cosine"}
        meta.update(metadata or {})
        return self._client.get_or_create_collection(name=name, metadata=meta, embedding_function=None)

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one Chroma call, turning transport failures and hangs into StoreUnavailableError."""
        try:
            if self._pool is None:
                return fn()
            # The HTTP client has no timeout of its own: bound every call here.
            return self._pool.submit(fn).result(timeout=self._timeout)
        except concurrent.futures.TimeoutError as exc:
            raise StoreUnavailableError(
                f"the Chroma server at {self.location} did not answer within {self._timeout:g} s; "
                "check that it is running (chroma run ...) or raise RAG_CHROMA_TIMEOUT"
            ) from exc
        except StoreError:
            raise
        except Exception as exc:
            raise chroma_error(self.location, exc) from exc

    # -- model guard ------------------------------------------------------
    def check_model(self, model_id: str, dim: int) -> None:
        """Refuse to mix vectors of two embedding models in one collection."""
        with self._lock:
            meta = dict(self._chunks.metadata or {})
            stored = meta.get("embed_model")
            if stored == model_id:
                return
            if stored is not None and self.count() > 0:
                raise EmbeddingMismatchError(
                    f"the store at {self.location} holds vectors of embedding model {stored!r}, "
                    f"but the settings use {model_id!r}; run `rag ingest --rebuild` to re-embed everything "
                    "with the current model (or switch the setting back)"
                )
            # Empty or unlabelled: (re)create both collections labelled with this model.
            self._writable()
            self._call(lambda: self._client.delete_collection(f"{self.name}_chunks"))
            self._call(lambda: self._client.delete_collection(f"{self.name}_docs"))
            self._drop_texts()
            label: dict[str, Scalar] = {"embed_model": model_id, "dim": dim}
            self._chunks = self._call(lambda: self._collection(f"{self.name}_chunks", label))
            self._docs = self._call(lambda: self._collection(f"{self.name}_docs", label))
            self.mark_changed()

    # -- chunks -----------------------------------------------------------
    def _upsert(self, collection: Any, records: Sequence[Record] | Sequence[DocRecord]) -> None:
        """Upsert records into ``collection`` in batches Chroma accepts."""
        for b in range(0, len(records), MAX_BATCH):
            batch = records[b : b + MAX_BATCH]
            self._call(
                lambda batch=batch: collection.upsert(  # type: ignore[misc]
                    ids=[r.id for r in batch],
                    embeddings=np.stack([r.vector for r in batch]).astype(np.float32),
                    documents=[r.text for r in batch],
                    metadatas=[_chunk_meta(r) for r in batch],
                )
            )

    def add(self, records: Sequence[Record]) -> None:
        """Upsert chunk records."""
        self._writable()
        self._upsert(self._chunks, records)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the nearest chunks, best first."""
        # Without documents and metadatas (each chunk's sentence vectors ride in its metadata) a
        # 20-candidate query costs about a third as much; callers fetch the few chunks they keep.
        res = self._call(
            lambda: self._chunks.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=max(k, 1),
                include=["distances"],
            )
        )
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """Chunks by id, in the order asked."""
        if not ids:
            return []
        res = self._call(lambda: self._chunks.get(ids=list(ids), include=["documents", "metadatas"]))
        by_id = {i: _hit(i, t, m) for i, t, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def iter_chunks(self, batch: int = 1000) -> Iterator[Hit]:
        """Every chunk, paged."""
        # Pages of 1,000, not 5,000: reading 100k chunks then peaks ~0.2 GB lower (each chunk's
        # metadata carries its sentence vectors), for ~10% more time.
        offset = 0
        while True:
            res = self._call(
                lambda offset=offset: self._chunks.get(  # type: ignore[misc]
                    include=["documents", "metadatas"], limit=batch, offset=offset
                )
            )
            ids = res["ids"]
            for i, t, m in zip(ids, res["documents"], res["metadatas"], strict=True):
                yield _hit(i, t, m)
            if len(ids) < batch:
                return
            offset += batch

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Scalar]]) -> None:
        """Add or change these metadata keys of existing chunks (other keys, vectors and text are kept)."""
        self._writable()
        for b in range(0, len(ids), MAX_BATCH):
            self._call(
                lambda b=b: self._chunks.update(  # type: ignore[misc]
                    ids=list(ids[b : b + MAX_BATCH]), metadatas=[_clean_meta(m) for m in metadatas[b : b + MAX_BATCH]]
                )
            )

    def chunks_outside(self, doc_ids: Sequence[str]) -> list[Hit]:
        """Chunks whose metadata ``doc_id`` is none of ``doc_ids`` (unfinished ingests, other writers)."""
        where = {DOC_ID_KEY: {"$nin": list(doc_ids)}} if doc_ids else None
        res = self._call(lambda: self._chunks.get(where=where, include=["documents", "metadatas"]))
        return [_hit(i, t, m) for i, t, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)]

    def count(self) -> int:
        """Number of chunks."""
        return int(self._call(lambda: self._chunks.count()))

    def delete_doc_chunks(self, doc_ids: Sequence[str]) -> int:
        """Delete the chunks of these documents."""
        self._writable()
        if not doc_ids:
            return 0
        where = {DOC_ID_KEY: doc_ids[0]} if len(doc_ids) == 1 else {DOC_ID_KEY: {"$in": list(doc_ids)}}
        res = self._call(lambda: self._chunks.get(where=where, include=[]))
        ids = res["ids"]
        for b in range(0, len(ids), MAX_BATCH):
            self._call(lambda b=b: self._chunks.delete(ids=ids[b : b + MAX_BATCH]))  # type: ignore[misc]
        return len(ids)

    def chunk_ids_of(self, doc_id: str) -> list[str]:
        """The ids of one document's chunks."""
        return list(self._call(lambda: self._chunks.get(where={"doc_id": doc_id}, include=[]))["ids"])

    def delete_chunks(self, ids: Sequence[str]) -> None:
        """Delete chunks by id."""
        self._writable()
        for b in range(0, len(ids), MAX_BATCH):
            self._call(lambda b=b: self._chunks.delete(ids=list(ids[b : b + MAX_BATCH])))  # type: ignore[misc]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored chunk vectors by id (missing ids are left out)."""
        if not ids:
            return {}
        res = self._call(lambda: self._chunks.get(ids=list(ids), include=["embeddings"]))
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(res["ids"], res["embeddings"], strict=True)}

    # -- documents --------------------------------------------------------
    def put_documents(self, docs: Sequence[DocRecord]) -> None:
        """Write document records (the commit marks of their ingest), each after its text."""
        self._writable()
        for doc in docs:
            self._put_text(doc.id, doc.text)
        self._upsert(self._docs, [DocRecord(id=d.id, vector=d.vector, text="", metadata=d.metadata) for d in docs])
        self.mark_changed()

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete document records (and their texts)."""
        self._writable()
        if doc_ids:
            self._call(lambda: self._docs.delete(ids=list(doc_ids)))
            self._delete_texts(doc_ids)
            self.mark_changed()

    # -- document texts -----------------------------------------------------
    def _texts_collection(self, create: bool) -> Any:
        if self._texts is None:
            name = f"{self.name}_texts"
            if create:
                self._texts = self._call(lambda: self._collection(name))
            elif self._exists(name):
                self._texts = self._call(lambda: self._client.get_collection(name=name, embedding_function=None))
        return self._texts

    def _put_text(self, doc_id: str, text: str) -> None:
        texts = self._texts_collection(create=True)
        self._delete_texts([doc_id])
        parts = [text[k : k + TEXT_PART] for k in range(0, len(text), TEXT_PART)]
        for b in range(0, len(parts), TEXT_PARTS_PER_CALL):
            n = range(b, min(b + TEXT_PARTS_PER_CALL, len(parts)))
            self._call(
                lambda n=n: texts.upsert(  # type: ignore[misc]
                    ids=[f"{doc_id}:{k}" for k in n],
                    embeddings=[[1.0]] * len(n),
                    metadatas=[{DOC_ID_KEY: doc_id, _PART_KEY: k, _TEXT_KEY: parts[k]} for k in n],
                )
            )

    def _delete_texts(self, doc_ids: Sequence[str]) -> None:
        texts = self._texts_collection(create=False)
        if texts is not None and doc_ids:
            where = {DOC_ID_KEY: {"$in": list(doc_ids)}}
            self._call(lambda: texts.delete(where=where))

    def _text(self, doc_id: str) -> str:
        texts = self._texts_collection(create=False)
        if texts is None:
            return ""
        res = self._call(lambda: texts.get(where={DOC_ID_KEY: doc_id}, include=["metadatas"]))
        parts = sorted((m or {} for m in res["metadatas"]), key=lambda m: int(m.get(_PART_KEY, 0)))
        return "".join(str(m.get(_TEXT_KEY, "")) for m in parts)

    def _drop_texts(self) -> None:
        with contextlib.suppress(StoreError):  # never written, or already gone
            self._call(lambda: self._client.delete_collection(f"{self.name}_texts"))
        self._texts = None

    def document_ids(self) -> list[str]:
        """The ids of every document record."""
        return list(self._call(lambda: self._docs.get(include=[]))["ids"])

    # Reading every document's metadata costs ~0.1 s per 1,000 documents, so readers poll this
    # one-record token instead and re-read the documents only when it changes.
    _STATE_ID = "corpus"

    def _state_collection(self, create: bool) -> Any:
        if self._state is None:
            name = f"{self.name}_state"
            if create:
                self._state = self._call(lambda: self._collection(name))
            else:
                try:
                    self._state = self._call(lambda: self._client.get_collection(name=name, embedding_function=None))
                except StoreUnavailableError:
                    raise
                except StoreError:
                    return None  # never written by a version that keeps the token
        return self._state

    def corpus_version(self) -> str | None:
        """The corpus's version token, or None when no writer has set one."""
        return self._state_value(self._STATE_ID)

    def marker(self, key: str) -> str | None:
        """A small named value kept beside the corpus token (e.g. the record format), or None."""
        return self._state_value(f"marker:{key}")

    def _state_value(self, id_: str) -> str | None:
        state = self._state_collection(create=False)
        if state is None:
            return None
        try:
            res = self._call(lambda: state.get(ids=[id_], include=["documents"]))
        except StoreUnavailableError:
            raise
        except StoreError:
            self._state = None  # dropped by a reset elsewhere: look it up again next time
            return None
        return (res["documents"] or [None])[0] if res["ids"] else None

    def set_marker(self, key: str, value: str) -> None:
        """Store a named value (see :meth:`marker`)."""
        self._writable()
        state = self._state_collection(create=True)
        self._call(lambda: state.upsert(ids=[f"marker:{key}"], embeddings=[[1.0]], documents=[value]))

    def mark_changed(self) -> None:
        """Store a fresh version token."""
        self._writable()
        token = [uuid.uuid4().hex]
        try:
            self._put_token(token)
        except StoreUnavailableError:
            raise
        except StoreError:
            self._state = None  # dropped by a reset elsewhere: recreate it
            self._put_token(token)

    def _put_token(self, token: list[str]) -> None:
        state = self._state_collection(create=True)
        self._call(lambda: state.upsert(ids=[self._STATE_ID], embeddings=[[1.0]], documents=token))

    def documents(self) -> list[DocRecord]:
        """Every document record, without text or vector."""
        res = self._call(lambda: self._docs.get(include=["metadatas"]))
        return [
            DocRecord(id=i, vector=np.zeros(0, dtype=np.float32), text="", metadata=m or {})
            for i, m in zip(res["ids"], res["metadatas"], strict=True)
        ]

    def document(self, doc_id: str) -> DocRecord | None:
        """One document record with its cleaned text."""
        res = self._call(lambda: self._docs.get(ids=[doc_id], include=["documents", "metadatas"]))
        if not res["ids"]:
            return None
        # Stores written before the texts collection hold the text in the record itself.
        return DocRecord(
            id=doc_id,
            vector=np.zeros(0, dtype=np.float32),
            text=res["documents"][0] or self._text(doc_id),
            metadata=res["metadatas"][0] or {},
        )

    def close(self) -> None:
        """Release the client's connections (idempotent)."""
        if self._keep is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._keep.cleanup()
            self._keep = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._client.close()
        # chromadb 1.5's HTTP API object never closes its httpx session (its stop() leaves it
        # open), so the sockets would leak until garbage collection: close it here.
        if self._timeout is not None:
            for owner in (self._client, getattr(self._client, "_admin_client", None)):
                session = getattr(getattr(owner, "_server", None), "_session", None)
                if session is not None:
                    with contextlib.suppress(Exception):
                        session.close()

    def reset(self) -> None:
        """Drop both collections and start empty."""
        self._writable()
        with self._lock:
            for suffix in ("_chunks", "_docs"):
                with contextlib.suppress(StoreError):  # already gone
                    self._call(lambda suffix=suffix: self._client.delete_collection(self.name + suffix))  # type: ignore[misc]
            self._chunks = self._call(lambda: self._collection(f"{self.name}_chunks"))
            self._docs = self._call(lambda: self._collection(f"{self.name}_docs"))
            self._drop_texts()
            self.mark_changed()


def raw_persistent_client(path: Path) -> Any:
    """A bare ``chromadb.PersistentClient`` at ``path`` with telemetry off.

    For code that drives Chroma through another library (the eval suite's llama-index baseline
    hands a collection to ``ChromaVectorStore``) without importing ``chromadb`` itself.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
