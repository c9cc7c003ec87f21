"""Question answering over your documents, every sentence proved by a citation.

>>> import rag
>>> a = rag.ask("Why does ISKP oppose the Taliban?")
>>> print(a.text)           # sentences ending in [n]
>>> a.citations[0].quote    # verbatim text of the cited source
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag._api import ask, ask_stream, default_pipeline, ingest
from rag.errors import (
    ConfigError,
    DocumentNotFoundError,
    EmbeddingMismatchError,
    EmptyQuestionError,
    IngestError,
    InputError,
    LLMAuthError,
    LLMError,
    LLMRateLimitError,
    LLMTimeoutError,
    LLMUnreachableError,
    ModelFileError,
    RagError,
    StoreError,
    StoreUnavailableError,
)
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Document, Quote, ScoredChunk, Source, StreamEvent
from rag.verify.cite import CANNOT_ANSWER

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = [
    "CANNOT_ANSWER",
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Document",
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
    "Pipeline",
    "Quote",
    "RagError",
    "ScoredChunk",
    "Settings",
    "Source",
    "StoreError",
    "StoreUnavailableError",
    "StreamEvent",
    "ask",
    "ask_stream",
    "default_pipeline",
    "ingest",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Pipeline pulls in onnxruntime and chromadb: import it only when asked for.
    if name == "Pipeline":
        from rag.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public API only: not the submodules importing rag loaded, nor this module's own imports.
    return sorted(__all__)
