"""Opening a Chroma store: a folder (checked for damage first; read-only ones through a copy) or a server."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from store.chroma import ChromaStore, raw_persistent_client
from store.faults import SQLITE_NAME, corruption_hint, inspect_folder
from store.types import StoreError, StoreUnavailableError

__all__ = ["open_store"]


def _heartbeat(host: str, port: int, ssl: bool, headers: Mapping[str, str], timeout: float) -> None:
    conn_cls = http.client.HTTPSConnection if ssl else http.client.HTTPConnection
    conn = conn_cls(host, port, timeout=timeout)
    try:
        conn.request("GET", "/api/v2/heartbeat", headers=dict(headers))
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {host}:{port} ({type(exc).__name__}: {exc}); "
            f"start it with `chroma run --path DIR --host {host} --port {port}` or unset RAG_CHROMA_HOST "
            "to use the local store"
        ) from exc
    finally:
        conn.close()
    if resp.status in (401, 403):
        raise StoreUnavailableError(
            f"the Chroma server at {host}:{port} refused our credentials (HTTP {resp.status}); "
            "check RAG_CHROMA_AUTH_TOKEN / RAG_CHROMA_AUTH_HEADER"
        )
    if resp.status != 200:
        raise StoreUnavailableError(
            f"the Chroma server at {host}:{port} answered HTTP {resp.status} to its heartbeat: {body[:200]!r}"
        )
    try:
        json.loads(body)
    except ValueError as exc:
        raise StoreUnavailableError(f"{host}:{port} answered, but not as a Chroma server") from exc


def open_store(
    *,
    path: Path | None = None,
    host: str | None = None,
    port: int = 8000,
    ssl: bool = False,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    collection: str = "rag",
) -> ChromaStore:
    """Open the embedded store at ``path``, or the Chroma server at ``host:port`` when host is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if host:
        _heartbeat(host, port, ssl, headers or {}, timeout=min(timeout, 5.0))
        try:
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=dict(headers or {}),
                # HttpClient writes host and port into the settings object: a fresh one each time.
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:
            raise StoreUnavailableError(f"cannot connect to the Chroma server at {host}:{port}: {exc}") from exc
        return ChromaStore(
            client, collection, location=f"{'https' if ssl else 'http'}://{host}:{port}", timeout=timeout
        )
    if path is None:
        raise StoreError("no store path given")
    try:
        created, damage = inspect_folder(path)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot open the store folder {path}: {exc.strerror or exc}; "
            "check its permissions or point RAG_STORE_PATH elsewhere"
        ) from exc
    if not created and _read_only(path):
        return _open_read_only(path, collection, damage)
    try:
        client = raw_persistent_client(path)
    except Exception as exc:
        raise corruption_hint(str(path), exc) or StoreUnavailableError(
            f"cannot open the store folder {path}: {type(exc).__name__}: {exc}; "
            "check its permissions or point RAG_STORE_PATH elsewhere"
        ) from exc
    return ChromaStore(client, collection, location=str(path), created=created, damage=damage, folder=path)


def _read_only(path: Path) -> bool:
    db = path / SQLITE_NAME
    return not os.access(path, os.W_OK) or (db.exists() and not os.access(db, os.W_OK))


def _open_read_only(path: Path, collection: str, damage: str | None) -> ChromaStore:
    """Open a store we may not write through a private temporary copy (SQLite must write to read)."""
    tmp = tempfile.TemporaryDirectory(prefix="rag-readonly-")
    copy = Path(tmp.name) / "store"
    try:
        # The lexical cache is read from the original folder: it need not be copied.
        shutil.copytree(
            path, copy, ignore=shutil.ignore_patterns("lexical", "write.lock*"), copy_function=shutil.copyfile
        )
        for p in [copy, *copy.rglob("*")]:  # copytree keeps the folders' read-only modes
            p.chmod(0o700 if p.is_dir() else 0o600)
        client = raw_persistent_client(copy)
    except Exception as exc:
        tmp.cleanup()
        raise corruption_hint(str(path), exc) or StoreUnavailableError(
            f"the store at {path} is read-only and could not be copied to open it ({type(exc).__name__}: {exc}); "
            "copy it somewhere writable and point RAG_STORE_PATH there"
        ) from exc
    return ChromaStore(client, collection, location=str(path), created=False, damage=damage, folder=None, copy=tmp)
