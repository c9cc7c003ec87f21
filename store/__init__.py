"""The vector-store layer: the only package that imports ``chromadb``.

It stores chunk vectors with their text and metadata, and one record per document
(written last, so a document without its record is an unfinished ingest).
"""

from store.chroma import ChromaStore
from store.lock import StoreBusyError, write_lock
from store.opening import open_store
from store.types import (
    DocRecord,
    EmbeddingMismatchError,
    Hit,
    Record,
    Scalar,
    StoreCorruptError,
    StoreError,
    StoreUnavailableError,
    VectorStore,
)

__all__ = [
    "ChromaStore",
    "DocRecord",
    "EmbeddingMismatchError",
    "Hit",
    "Record",
    "Scalar",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreError",
    "StoreUnavailableError",
    "VectorStore",
    "open_store",
    "write_lock",
]
