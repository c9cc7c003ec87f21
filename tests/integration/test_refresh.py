"""How a long-running pipeline notices corpus changes made by other processes, cheaply."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from rag.settings import Settings
from store.chroma import raw_persistent_client


def _settings(tmp_path: Path) -> Settings:
    return Settings(store={"path": tmp_path / "store", "refresh_seconds": 0})


def _count_calls(pipe: Pipeline, name: str) -> list[int]:
    calls: list[int] = []
    real: Callable[..., Any] = getattr(pipe.store, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    setattr(pipe.store, name, wrapper)
    return calls


def _one_seed(seed_copy: Path, folder: Path, name: str) -> Path:
    folder.mkdir(exist_ok=True)
    shutil.copy2(seed_copy / name, folder / name)
    return folder


def test_unchanged_corpus_is_not_reread_and_a_commit_is_seen(tmp_path: Path, seed_copy: Path) -> None:
    writer = Pipeline.from_settings(_settings(tmp_path))
    first = _one_seed(seed_copy, tmp_path / "a", "000_68d4cd3cd5c6032c.txt")
    writer.ingest([first])
    reader = Pipeline.from_settings(_settings(tmp_path))
    reads = _count_calls(reader, "documents")
    assert len(reader.sources()) == 1 and len(reads) == 1
    for _ in range(3):  # refresh_seconds=0: every call polls the version token, none re-reads
        reader.ask("Who leads the Taliban?")
    assert len(reads) == 1
    writer.ingest([_one_seed(seed_copy, tmp_path / "b", "001_8ce81ff0f6d118bf.txt")])
    assert len(reader.sources()) == 2 and len(reads) == 2


def test_a_store_without_a_version_token_falls_back_to_comparing_ids(tmp_path: Path, seed_copy: Path) -> None:
    writer = Pipeline.from_settings(_settings(tmp_path))
    writer.ingest([_one_seed(seed_copy, tmp_path / "a", "000_68d4cd3cd5c6032c.txt")])
    # As a store written by an earlier version: no token collection.
    raw_persistent_client(tmp_path / "store").delete_collection(f"{writer.settings.store.collection}_state")
    reader = Pipeline.from_settings(_settings(tmp_path))
    assert reader.store.corpus_version() is None
    reads = _count_calls(reader, "documents")
    assert len(reader.sources()) == 1
    assert len(reader.sources()) == 1 and len(reads) == 1  # same ids: not re-read
    from rag.ingest import ingest_paths

    # An older writer adds a document without setting a token.
    other = Pipeline.from_settings(_settings(tmp_path))
    other.store.mark_changed = lambda: None  # type: ignore[method-assign]
    ingest_paths(
        [_one_seed(seed_copy, tmp_path / "b", "001_8ce81ff0f6d118bf.txt")], other.store, other.embedder, other.settings
    )
    assert other.store.corpus_version() is None
    assert len(reader.sources()) == 2 and len(reads) == 2


def test_rerunning_an_ingest_announces_what_a_crashed_run_committed_silently(
    tmp_path: Path, seed_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Pipeline.from_settings(_settings(tmp_path))
    writer.ingest([_one_seed(seed_copy, tmp_path / "a", "000_68d4cd3cd5c6032c.txt")])
    reader = Pipeline.from_settings(_settings(tmp_path))
    assert len(reader.sources()) == 1
    # A run killed between committing a document and setting the token.
    crashed = Pipeline.from_settings(_settings(tmp_path))
    monkeypatch.setattr(crashed.store, "mark_changed", lambda: None)
    folder = _one_seed(seed_copy, tmp_path / "a", "001_8ce81ff0f6d118bf.txt")
    crashed.ingest([folder])
    # The token did not move, but the chunk count did (the check that notices llama-index's inserts).
    assert len(reader.sources()) == 2
    report = Pipeline.from_settings(_settings(tmp_path)).ingest([folder])  # the rerun
    assert not report.added and len(report.skipped) == 2
    assert len(reader.sources()) == 2
