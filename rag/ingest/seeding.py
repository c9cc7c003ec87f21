"""Seeding: the marker that tells an interrupted first seed ingest from a store emptied by a loss."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rag.errors import StoreError
from store import VectorStore

__all__ = ["SEED_MARKER", "check_seedable", "seeding"]


#: Store marker set while the seed documents are auto-ingested into a store this program created.
SEED_MARKER = "auto_seed"


def check_seedable(store: VectorStore) -> bool:
    """Refuse to seed an empty store that existed before this run: its emptiness may be a loss to report.

    Returns True when the store is one whose first seed ingest was interrupted (our marker says
    so): seeding resumes there, reusing the slices already written.
    """
    if getattr(store, "created", True):  # a store this run made (or one that cannot tell)
        return False
    if store.marker(SEED_MARKER) == "started":
        return True
    damage = getattr(store, "damage", None)
    raise StoreError(
        f"the store at {store.location} exists but holds no documents"
        + (f" ({damage})" if damage else "")
        + "; if it held your documents, restore it from a backup; otherwise ingest into it: "
        "`rag ingest PATH`, or `rag ingest --rebuild` to start afresh with the seed documents"
    )


@contextlib.contextmanager
def seeding(store: VectorStore) -> Iterator[None]:
    """Mark ``store`` as being auto-seeded until the seed ingest returns (a kill leaves the mark)."""
    store.set_marker(SEED_MARKER, "started")
    yield
    store.set_marker(SEED_MARKER, "done")
