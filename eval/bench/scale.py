"""(d) Scale: each synthetic corpus size ingested and measured in its own child process, the
kill-and-resume check, and how each cost grows with the corpus."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.bench.child import run_child
from eval.bench.cold import time_process
from eval.bench.common import COLD_QUESTION, child_env, du_mb, load_avg, rag_command, say
from eval.bench.corpus import generate_corpus

__all__ = ["bench_scale", "growth"]


def bench_scale(
    sizes: Sequence[int],
    seeds: Path,
    workdir: Path,
    questions: Sequence[str],
    repeats: int,
    warmup: int,
    resume: bool,
    resume_check: bool,
    quiet: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Each size in its own child process; then store size and a cold ``rag ask`` at that size."""
    rows: list[dict[str, Any]] = []
    resume_result: dict[str, Any] | None = None
    for size in sizes:
        t = time.perf_counter()
        corpus = workdir / f"corpus-{size}"
        manifest = generate_corpus(seeds, corpus, size)
        gen_s = time.perf_counter() - t
        store = workdir / f"scale-{size}" / "store"
        if not resume:
            shutil.rmtree(store.parent, ignore_errors=True)
        store.parent.mkdir(parents=True, exist_ok=True)
        say(f"scale {size:,}: corpus of {manifest['documents']:,} documents ready; ingesting …", quiet)
        spec = {
            "corpus": str(corpus),
            "store": str(store),
            "seeds": str(seeds),
            "questions": list(questions),
            "repeats": repeats,
            "warmup": warmup,
        }
        load_before = load_avg()
        row = run_child(spec, store.parent / "child.log")
        assert row is not None
        row.update(
            size=size,
            corpus=manifest,
            corpus_generation_s=gen_s,
            store_mb=du_mb(store),
            load={"before": load_before, "after": load_avg()},
        )
        cold = [time_process([*rag_command(), "ask", COLD_QUESTION], child_env(store))[0] for _ in range(2)]
        row["cold_ask_s"] = sorted(cold)[0]
        say(
            f"scale {size:,}: {row['chunks']:,} chunks, ingest {row['ingest_s']:.1f} s, "
            f"ask median {row['ours']['median_ms']:.1f} ms, peak RSS {row['peak_rss_mb']:.0f} MB",
            quiet,
        )
        rows.append(row)
        if resume_check and resume_result is None and size == min(sizes) and size <= 10000:
            resume_result = _resume_check(spec, row, workdir / f"resume-{size}" / "store", quiet)
    return rows, resume_result


def _resume_check(spec: Mapping[str, Any], full: Mapping[str, Any], store: Path, quiet: bool) -> dict[str, Any]:
    """Kill an ingest half-way (SIGKILL), rerun it, and compare with the uninterrupted run."""
    shutil.rmtree(store.parent, ignore_errors=True)
    store.parent.mkdir(parents=True)
    kill_after = 0.25 * float(full["ingest_s"])
    base = dict(spec, store=str(store), latency=False, announce_commits=True)
    killed = run_child(base, store.parent / "child.log", kill_after_s=kill_after)
    if killed is not None:  # it finished before the kill: nothing to resume
        return {"size": full["size"], "killed_after_s": kill_after, "interrupted": False}
    say(f"resume check: ingest killed {kill_after:.1f} s after its first commit; rerunning …", quiet)
    rerun = run_child(base, store.parent / "child.log")
    assert rerun is not None
    return {
        "size": full["size"],
        "killed_after_s": kill_after,
        "interrupted": True,
        "rerun_ingest_s": rerun["ingest_s"],
        "rerun_embedded_chunks": rerun["embedded_chunks"],
        "rerun_skipped_documents": rerun["skipped_documents"],
        "rerun_added_documents": rerun["added_documents"],
        "chunks": rerun["chunks"],
        "documents": rerun["documents"],
        "expected_chunks": full["chunks"],
        "expected_documents": full["documents"],
        "ok": rerun["chunks"] == full["chunks"]
        and rerun["documents"] == full["documents"]
        and rerun["embedded_chunks"] < full["chunks"],
    }


def _per_embedded_chunk(r: Mapping[str, Any]) -> float:
    # A resumed ingest embeds only what was missing: time per chunk it embedded.
    n = float(r.get("embedded_chunks") or 0)
    return float(r["ingest_s"]) / n if n > 0 else 0.0


def growth(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """How each cost grows with corpus size: the factor and log-log slope, smallest to largest size."""
    if len(rows) < 2:
        return {}
    a, b = rows[0], rows[-1]
    n = b["chunks"] / a["chunks"]
    metrics: dict[str, Callable[[Mapping[str, Any]], float]] = {
        "ingest_s_per_chunk": _per_embedded_chunk,
        "ask_median_ms": lambda r: float(r["ours"]["median_ms"]),
        "ask_p95_ms": lambda r: float(r["ours"]["p95_ms"]),
        "ask_uncached_median_ms": lambda r: float(r.get("ours_uncached", {}).get("median_ms", 0.0)),
        "floor_median_ms": lambda r: float(r["floor"]["median_ms"]),
        "retrieve_median_ms": lambda r: float(r["ours_phases_median_ms"]["retrieve"]),
        "lexical_build_s": lambda r: float(r["lexical_build_s"]),
        "peak_rss_mb": lambda r: float(r["peak_rss_mb"]),
        "store_mb": lambda r: float(r["store_mb"]),
        "cold_ask_s": lambda r: float(r["cold_ask_s"]),
    }
    out = {}
    for name, get in metrics.items():
        va, vb = get(a), get(b)
        if va > 0 and vb > 0 and n > 1:
            out[name] = {"from": va, "to": vb, "factor": vb / va, "slope": math.log(vb / va) / math.log(n)}
    out["chunks"] = {"from": float(a["chunks"]), "to": float(b["chunks"]), "factor": n, "slope": 1.0}
    return out
