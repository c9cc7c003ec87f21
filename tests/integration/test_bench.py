"""Smoke test of the benchmark (`rag bench --quick`): it runs and reports every figure.

No timing thresholds here: how fast things are is what the benchmark reports, not what a test
asserts (timings on a shared machine are noise). This only checks the command works end to end.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS

from eval.bench import main

#: (path into the JSON, …) of every figure the quick run must report as a finite positive number.
FIGURES = [
    *(("latency", system, stat)
      for system in ("ours", "ours_uncached", "baseline", "floor", "floor_raw", "embed")
      for stat in ("median_ms", "p95_ms")),
    *(("latency", "ratios", r)
      for r in ("ours_over_baseline", "ours_uncached_over_baseline", "ours_over_floor", "p95_over_median")),
    *(("ingest", k) for k in (
        "chunks",
        "with_model_load_s",
        "model_loaded_s",
        "chunks_per_s",
        "raw_embed_chunks_per_s",
        "raw_embed_with_spans_chunks_per_s",
        "ratio_vs_raw_embed",
    )),
    ("ingest", "phases_s", "total"),
    ("ingest", "phases_s", "top", "embed (model + sentence vectors)"),
    ("baseline", "index_s"),
    ("baseline", "nodes"),
    ("cold_start", "median_s"),
    ("cold_start", "help_median_s"),
    ("cold_start", "imports", "total_ms"),
    ("cold_start", "phases_s", "first ask"),
]  # fmt: skip


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def test_bench_quick_reports_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("001_8ce81ff0f6d118bf.txt", "004_6bf493fb16065861.txt", "metadata.json"):
        shutil.copy2(SEEDS / name, seeds / name)
    out = tmp_path / "bench.json"
    argv = ["--quick", "--repeats", "3", "--cold-runs", "1", "--seeds", str(seeds), "--json", str(out), "-q"]
    code = main([*argv, "--workdir", str(tmp_path / "work"), "--check"])

    data = json.loads(out.read_text(encoding="utf-8"))
    missed = [t["id"] for t in data["targets"] if not t["pass"]]
    # --check: a verdict, and exit 1 exactly when a target is missed.
    assert code == (1 if missed else 0)
    assert ("check: FAILED" if missed else "check: passed") in capsys.readouterr().out
    for path in FIGURES:
        value = _get(data, path)
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (path, value)
    assert data["ingest"]["documents"] == 2
    assert data["latency"]["questions"] > 50  # the eval question set, follow-ups left out
    assert data["cold_start"]["answered"] is True
    # The ask path must not import the UI.
    assert data["cold_start"]["imports"]["gradio_imported"] is False
    assert data["scale"] == []  # --quick: seed corpus only
    ids = {t["id"] for t in data["targets"]}
    assert {"ours_over_baseline", "ours_over_floor", "p95_over_median", "ingest_over_raw_embed", "cold_start_s"} <= ids
    assert all(isinstance(t["pass"], bool) for t in data["targets"])
    assert data["machine"]["cpus"] >= 1
