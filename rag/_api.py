"""The module-level API behind ``rag.ask`` and friends: one default pipeline, built on first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.settings import Settings
from rag.types import Answer, StreamEvent

if TYPE_CHECKING:
    from rag.ingest import IngestReport
    from rag.pipeline import Pipeline

__all__ = ["ask", "ask_stream", "default_pipeline", "ingest"]

_default: Pipeline | None = None
_default_lock = threading.Lock()


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
