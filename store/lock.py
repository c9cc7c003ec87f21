"""One writer at a time: a cross-process lock file beside the store, naming who holds it."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from store.types import StoreError

__all__ = ["LOCK_NAME", "StoreBusyError", "write_lock"]

LOCK_NAME = "write.lock"


class StoreBusyError(StoreError):
    """Another process is writing to the store and the caller chose not to wait."""


def _holder(info: Path) -> str:
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
        return f"pid {data['pid']}, started {data['started']} ({data['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def write_lock(
    folder: Path | None,
    location: str,
    *,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
    poll: float = 0.5,
) -> Iterator[None]:
    """Hold the store's write lock; wait for (or, with ``wait=False``, refuse) another holder."""
    if folder is None:  # a store with no local folder of its own to lock
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        yield  # a folder we cannot create is one we cannot write to: the write itself says why
        return
    path = folder / LOCK_NAME
    info = folder / (LOCK_NAME + ".json")
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(info)
        if not wait:
            raise StoreBusyError(
                f"another ingest is writing to the store at {location} ({holder}); "
                "wait for it to finish, or rerun without --no-wait to queue behind it"
            ) from None
        if notify is not None:
            notify(f"waiting for another ingest into {location} to finish ({holder}) …")
        lock.acquire(poll_interval=poll)
    except OSError:
        yield  # a read-only folder cannot hold a lock file; writing would fail anyway, with its own message
        return
    try:
        with contextlib.suppress(OSError):
            info.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200],
                    }
                ),
                encoding="utf-8",
            )
        yield
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        lock.release()
