"""Chroma behind the :class:`~store.types.VectorStore` interface: embedded or a ``chroma run`` server."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from store.types import (
    DocRecord,
    EmbeddingMismatchError,
    Hit,
    Record,
    Scalar,
    StoreCorruptError,
    StoreError,
    StoreUnavailableError,
)

T = TypeVar("T")

#: Chroma refuses batches larger than 5,461 records.
MAX_BATCH = 5000

#: The chunk metadata key holding a chunk's document id (the store's own field, filtered on).
DOC_ID_KEY = "doc_id"

#: The embedded store's database file.
SQLITE_NAME = "chroma.sqlite3"

_CORRUPT_MARKERS = ("database disk image is malformed", "file is not a database", "malformed database schema")


def corruption_hint(location: str, exc: BaseException) -> StoreCorruptError | None:
    """A one-line corruption error for SQLite's corruption messages, else None."""
    text = str(exc)
    if not any(m in text for m in _CORRUPT_MARKERS):
        return None
    return StoreCorruptError(
        f"the store at {location} is corrupt ({text.strip().splitlines()[0][:120]}): restore the folder from a "
        "backup, or move it aside and run `rag ingest` to build a new store"
    )


def inspect_folder(path: Path) -> tuple[bool, str | None]:
    """Whether the store at ``path`` is new (no folder, or an empty one), and any damage seen."""
    if not path.exists():
        return True, None
    if not path.is_dir():
        raise StoreUnavailableError(f"the store path {path} is a file, not a folder; point RAG_STORE_PATH at a folder")
    db = path / SQLITE_NAME
    if not db.exists():
        if any(path.iterdir()):
            raise StoreCorruptError(
                f"the store folder {path} has files but no {SQLITE_NAME}: its database was deleted, or this is "
                "not a store; restore it from a backup, or point RAG_STORE_PATH at a new folder"
            )
        return True, None
    try:
        with db.open("rb") as f:
            head = f.read(16)
    except OSError:
        return False, None  # opening says why (permissions)
    if not head:
        return False, f"its database file {SQLITE_NAME} is empty (0 bytes): truncated?"
    if head != b"SQLite format 3\x00":
        raise StoreCorruptError(
            f"the store at {path} is corrupt ({SQLITE_NAME} is not a database): restore the folder from a "
            "backup, or move it aside and run `rag ingest` to build a new store"
        )
    return False, None


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
    ) -> None:
        self._client = client
        self.name = name
        self.location = location
        #: The embedded store's folder (None for a server store or a read-only one).
        self.folder = folder
        #: Opened from a temporary copy because the folder cannot be written: every write is refused.
        self.read_only = False
        self._keep: Any = None
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
            if _is_transport_error(exc):
                raise StoreUnavailableError(
                    f"lost the Chroma server at {self.location}: {type(exc).__name__}: {exc}; "
                    "check that it is running (chroma run ...)"
                ) from exc
            corrupt = corruption_hint(self.location, exc)
            if corrupt is not None:
                raise corrupt from exc
            if "readonly database" in str(exc) or "no such table" in str(exc):
                raise StoreUnavailableError(
                    f"the store at {self.location} cannot be written ({exc}); "
                    "was its folder deleted while in use? restart the program"
                ) from exc
            raise StoreError(f"Chroma error at {self.location}: {type(exc).__name__}: {exc}") from exc

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
        """Write document records (the commit marks of their ingest)."""
        self._writable()
        self._upsert(self._docs, docs)
        self.mark_changed()

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete document records."""
        self._writable()
        if doc_ids:
            self._call(lambda: self._docs.delete(ids=list(doc_ids)))
            self.mark_changed()

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
        state = self._state_collection(create=False)
        if state is None:
            return None
        try:
            res = self._call(lambda: state.get(ids=[self._STATE_ID], include=["documents"]))
        except StoreUnavailableError:
            raise
        except StoreError:
            self._state = None  # dropped by a reset elsewhere: look it up again next time
            return None
        return (res["documents"] or [None])[0] if res["ids"] else None

    def marker(self, key: str) -> str | None:
        """A small named value kept beside the corpus token (e.g. the record format), or None."""
        state = self._state_collection(create=False)
        if state is None:
            return None
        try:
            res = self._call(lambda: state.get(ids=[f"marker:{key}"], include=["documents"]))
        except StoreUnavailableError:
            raise
        except StoreError:
            self._state = None
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
        return DocRecord(
            id=doc_id,
            vector=np.zeros(0, dtype=np.float32),
            text=res["documents"][0] or "",
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
            self.mark_changed()


def _is_transport_error(exc: BaseException) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names
        & {"ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError", "ConnectionError", "NetworkError"}
    ) or isinstance(exc, ConnectionError | OSError)


def _heartbeat(host: str, port: int, ssl: bool, headers: Mapping[str, str], timeout: float) -> None:
    conn_cls = http.client.HTTPSConnection if ssl else http.client.HTTPConnection
    conn = conn_cls(host, port, timeout=timeout)
    try:
        conn.request("GET", "/api/v2/heartbeat", headers=dict(headers))
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {host}:{port} ({type(exc).__name__}: {exc}); "
            f"start it with `chroma run --path DIR --host {host} --port {port}` or unset RAG_CHROMA_HOST "
            "to use the local store"
        ) from exc
    finally:
        conn.close()
    if resp.status in (401, 403):
        raise StoreUnavailableError(
            f"the Chroma server at {host}:{port} refused our credentials (HTTP {resp.status}); "
            "check RAG_CHROMA_AUTH_TOKEN / RAG_CHROMA_AUTH_HEADER"
        )
    if resp.status != 200:
        raise StoreUnavailableError(
            f"the Chroma server at {host}:{port} answered HTTP {resp.status} to its heartbeat: {body[:200]!r}"
        )
    try:
        json.loads(body)
    except ValueError as exc:
        raise StoreUnavailableError(f"{host}:{port} answered, but not as a Chroma server") from exc


def open_store(
    *,
    path: Path | None = None,
    host: str | None = None,
    port: int = 8000,
    ssl: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    collection: str = "rag",
) -> ChromaStore:
    """Open the embedded store at ``path``, or the Chroma server at ``host:port`` when host is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if host:
        _heartbeat(host, port, ssl, headers or {}, timeout=min(timeout, 5.0))
        try:
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=dict(headers or {}),
                # HttpClient writes host and port into the settings object: a fresh one each time.
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:
            raise StoreUnavailableError(f"cannot connect to the Chroma server at {host}:{port}: {exc}") from exc
        return ChromaStore(
            client, collection, location=f"{'https' if ssl else 'http'}://{host}:{port}", timeout=timeout
        )
    if path is None:
        raise StoreError("no store path given")
    try:
        created, damage = inspect_folder(path)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot open the store folder {path}: {exc.strerror or exc}; "
            "check its permissions or point RAG_STORE_PATH elsewhere"
        ) from exc
    if not created and _read_only(path):
        return _open_read_only(path, collection, damage)
    try:
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:
        corrupt = corruption_hint(str(path), exc)
        if corrupt is not None:
            raise corrupt from exc
        raise StoreUnavailableError(
            f"cannot open the store folder {path}: {type(exc).__name__}: {exc}; "
            "check its permissions or point RAG_STORE_PATH elsewhere"
        ) from exc
    return ChromaStore(client, collection, location=str(path), created=created, damage=damage, folder=path)


