"""Question answering over your documents, every sentence proved by a citation.

>>> import rag
>>> a = rag.ask("Why does ISKP oppose the Taliban?")
>>> print(a.text)           # sentences ending in [n]
>>> a.citations[0].quote    # verbatim text of the cited source
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import (
    ConfigError,
    EmbeddingMismatchError,
    EmptyQuestionError,
    IngestError,
    InputError,
    LLMError,
    ModelFileError,
    RagError,
    StoreError,
    StoreUnavailableError,
)
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Document, Quote, ScoredChunk, Source, StreamEvent
from rag.verify.cite import CANNOT_ANSWER

if TYPE_CHECKING:
    from rag.ingest import IngestReport
    from rag.pipeline import Pipeline

__all__ = [
    "CANNOT_ANSWER",
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Document",
    "EmbeddingMismatchError",
    "EmptyQuestionError",
    "IngestError",
    "InputError",
    "LLMError",
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

_default: Pipeline | None = None
_default_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    # Pipeline pulls in onnxruntime and chromadb: import it only when asked for.
    if name == "Pipeline":
        from rag.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'rag' has no attribute {name!r}")


def default_pipeline() -> Pipeline:
    """The shared pipeline built from the environment's settings; ingests the seeds if the store is empty."""
    global _default
    with _default_lock:
        if _default is None:
            from rag.pipeline import Pipeline

            pipe = Pipeline.from_settings(Settings())
            pipe.ensure_corpus()
            _default = pipe
        return _default


def ask(
    question: str, *, top_k: int | None = None, history: Sequence[Any] | None = None, mode: str | None = None
) -> Answer:
    """Answer a question from the documents with numbered citations (or abstain)."""
    return default_pipeline().ask(question, top_k=top_k, history=history, mode=mode)


def ask_stream(
    question: str, *, top_k: int | None = None, history: Sequence[Any] | None = None, mode: str | None = None
) -> Iterator[StreamEvent]:
    """Stream an answer: ``delta`` (verified sentences), ``token`` (raw LLM text), then ``answer``."""
    return default_pipeline().ask_stream(question, top_k=top_k, history=history, mode=mode)


def ingest(paths: Sequence[str | Path] | None = None, *, prune: bool = False, rebuild: bool = False) -> IngestReport:
    """Ingest files or folders into the default pipeline's store (default: the seed documents)."""
    return default_pipeline().ingest(paths, prune=prune, rebuild=rebuild)
