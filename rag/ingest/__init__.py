"""Ingest: discover files, load, clean, describe, chunk, then embed and write them to the store."""

from rag.ingest.discover import discover
from rag.ingest.prepare import prepare_document
from rag.ingest.seeding import check_seedable, seeding
from rag.ingest.writer import IngestReport, ingest_paths, ingest_signature

__all__ = [
    "IngestReport",
    "check_seedable",
    "discover",
    "ingest_paths",
    "ingest_signature",
    "prepare_document",
    "seeding",
]
