"""Preparation: one file read, cleaned, described and its instruction-like sentences flagged, as a Document."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rag.errors import IngestError
from rag.ingest.clean import clean_text
from rag.ingest.instructions import detect_instructions
from rag.ingest.loaders import load_file
from rag.ingest.metadata import extract_metadata, merge
from rag.settings import Settings
from rag.types import Document

__all__ = ["document_key", "prepare_document"]


def document_key(path: Path) -> str:
    """The identity of a file across runs: its resolved absolute path (the same from any directory)."""
    return path.resolve().as_posix()


def prepare_document(path: Path, settings: Settings, sidecar: dict[str, Any] | None = None) -> Document:
    """Read, clean and describe one file (no embedding)."""
    loaded = load_file(path, max_bytes=int(settings.ingest.max_file_mb * 1_000_000))
    cleaned = clean_text(loaded.text)
    if not cleaned.text.strip():
        raise IngestError(f"{path}: nothing left after removing boilerplate")
    curated = (sidecar or {}).get(path.name)
    meta = merge(*(m for m in (curated, loaded.meta, extract_metadata(cleaned.text)) if m is not None))
    key = document_key(path)
    flagged = detect_instructions(cleaned.text)
    notes = loaded.notes
    if flagged:
        notes += (
            f"{len(flagged)} sentence(s) read as instructions to an assistant; kept but never used as evidence "
            f"(see `rag sources --show {path.name}`)",
        )
    return Document(
        doc_id=hashlib.sha1(key.encode()).hexdigest()[:16],
        source=path.name,
        path=key,
        text=cleaned.text,
        content_hash=hashlib.sha256(cleaned.text.encode()).hexdigest(),
        meta=meta,
        removed=cleaned.removed,
        notes=notes,
        flagged=flagged,
    )
