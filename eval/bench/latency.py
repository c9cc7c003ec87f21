"""(a) Warm answer latency on the seed corpus: ours, the llama-index baseline and the floor, interleaved."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.bench.common import PHASES, interleaved, load_avg, ratio_interval, summarize

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = ["ask_systems", "bench_latency", "uncached_twin"]


def uncached_twin(pipe: Pipeline) -> Pipeline:
    """The same pipeline with its chunk and sentence caches off (every kept chunk is read and decoded
    again, as for a question on new ground); it shares the model, store and BM25 index, so it costs
    no memory of its own, and clearing nothing of ``pipe``'s keeps the two interleaved runs apart."""
    from rag.pipeline import Pipeline

    cfg = pipe.settings
    settings = cfg.model_copy(update={"retrieve": cfg.retrieve.model_copy(update={"chunk_cache": 0})})
    return Pipeline(settings, embedder=pipe.embedder, store=pipe.store, corpus=pipe.corpus)


def ask_systems(
    pipe: Pipeline, phases: list[Mapping[str, float]], answered: list[bool] | None = None
) -> dict[str, Callable[[str], object]]:
    """``ours`` (recording each answer's phase timings, and whether it answered), ``ours_uncached``
    and ``floor`` (one query embedding + the store's top 5: ids, then their payloads): the systems
    every latency run times."""
    embedder, store = pipe.embedder, pipe.store
    uncached = uncached_twin(pipe)

    def ours(q: str) -> None:
        a = pipe.ask(q)
        phases.append(a.timings_ms)
        if answered is not None:
            answered.append(not a.abstained)

    def ours_uncached(q: str) -> None:
        uncached.ask(q)

    def floor(q: str) -> None:
        store.get([i for i, _ in store.nearest(embedder.embed_query(q), 5)])

    return {"ours": ours, "ours_uncached": ours_uncached, "floor": floor}


def bench_latency(
    pipe: Pipeline, seeds: Path, workdir: Path, questions: Sequence[str], repeats: int, warmup: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Warm latency of ours, the llama-index baseline and the floor, interleaved."""
    from eval.baseline import Baseline
    from store.chroma import raw_persistent_client

    baseline = Baseline(seeds, embedder=pipe.embedder, top_k=5, workdir=workdir / "baseline-chroma")
    raw = raw_persistent_client(pipe.settings.store.path).get_collection(f"{pipe.settings.store.collection}_chunks")
    embedder, store = pipe.embedder, pipe.store
    phases: list[Mapping[str, float]] = []
    answered: list[bool] = []
    ours = ask_systems(pipe, phases, answered)

    def floor_raw(q: str) -> None:
        raw.query(query_embeddings=[embedder.embed_query(q)], n_results=5)

    def embed_only(q: str) -> None:
        embedder.embed_query(q)

    systems: dict[str, Callable[[str], object]] = {
        "ours": ours["ours"],
        "ours_uncached": ours["ours_uncached"],
        "baseline": baseline.retriever.retrieve,
        "floor": ours["floor"],
        "floor_raw": floor_raw,
        "embed": embed_only,
    }
    load_before = load_avg()
    times = interleaved(systems, questions, repeats, warmup)
    baseline.close()
    phases = phases[warmup:]
    stats = {name: summarize(v) for name, v in times.items()}
    ours_med = stats["ours"]["median_ms"]
    out: dict[str, Any] = {
        "questions": len(questions),
        "repeats": repeats,
        "warmup": warmup,
        "chunks": store.count(),
        "baseline_nodes": baseline.nodes,
        **stats,
        "ours_phases_median_ms": {
            k: summarize([p[k] for p in phases if k in p])["median_ms"] for k in PHASES if any(k in p for p in phases)
        },
        "ours_answered_share": sum(answered[warmup:]) / max(1, len(answered) - warmup),
        "ratios": {
            "ours_over_baseline": ours_med / stats["baseline"]["median_ms"],
            "ours_uncached_over_baseline": stats["ours_uncached"]["median_ms"] / stats["baseline"]["median_ms"],
            "ours_over_floor": ours_med / stats["floor"]["median_ms"],
            "ours_over_floor_raw": ours_med / stats["floor_raw"]["median_ms"],
            "p95_over_median": stats["ours"]["p95_ms"] / ours_med,
            "baseline_over_floor": stats["baseline"]["median_ms"] / stats["floor"]["median_ms"],
        },
        # How far the ratio moves when the same rounds are resampled: run-to-run noise, in the table.
        "ratios_ci95": {
            "ours_over_baseline": list(ratio_interval(times["ours"], times["baseline"])),
            "ours_over_floor": list(ratio_interval(times["ours"], times["floor"])),
        },
        "load": {"before": load_before, "after": load_avg()},
    }
    return out, baseline.info()
