"""(b) Ingest: the seeds into fresh stores, with and without the model load, against the raw embedder,
and where the time goes (timing wrappers around the pipeline's steps)."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.bench.common import bench_settings, load_avg, say

if TYPE_CHECKING:
    from rag.embed import Embedder
    from rag.pipeline import Pipeline

__all__ = ["bench_ingest", "ingest_phases"]


class _Timed:
    """Forwards everything to ``inner``; calls of the named methods add their time to ``acc[phase]``."""

    def __init__(self, inner: Any, methods: Mapping[str, str], acc: dict[str, float]) -> None:
        self._inner = inner
        self._methods = dict(methods)
        self._acc = acc

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        phase = self._methods.get(name)
        if phase is None or not callable(attr):
            return attr
        return _timed(attr, phase, self._acc)


def _timed(fn: Callable[..., Any], phase: str, acc: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[phase] = acc.get(phase, 0.0) + time.perf_counter() - t

    return wrapper


@contextlib.contextmanager
def _patched(target: Any, name: str, phase: str, acc: dict[str, float], static: bool = False) -> Iterator[None]:
    original = target.__dict__[name] if static else getattr(target, name)
    fn = original.__func__ if static else original
    wrapped: Any = _timed(fn, phase, acc)
    setattr(target, name, staticmethod(wrapped) if static else wrapped)
    try:
        yield
    finally:
        setattr(target, name, original)


# One flat page on purpose: which steps are wrapped, then how their times add up to the phases.
def ingest_phases(seeds: Path, store_path: Path, embedder: Embedder) -> dict[str, Any]:
    """Seconds per ingest phase of one fresh ingest, from timing wrappers around the pipeline's steps.

    ``top`` phases do not overlap and add up to ``total``; ``detail`` splits some of them further.
    """
    import rag.ingest.prepare as prep
    import rag.ingest.writer as ing
    from rag.pipeline import Pipeline
    from store import open_store

    acc: dict[str, float] = {}
    emb_methods = {"embed_with_spans": "embed", "count_tokens": "token counting"}
    store_methods = {
        "documents": "store: list documents",
        "delete_documents": "store: delete old",
        "delete_doc_chunks": "store: delete old",
        "add": "store: add chunks",
        "put_documents": "store: commit documents",
    }
    settings = bench_settings(store_path, seeds)
    store: Any = _Timed(open_store(path=store_path, collection=settings.store.collection), store_methods, acc)
    timed_embedder: Any = _Timed(embedder, emb_methods, acc)
    pipe = Pipeline(settings, embedder=timed_embedder, store=store)
    with contextlib.ExitStack() as stack:
        # Each step is wrapped in the module that calls it.
        for module, name, phase in (
            (prep, "load_file", "read"),
            (prep, "clean_text", "clean"),
            (prep, "extract_metadata", "describe"),
            (ing, "prepare_document", "read + clean + describe"),
            (ing, "chunk_document", "chunk"),
            (ing, "_chunk_records", "records"),
        ):
            stack.enter_context(_patched(module, name, phase, acc))
        cls = type(embedder)
        if "_pool_spans" in cls.__dict__:
            stack.enter_context(_patched(cls, "_pool_spans", "sentence pooling", acc, static=True))
        if "_run" in cls.__dict__:
            stack.enter_context(_patched(cls, "_run", "tokenize + ONNX", acc))
        t = time.perf_counter()
        report = pipe.ingest([seeds])
        total = time.perf_counter() - t
    pipe.close()

    def get(k: str) -> float:
        return acc.get(k, 0.0)

    top = {
        "store: list documents": get("store: list documents"),
        "read + clean + describe": get("read + clean + describe"),
        "chunk (sentences + token counting)": get("chunk"),
        "store: delete old": get("store: delete old"),
        "embed (model + sentence vectors)": get("embed"),
        "records (metadata, int8 vectors)": get("records") - get("embed"),
        "store: add chunks": get("store: add chunks"),
        "store: commit documents": get("store: commit documents"),
    }
    top["other (discover, hashing, loop)"] = total - sum(top.values())
    detail = {
        "read": get("read"),
        "clean": get("clean"),
        "describe": get("describe"),
        "chunk: token counting": get("token counting"),
        "embed: tokenize + ONNX": get("tokenize + ONNX"),
        "embed: sentence pooling": get("sentence pooling"),
        "embed: mean pooling, normalise": get("embed") - get("tokenize + ONNX") - get("sentence pooling"),
    }
    return {
        "total": total,
        "chunks": report.chunks,
        "top": dict(sorted(top.items(), key=lambda kv: -kv[1])),
        "detail": detail,
    }


def _first_ingest(seeds: Path, workdir: Path, quiet: bool) -> tuple[Embedder, dict[str, float]]:
    """The first ingest, as on a fresh machine: load the model, open a fresh store, ingest the seeds."""
    from rag.embed import make_embedder
    from rag.pipeline import Pipeline

    settings = bench_settings(workdir / "ingest-cold" / "store", seeds)
    t0 = time.perf_counter()
    embedder = make_embedder(settings)
    load = getattr(embedder, "load", None)
    if callable(load):
        load()
    model_s = time.perf_counter() - t0
    t = time.perf_counter()
    cold = Pipeline(settings, embedder=embedder)
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    cold_report = cold.ingest([seeds])
    ingest_cold_s = time.perf_counter() - t
    with_load_s = time.perf_counter() - t0
    cold.close()
    say(f"seed ingest with model load: {with_load_s:.2f} s ({cold_report.chunks} chunks)", quiet)
    return embedder, {
        "with_model_load_s": with_load_s,
        "model_load_s": model_s,
        "store_open_s": open_s,
        "first_ingest_s": ingest_cold_s,
    }


def bench_ingest(seeds: Path, workdir: Path, repeats: int, quiet: bool) -> tuple[dict[str, Any], Pipeline]:
    """Seed ingest with and without model load, throughput vs the raw embedder, phase breakdown.

    Returns the figures and the pipeline over the first loaded-model store (for the latency and
    cold-start sections).
    """
    from rag.pipeline import Pipeline
    from rag.records import sentence_spans

    load_before = load_avg()
    embedder, first = _first_ingest(seeds, workdir, quiet)

    # 2. Model loaded: fresh stores, interleaved with the raw embedder on the same chunk texts.
    pipe: Pipeline | None = None
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    ingest_s: list[float] = []
    raw_s: list[float] = []
    raw_spans_s: list[float] = []
    chunks = 0
    docs = 0
    for r in range(repeats):
        p = Pipeline(bench_settings(workdir / f"ingest-{r}" / "store", seeds), embedder=embedder)
        t = time.perf_counter()
        report = p.ingest([seeds])
        ingest_s.append(time.perf_counter() - t)
        chunks = report.chunks
        docs = len(report.added)
        if pipe is None:
            pipe = p
            for h in p.store.iter_chunks():
                texts.append(h.text)
                spans.append(sentence_spans(h))
        else:
            p.close()
        t = time.perf_counter()
        embedder.embed(texts)
        raw_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        embedder.embed_with_spans(texts, spans)
        raw_spans_s.append(time.perf_counter() - t)
    assert pipe is not None
    med = statistics.median(ingest_s)
    raw_med = statistics.median(raw_s)
    raw_spans_med = statistics.median(raw_spans_s)
    say(f"seed ingest, model loaded: {med:.2f} s; raw embed {raw_med:.2f} s", quiet)

    # 3. Where the time goes.
    phases = ingest_phases(seeds, workdir / "ingest-phases" / "store", embedder)
    out = {
        "documents": docs,
        "chunks": chunks,
        "repeats": repeats,
        **first,
        "model_loaded_s": med,
        "model_loaded_runs_s": ingest_s,
        "chunks_per_s": chunks / med,
        "raw_embed_s": raw_med,
        "raw_embed_chunks_per_s": len(texts) / raw_med,
        "raw_embed_with_spans_s": raw_spans_med,
        "raw_embed_with_spans_chunks_per_s": len(texts) / raw_spans_med,
        "batch_size": int(getattr(embedder, "batch_size", 0)),
        "ratio_vs_raw_embed": (chunks / med) / (len(texts) / raw_med),
        "ratio_vs_raw_embed_with_spans": (chunks / med) / (len(texts) / raw_spans_med),
        "phases_s": phases,
        "load": {"before": load_before, "after": load_avg()},
    }
    return out, pipe
