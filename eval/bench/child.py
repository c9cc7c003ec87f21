"""The scale benchmark's child process: one corpus size ingested and measured in a fresh interpreter
(``python -m eval.bench --child SPEC``), talking to the parent through prefixed stdout lines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eval.bench.common import PHASES, bench_settings, child_env, interleaved, reset_peak, rss_mb, summarize
from eval.bench.latency import ask_systems

__all__ = ["EVENT_PREFIX", "RESULT_PREFIX", "run_child", "scale_child"]

RESULT_PREFIX = "BENCH_RESULT "
EVENT_PREFIX = "BENCH_EVENT "


def _announcing(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        print(EVENT_PREFIX + "commit", flush=True)
        return out

    return wrapper


def scale_child(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run in a child process: ingest ``spec['corpus']`` into ``spec['store']``, then measure."""
    t0 = time.perf_counter()
    from rag.pipeline import Pipeline

    out: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    settings = bench_settings(Path(spec["store"]), Path(spec["seeds"]))
    t = time.perf_counter()
    pipe = Pipeline.from_settings(settings)
    pipe.embedder.embed_query("warm up")
    out["open_s"] = time.perf_counter() - t
    out["rss_after_open_mb"] = rss_mb("VmRSS")
    out["peak_rss_open_mb"] = rss_mb("VmHWM")
    if spec.get("announce_commits"):
        # Each batch of committed documents marks progress the parent can kill after.
        pipe.store.put_documents = _announcing(pipe.store.put_documents)  # type: ignore[method-assign]
    reset_peak()
    print(EVENT_PREFIX + "ingest_start", flush=True)
    t = time.perf_counter()
    report = pipe.ingest([Path(spec["corpus"])])
    out["ingest_s"] = time.perf_counter() - t
    out["embedded_chunks"] = report.chunks
    out["added_documents"] = len(report.added) + len(report.updated)
    out["skipped_documents"] = len(report.skipped)
    out["failed_documents"] = len(report.failed)
    out["ingest_chunks_per_s"] = report.chunks / out["ingest_s"] if out["ingest_s"] > 0 else 0.0
    out["peak_rss_ingest_mb"] = rss_mb("VmHWM")
    out["rss_after_ingest_mb"] = rss_mb("VmRSS")
    print(EVENT_PREFIX + "ingest_done", flush=True)
    out["chunks"] = pipe.store.count()
    out["documents"] = len(pipe.sources())
    if spec.get("latency", True):
        reset_peak()
        t = time.perf_counter()
        pipe.warm()  # builds the lexical index over every chunk and saves its cache
        out["lexical_build_s"] = time.perf_counter() - t
        out["peak_rss_lexical_mb"] = rss_mb("VmHWM")
        reset_peak()
        questions = list(spec["questions"])
        phases: list[Mapping[str, float]] = []
        systems = ask_systems(pipe, phases)
        warmup = int(spec["warmup"])
        times = interleaved(systems, questions, int(spec["repeats"]), warmup)
        out["ours"] = summarize(times["ours"])
        out["ours_uncached"] = summarize(times["ours_uncached"])
        out["floor"] = summarize(times["floor"])
        out["ours_phases_median_ms"] = {
            k: summarize([p[k] for p in phases[warmup:] if k in p])["median_ms"] for k in PHASES
        }
        out["peak_rss_ask_mb"] = rss_mb("VmHWM")
    # Not ru_maxrss: after fork+exec it starts from the parent's peak.
    out["peak_rss_mb"] = max(v for k, v in out.items() if k.startswith("peak_rss_"))
    pipe.close()
    return out


def run_child(
    spec: Mapping[str, Any], log: Path, kill_after_s: float | None = None, timeout: float = 6 * 3600
) -> dict[str, Any] | None:
    """Run :func:`scale_child` in a fresh interpreter.

    With ``kill_after_s``, SIGKILL it that long after its first committed documents (so the kill
    lands mid-ingest, with work both committed and in flight) and return None.
    """
    cmd = [sys.executable, "-m", "eval.bench", "--child", json.dumps(dict(spec))]
    t = time.perf_counter()
    with log.open("a", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        result: dict[str, Any] | None = None
        try:
            for line in proc.stdout:
                if line.startswith(EVENT_PREFIX + "commit") and kill_after_s is not None:
                    try:
                        proc.wait(timeout=kill_after_s)
                    except subprocess.TimeoutExpired:
                        proc.kill()  # SIGKILL: no cleanup, like a power cut
                        proc.wait()
                        return None
                if line.startswith(RESULT_PREFIX):
                    result = json.loads(line[len(RESULT_PREFIX) :])
            proc.wait(timeout=timeout)
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"the scale child failed (exit {proc.returncode}); see {log}")
    result["child_wall_s"] = time.perf_counter() - t
    return result
