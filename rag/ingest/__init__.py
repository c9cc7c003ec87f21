"""Ingest: discover files, load, clean, describe, chunk, then embed and write them to the store."""

from rag.ingest.writer import (
    IngestReport,
    check_seedable,
    discover,
    ingest_paths,
    ingest_signature,
    prepare_document,
    seeding,
)

__all__ = [
    "IngestReport",
    "check_seedable",
    "discover",
    "ingest_paths",
    "ingest_signature",
    "prepare_document",
    "seeding",
]