def _read_only(path: Path) -> bool:
    db = path / SQLITE_NAME
    return not os.access(path, os.W_OK) or (db.exists() and not os.access(db, os.W_OK))


def _open_read_only(path: Path, collection: str, damage: str | None) -> ChromaStore:
    """Open a store we may not write through a private temporary copy (SQLite must write to read)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    tmp = tempfile.TemporaryDirectory(prefix="rag-readonly-")
    copy = Path(tmp.name) / "store"
    try:
        # The lexical cache is read from the original folder: it need not be copied.
        shutil.copytree(
            path, copy, ignore=shutil.ignore_patterns("lexical", "write.lock*"), copy_function=shutil.copyfile
        )
        for p in [copy, *copy.rglob("*")]:  # copytree keeps the folders' read-only modes
            p.chmod(0o700 if p.is_dir() else 0o600)
        client = chromadb.PersistentClient(path=str(copy), settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:
        tmp.cleanup()
        corrupt = corruption_hint(str(path), exc)
        if corrupt is not None:
            raise corrupt from exc
        raise StoreUnavailableError(
            f"the store at {path} is read-only and could not be copied to open it ({type(exc).__name__}: {exc}); "
            "copy it somewhere writable and point RAG_STORE_PATH there"
        ) from exc
    store = ChromaStore(client, collection, location=str(path), created=False, damage=damage, folder=None)
    store.read_only = True
    store._keep = tmp  # removed when the store is closed or collected
    return store


def raw_persistent_client(path: Path) -> Any:
    """A bare ``chromadb.PersistentClient`` at ``path`` with telemetry off.

    For code that drives Chroma through another library (the eval suite's llama-index baseline
    hands a collection to ``ChromaVectorStore``) without importing ``chromadb`` itself.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
