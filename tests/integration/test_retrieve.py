"""The retriever's chunk cache: LRU behaviour, identical results, and invalidation when the corpus changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag.pipeline import Pipeline
from rag.retrieve.hybrid import ChunkCache
from rag.settings import Settings
from rag.types import Chunk, Source

QUESTIONS = [
    json.loads(line)["question"]
    for line in (Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl").read_text().splitlines()[:12]
]


def _chunk(cid: str) -> Chunk:
    return Chunk(chunk_id=cid, doc_id="d", source="s", text=cid, start=0, end=len(cid), index=0, meta=Source())


def test_chunk_cache_evicts_the_least_recently_used() -> None:
    cache = ChunkCache(2)
    cache.put(_chunk("a"))
    cache.put(_chunk("b"))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put(_chunk("c"))
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    cache.clear()
    assert len(cache) == 0


def test_chunk_cache_of_size_zero_keeps_nothing() -> None:
    cache = ChunkCache(0)
    cache.put(_chunk("a"))
    assert cache.get("a") is None


def _counting_get(pipe: Pipeline) -> list[int]:
    calls: list[int] = []
    real: Callable[..., Any] = pipe.store.get

    def get(ids: Any) -> Any:
        calls.append(len(ids))
        return real(ids)

    pipe.store.get = get  # type: ignore[method-assign]
    return calls


def test_cached_and_uncached_retrieval_agree(seeded_store: Path) -> None:
    cached = Pipeline.from_settings(Settings(store={"path": seeded_store}))
    uncached = Pipeline.from_settings(Settings(store={"path": seeded_store}, retrieve={"chunk_cache": 0}))
    for q in QUESTIONS + QUESTIONS:  # the second round is answered from the cache
        a, b = cached.ask(q), uncached.ask(q)
        assert [(r.chunk_id, round(r.score, 6)) for r in a.retrieved] == [
            (r.chunk_id, round(r.score, 6)) for r in b.retrieved
        ]
        assert a.text == b.text
        assert [c.quotes for c in a.citations] == [c.quotes for c in b.citations]


def test_a_repeated_question_reads_no_chunk_payloads(seeded_store: Path) -> None:
    pipe = Pipeline.from_settings(Settings(store={"path": seeded_store}))
    calls = _counting_get(pipe)
    pipe.ask(QUESTIONS[0])
    assert sum(calls) == pipe.settings.retrieve.top_k
    calls.clear()
    pipe.ask(QUESTIONS[0])
    assert sum(calls) == 0


def test_cache_is_dropped_when_another_process_changes_the_corpus(tmp_path: Path, seed_copy: Path) -> None:
    # A metadata-only edit keeps every chunk id (ids hash the text), so only clearing the cache
    # lets a long-running reader see the new title.
    settings = Settings(store={"path": tmp_path / "store", "refresh_seconds": 0})
    reader = Pipeline.from_settings(settings)
    writer = Pipeline.from_settings(settings)
    writer.ingest([seed_copy])
    question = "Why does ISKP oppose the Taliban?"
    before = reader.ask(question)
    assert len(reader.retriever.cache) > 0
    cited = before.citations[0]
    sidecar = seed_copy / "metadata.json"
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    meta[cited.source]["title"] = "A retitled article"
    sidecar.write_text(json.dumps(meta), encoding="utf-8")
    report = writer.ingest([seed_copy])
    assert [Path(p).name for p in report.updated] == [cited.source]
    after = reader.ask(question)
    assert [c.chunk_id for c in after.retrieved] == [c.chunk_id for c in before.retrieved]
    assert {c.title for c in after.citations if c.source == cited.source} == {"A retitled article"}


@pytest.mark.parametrize("size", [1, 3])
def test_a_small_cache_still_answers_correctly(seeded_store: Path, size: int) -> None:
    small = Pipeline.from_settings(Settings(store={"path": seeded_store}, retrieve={"chunk_cache": size}))
    full = Pipeline.from_settings(Settings(store={"path": seeded_store}))
    for q in QUESTIONS:
        assert small.ask(q).text == full.ask(q).text
        assert len(small.retriever.cache) <= size
