"""The benchmark's targets, growth figures and table on hand-made results (no run: see
tests/integration/test_bench.py for `rag bench --quick` end to end)."""

from __future__ import annotations

import math
from typing import Any

from eval.bench import evaluate_targets, format_table, growth


def _scale_row(size: int, cached_ms: float, uncached_ms: float, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "size": size,
        "chunks": size,
        "documents": size // 10,
        "ingest_s": size / 30,
        "ingest_chunks_per_s": 30.0,
        "embedded_chunks": size,
        "skipped_documents": 0,
        "ours": {"median_ms": cached_ms, "p95_ms": cached_ms * 1.2},
        "ours_uncached": {"median_ms": uncached_ms, "p95_ms": uncached_ms * 1.2},
        "floor": {"median_ms": 7.0, "p95_ms": 8.0},
        "ours_phases_median_ms": {"embed": 6.0, "retrieve": 1.0, "answer": 0.5},
        "lexical_build_s": size / 3000,
        "peak_rss_mb": 1000.0,
        "peak_rss_ingest_mb": 1000.0,
        "peak_rss_lexical_mb": 900.0,
        "peak_rss_ask_mb": 950.0,
        "store_mb": size / 50,
        "cold_ask_s": 1.5,
    }
    row.update(extra)
    return row


def test_scale_targets_are_judged_without_the_chunk_cache() -> None:
    rows = [
        _scale_row(1000, 8.0, 9.0),
        _scale_row(10000, 8.5, 10.0),
        # Resumed after a kill: 4,000 documents were already stored, 40,000 chunks embedded now.
        _scale_row(100000, 9.0, 30.0, skipped_documents=4000, embedded_chunks=40000, ingest_s=1200.0),
    ]
    result: dict[str, Any] = {"scale": rows, "growth": growth(rows)}
    result["targets"] = evaluate_targets(result)
    verdict = {t["id"]: t["pass"] for t in result["targets"]}
    assert verdict["scale_10000_median_ms"] is True
    assert verdict["scale_100000_median_ms"] is False  # 30 ms uncached, though 9 ms with the cache
    table = format_table(result)
    assert "resumed: 4,000 documents already in the store, 40,000 chunks embedded now" in table
    assert "1,000 → 10,000 chunks" in table and "10,000 → 100,000 chunks" in table and "1,000 → 100,000" in table
    # Time per embedded chunk, not per stored chunk, for the resumed run: 1200 s / 40,000 vs 333 s / 10,000.
    per_chunk = growth(rows[1:])["ingest_s_per_chunk"]
    assert math.isclose(per_chunk["factor"], (1200 / 40000) / (10000 / 30 / 10000))
