"""Plain records and the narrow store interface the pipeline depends on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "DocRecord",
    "EmbeddingMismatchError",
    "Hit",
    "Record",
    "Scalar",
    "StoreError",
    "StoreUnavailableError",
    "VectorStore",
]

import numpy as np

Scalar = str | int | float | bool


class StoreError(Exception):
    """The vector store cannot be used."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or opened."""


class EmbeddingMismatchError(StoreError):
    """The store holds vectors of another embedding model."""


class StoreCorruptError(StoreUnavailableError):
    """The store's database file is empty, truncated or not a database."""


@dataclass(frozen=True)
class Record:
    """One chunk: id, vector, text, the id of its document, and flat metadata the store keeps opaque."""

    id: str
    vector: np.ndarray
    text: str
    doc_id: str
    metadata: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class DocRecord:
    """One document: its cleaned text and metadata (vector: mean of its chunks)."""

    id: str
    vector: np.ndarray
    text: str
    metadata: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A stored chunk returned by a lookup, with the id of its document."""

    id: str
    text: str
    doc_id: str
    metadata: Mapping[str, Scalar]


class VectorStore(Protocol):
    """What the pipeline needs from a vector store."""

    location: str

    def check_model(self, model_id: str, dim: int) -> None:
        """Raise EmbeddingMismatchError if the store holds vectors of another model."""
        ...

    def add(self, records: Sequence[Record]) -> None:
        """Add or replace chunk records."""
        ...

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Return the ids and cosine similarities of the k nearest chunks, best first (no payloads)."""
        ...

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """Return chunks by id, in the order asked (missing ids are skipped)."""
        ...

    def iter_chunks(self, batch: int = 1000) -> Iterator[Hit]:
        """Yield every stored chunk (for building the lexical index)."""
        ...

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return stored chunk vectors by id (missing ids are left out; a resumed ingest reuses them)."""
        ...

    def count(self) -> int:
        """Number of stored chunks."""
        ...

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Scalar]]) -> None:
        """Add or change metadata keys of existing chunks, keeping their other keys, vectors and text."""
        ...

    def chunks_outside(self, doc_ids: Sequence[str]) -> list[Hit]:
        """Every chunk whose ``doc_id`` is not one of ``doc_ids``."""
        ...

    def marker(self, key: str) -> str | None:
        """A small named value stored with the corpus (None if never set)."""
        ...

    def set_marker(self, key: str, value: str) -> None:
        """Store a small named value with the corpus."""
        ...

    def delete_doc_chunks(self, doc_ids: Sequence[str]) -> int:
        """Delete every chunk whose ``doc_id`` is one of ``doc_ids``; return how many."""
        ...

    def put_documents(self, docs: Sequence[DocRecord]) -> None:
        """Write (or replace) document records: the commit marks of their ingest."""
        ...

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete document records."""
        ...

    def documents(self) -> list[DocRecord]:
        """Every document record (vectors omitted)."""
        ...

    def document(self, doc_id: str) -> DocRecord | None:
        """One document record with its text, or None."""
        ...

    def document_ids(self) -> list[str]:
        """The ids of every document record (cheap: no metadata)."""
        ...

    def corpus_version(self) -> str | None:
        """A token that changes whenever documents are committed or deleted; None if never written."""
        ...

    def mark_changed(self) -> None:
        """Give the corpus a new version token (readers then refresh their view of it)."""
        ...

    def reset(self) -> None:
        """Delete everything (``rag ingest --rebuild``)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
