"""The exception tree: every error a user can meet, each message saying how to fix it.

RagError
├── ConfigError              bad or missing settings
├── ModelFileError           the packaged model or tokenizer is missing or corrupt
├── InputError               a question or file the pipeline cannot take
│   ├── EmptyQuestionError
│   └── IngestError          a file that cannot be read or ingested
├── StoreError               the vector store cannot be used
│   ├── StoreUnavailableError    (a Chroma server that is down, a store folder that cannot be opened)
│   │   └── StoreCorruptError    (the store's database is empty, truncated or not a database)
│   ├── StoreBusyError           (another ingest holds the store's write lock; ``wait=False``)
│   └── EmbeddingMismatchError   (vectors of another embedding model are in the store)
├── DocumentNotFoundError     (also a LookupError) no stored document by that id, file name or path
└── LLMError                 the LLM endpoint failed (``ask`` falls back to extractive answers)
    ├── LLMAuthError         the endpoint refused the API key or access to the model
    ├── LLMTimeoutError      no answer within ``RAG_LLM_TIMEOUT``
    ├── LLMRateLimitError    still 429 (rate limit / quota) after the retries
    └── LLMUnreachableError  the endpoint cannot be reached (refused connection, DNS, TLS)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import store

__all__ = [
    "ConfigError",
    "DocumentNotFoundError",
    "EmbeddingMismatchError",
    "EmptyQuestionError",
    "IngestError",
    "InputError",
    "LLMAuthError",
    "LLMError",
    "LLMRateLimitError",
    "LLMTimeoutError",
    "LLMUnreachableError",
    "ModelFileError",
    "RagError",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreError",
    "StoreUnavailableError",
    "translate_store_errors",
]


class RagError(Exception):
    """Base of every error this package raises."""


class ConfigError(RagError):
    """Settings are invalid or incomplete."""


class ModelFileError(RagError):
    """The packaged embedding model or tokenizer is missing or corrupt."""


class InputError(RagError, ValueError):
    """A question or file the pipeline cannot take."""


class EmptyQuestionError(InputError):
    """The question is empty or whitespace only."""


class IngestError(InputError):
    """A file cannot be read or ingested."""


class StoreError(RagError):
    """The vector store cannot be used."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or opened."""


class StoreCorruptError(StoreUnavailableError):
    """The store's database file is empty, truncated or not a database."""


class StoreBusyError(StoreError):
    """Another process holds the store's write lock."""


class EmbeddingMismatchError(StoreError):
    """The store holds vectors of another embedding model."""


class DocumentNotFoundError(RagError, LookupError):
    """No stored document matches the id, file name or path asked for."""


class LLMError(RagError):
    """The LLM endpoint failed or is misconfigured."""


class LLMAuthError(LLMError):
    """The LLM endpoint refused the API key, or access to the model."""


class LLMTimeoutError(LLMError):
    """The LLM endpoint did not answer within the timeout."""


class LLMRateLimitError(LLMError):
    """The LLM endpoint kept answering 429 (rate limit or quota) after the retries."""


class LLMUnreachableError(LLMError):
    """The LLM endpoint cannot be reached."""


_STORE_MAP: dict[type[Exception], type[StoreError]] = {
    store.StoreCorruptError: StoreCorruptError,
    store.StoreBusyError: StoreBusyError,
    store.StoreUnavailableError: StoreUnavailableError,
    store.EmbeddingMismatchError: EmbeddingMismatchError,
    store.StoreError: StoreError,
}


@contextlib.contextmanager
def translate_store_errors() -> Iterator[None]:
    """Re-raise the store layer's errors as this package's (store must not import rag)."""
    try:
        yield
    except store.StoreError as exc:
        for src, dst in _STORE_MAP.items():
            if isinstance(exc, src):
                raise dst(str(exc)) from exc
        raise StoreError(str(exc)) from exc  # pragma: no cover - the map covers the base class
