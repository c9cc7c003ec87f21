"""What went wrong with a Chroma store, as one readable error: damaged files, a lost server, a lost folder."""

from __future__ import annotations

from pathlib import Path

from store.types import StoreCorruptError, StoreError, StoreUnavailableError

__all__ = ["SQLITE_NAME", "chroma_error", "corruption_hint", "inspect_folder"]

#: The embedded store's database file.
SQLITE_NAME = "chroma.sqlite3"

_CORRUPT_MARKERS = ("database disk image is malformed", "file is not a database", "malformed database schema")


def corruption_hint(location: str, exc: BaseException) -> StoreCorruptError | None:
    """A one-line corruption error for SQLite's corruption messages, else None."""
    text = str(exc)
    if not any(m in text for m in _CORRUPT_MARKERS):
        return None
    return StoreCorruptError(
        f"the store at {location} is corrupt ({text.strip().splitlines()[0][:120]}): restore the folder from a "
        "backup, or move it aside and run `rag ingest` to build a new store"
    )


def inspect_folder(path: Path) -> tuple[bool, str | None]:
    """Whether the store at ``path`` is new (no folder, or an empty one), and any damage seen."""
    if not path.exists():
        return True, None
    if not path.is_dir():
        raise StoreUnavailableError(f"the store path {path} is a file, not a folder; point RAG_STORE_PATH at a folder")
    db = path / SQLITE_NAME
    if not db.exists():
        if any(path.iterdir()):
            raise StoreCorruptError(
                f"the store folder {path} has files but no {SQLITE_NAME}: its database was deleted, or this is "
                "not a store; restore it from a backup, or point RAG_STORE_PATH at a new folder"
            )
        return True, None
    try:
        with db.open("rb") as f:
            head = f.read(16)
    except OSError:
        return False, None  # opening says why (permissions)
    if not head:
        return False, f"its database file {SQLITE_NAME} is empty (0 bytes): truncated?"
    if head != b"SQLite format 3\x00":
        raise StoreCorruptError(
            f"the store at {path} is corrupt ({SQLITE_NAME} is not a database): restore the folder from a "
            "backup, or move it aside and run `rag ingest` to build a new store"
        )
    return False, None


def chroma_error(location: str, exc: Exception) -> StoreError:
    """The store error for an exception Chroma raised at ``location``: what happened and how to fix it."""
    if _is_transport_error(exc):
        return StoreUnavailableError(
            f"lost the Chroma server at {location}: {type(exc).__name__}: {exc}; "
            "check that it is running (chroma run ...)"
        )
    corrupt = corruption_hint(location, exc)
    if corrupt is not None:
        return corrupt
    if "readonly database" in str(exc) or "no such table" in str(exc):
        return StoreUnavailableError(
            f"the store at {location} cannot be written ({exc}); "
            "was its folder deleted while in use? restart the program"
        )
    return StoreError(f"Chroma error at {location}: {type(exc).__name__}: {exc}")


def _is_transport_error(exc: BaseException) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names
        & {"ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError", "ConnectionError", "NetworkError"}
    ) or isinstance(exc, ConnectionError | OSError)
