"""The performance benchmark: ``rag bench`` (or ``python -m eval.bench``).

Every figure of issue #6, measured in one run on this machine, side by side with a plain
llama-index pipeline and the physical floor, each with its target and PASS/MISS:

* **Warm answer latency** on the seed corpus: ``Pipeline.ask(q)`` over the questions of
  ``eval/questions.jsonl``, interleaved (same process, rotating order) with the llama-index
  baseline — ``VectorStoreIndex`` over the same seeds, default ``SentenceSplitter``, the same ONNX
  embedder (:class:`rag.integrations.llama_index.OnnxMiniLMEmbedding`), ``ChromaVectorStore`` on a
  ``PersistentClient``, ``as_retriever(similarity_top_k=5).retrieve(q)`` — and with the floor:
  one query embedding plus one top-5 query of our chunk collection (through our thin wrapper
  ``store.query`` and through the raw Chroma collection). Warm-ups first; medians and p95.
* **Ingest** of the seeds into a fresh store, with and without the model load, and its throughput
  against the raw embedder on the very same chunk texts (``embedder.embed`` and
  ``embedder.embed_with_spans``, same batch size); plus a phase breakdown (read, clean, describe,
  chunk with token counting, embed, store writes) from timing wrappers, and the llama-index
  baseline's indexing time for context.
* **Cold start**: ``rag ask "…"`` as a fresh process on an existing store (median of
  ``--cold-runs``), where its time goes (``-X importtime``: the top modules and packages), whether
  gradio or llama-index is imported on that path, and ``rag --help``.
* **Scale**: synthetic corpora derived deterministically from the seeds (sentences shuffled across
  articles, entity names and years varied per document) at ``--sizes`` chunks; each size is
  ingested through the real pipeline by a child process (so peak memory does not mix), which
  reports ingest time and chunks/s, the lexical index build, warm ask latency next to the floor,
  and peak RSS per phase; the parent adds the store's size on disk and a cold ``rag ask``. The
  smallest size (when ≤ 10,000) also checks resumption: an ingest killed half-way is rerun and
  must finish with the same chunks, re-embedding only what was missing.

Only the standard library is imported at module level, so ``rag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.embed import Embedder
    from rag.pipeline import Pipeline
    from rag.settings import Settings

__all__ = [
    "DEFAULT_SIZES",
    "REPORTS_DIR",
    "TARGETS",
    "format_table",
    "generate_corpus",
    "main",
    "register",
    "run_bench",
    "run_cli",
    "summarize",
]

HERE = Path(__file__).resolve().parents[1]
QUESTIONS_PATH = HERE / "questions.jsonl"
REPORTS_DIR = HERE / "reports"
COLD_QUESTION = "Why does ISKP oppose the Taliban?"
PHASES = ("embed", "retrieve", "answer")
DEFAULT_SIZES = (1000, 10000)
#: Bump when the synthetic corpus generator changes (cached corpora are then regenerated).
GENERATOR_VERSION = "1"
DOCS_PER_FOLDER = 1000
RESULT_PREFIX = "BENCH_RESULT "
EVENT_PREFIX = "BENCH_EVENT "

#: The issue's targets.
TARGETS: dict[str, float] = {
    "ours_over_baseline": 1.0,  # warm median ≤ llama-index retrieve() median
    "ours_over_floor": 2.0,  # warm median ≤ 2 × (one query embedding + one Chroma top-k query)
    "p95_over_median": 2.0,
    "ingest_over_raw_embed": 0.85,  # pipeline throughput ≥ 85 % of the raw embedder's
    "cold_start_s": 2.5,
    "scale_median_ms": 25.0,  # at 100k chunks
    "scale_peak_rss_mb": 1536.0,  # 1.5 GiB
}


# -- small helpers ----------------------------------------------------------------------------
def summarize(ms: Sequence[float]) -> dict[str, float]:
    """Median, p95, mean, min and max of a list of timings (ms), with their count."""
    from eval.metrics import percentile

    if not ms:
        raise ValueError("no timings to summarize")
    return {
        "n": float(len(ms)),
        "median_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": sum(ms) / len(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def _interleaved(
    systems: Mapping[str, Callable[[str], object]], questions: Sequence[str], repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Time each system on the same questions, alternating which goes first; warm-ups untimed."""
    names = list(systems)
    for i in range(warmup):
        for name in names:
            systems[name](questions[i % len(questions)])
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        q = questions[i % len(questions)]
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            t = time.perf_counter()
            systems[name](q)
            out[name].append((time.perf_counter() - t) * 1000)
    return out


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def _machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("rag-cited", "chromadb", "onnxruntime", "tokenizers", "llama-index-core", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _code_version() -> dict[str, Any]:
    """The checkout's commit and its uncommitted changes under rag/, store/ and eval/ (read-only git)."""
    root = HERE.parent

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return ""
        return proc.stdout.rstrip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip()
    changed = [line[3:] for line in git("status", "--porcelain", "--", "rag", "store", "eval").splitlines()]
    return {"commit": commit or "unknown", "changed": changed}


def _rss_status(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB; 0 when unavailable."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    m = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def _reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux ≥ 4.0), so each phase reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _du_mb(path: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / f).stat().st_size
    return total / 1024 / 1024


def _questions(path: Path = QUESTIONS_PATH) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            # A follow-up question needs its history; the bench times single questions.
            if not item.get("history"):
                out.append(str(item["question"]))
    return out


def _settings(store: Path, seeds: Path) -> Settings:
    """The environment's settings with our store, the seeds and extractive answers."""
    from rag.settings import Settings

    s = Settings()
    s.store.path = store
    s.store.cache_dir = None
    s.ingest.seeds_path = seeds
    s.answer.mode = "extractive"
    return s


def _child_env(store: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["ANONYMIZED_TELEMETRY"] = "False"
    env["RAG_ANSWER_MODE"] = "extractive"
    env["PYTHONUNBUFFERED"] = "1"
    if store is not None:
        env["RAG_STORE_PATH"] = str(store)
    return env


def _rag_command() -> list[str]:
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"bench: {msg}", file=sys.stderr, flush=True)


# -- (a) warm answer latency --------------------------------------------------------------------
def build_baseline(seeds: Path, embedder: Embedder, folder: Path, top_k: int = 5) -> tuple[Any, dict[str, Any]]:
    """A plain llama-index pipeline over ``seeds``: its retriever and how long indexing took."""
    t0 = time.perf_counter()
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.integrations.llama_index import OnnxMiniLMEmbedding
    from store.chroma import raw_persistent_client

    import_s = time.perf_counter() - t0
    client = raw_persistent_client(folder)
    collection = client.get_or_create_collection("baseline")
    t = time.perf_counter()
    docs = SimpleDirectoryReader(input_dir=str(seeds), required_exts=[".txt"]).load_data()
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    index = VectorStoreIndex.from_documents(
        docs, storage_context=storage, embed_model=OnnxMiniLMEmbedding(embedder), transformations=[SentenceSplitter()]
    )
    build_s = time.perf_counter() - t
    nodes = int(collection.count())
    info = {"import_s": import_s, "index_s": build_s, "nodes": nodes, "nodes_per_s": nodes / build_s}
    return index.as_retriever(similarity_top_k=top_k), info


def _uncached_twin(pipe: Pipeline) -> Pipeline:
    """The same pipeline with its chunk and sentence caches off (every kept chunk is read and decoded
    again, as for a question on new ground); it shares the model, store and BM25 index, so it costs
    no memory of its own, and clearing nothing of ``pipe``'s keeps the two interleaved runs apart."""
    from rag.pipeline import Pipeline

    cfg = pipe.settings
    settings = cfg.model_copy(update={"retrieve": cfg.retrieve.model_copy(update={"chunk_cache": 0})})
    twin = Pipeline(settings, embedder=pipe.embedder, store=pipe.store)
    twin._lexical = pipe._lexical_index()  # measurement code: share, don't rebuild, the index
    return twin


def bench_latency(
    pipe: Pipeline, seeds: Path, workdir: Path, questions: Sequence[str], repeats: int, warmup: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Warm latency of ours, the llama-index baseline and the floor, interleaved."""
    from store.chroma import raw_persistent_client

    retriever, baseline_info = build_baseline(seeds, pipe.embedder, workdir / "baseline-chroma")
    raw = raw_persistent_client(pipe.settings.store.path).get_collection(f"{pipe.settings.store.collection}_chunks")
    embedder, store = pipe.embedder, pipe.store
    phases: list[Mapping[str, float]] = []
    answered: list[bool] = []

    def ours(q: str) -> None:
        a = pipe.ask(q)
        phases.append(a.timings_ms)
        answered.append(not a.abstained)

    uncached = _uncached_twin(pipe)

    def ours_uncached(q: str) -> None:
        uncached.ask(q)

    def floor(q: str) -> None:
        store.query(embedder.embed_query(q), 5)

    def floor_raw(q: str) -> None:
        raw.query(query_embeddings=[embedder.embed_query(q)], n_results=5)

    def embed_only(q: str) -> None:
        embedder.embed_query(q)

    systems: dict[str, Callable[[str], object]] = {
        "ours": ours,
        "ours_uncached": ours_uncached,
        "baseline": retriever.retrieve,
        "floor": floor,
        "floor_raw": floor_raw,
        "embed": embed_only,
    }
    load_before = _load()
    times = _interleaved(systems, questions, repeats, warmup)
    phases = phases[warmup:]
    stats = {name: summarize(v) for name, v in times.items()}
    ours_med = stats["ours"]["median_ms"]
    out: dict[str, Any] = {
        "questions": len(questions),
        "repeats": repeats,
        "warmup": warmup,
        "chunks": store.count(),
        "baseline_nodes": baseline_info["nodes"],
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
        "load": {"before": load_before, "after": _load()},
    }
    return out, baseline_info


# -- (b) ingest ----------------------------------------------------------------------------------
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


def ingest_phases(seeds: Path, store_path: Path, embedder: Embedder) -> dict[str, Any]:
    """Seconds per ingest phase of one fresh ingest, from timing wrappers around the pipeline's steps.

    ``top`` phases do not overlap and add up to ``total``; ``detail`` splits some of them further.
    """
    import rag.ingest.writer as ing
    from rag.pipeline import Pipeline
    from store import open_store

    acc: dict[str, float] = {}
    emb_methods = {"embed_with_spans": "embed", "count_tokens": "token counting"}
    store_methods = {
        "documents": "store: list documents",
        "delete_document": "store: delete old",
        "delete_documents": "store: delete old",
        "delete_doc_chunks": "store: delete old",
        "add": "store: add chunks",
        "put_document": "store: commit documents",
        "put_documents": "store: commit documents",
    }
    settings = _settings(store_path, seeds)
    store: Any = _Timed(open_store(path=store_path, collection=settings.store.collection), store_methods, acc)
    timed_embedder: Any = _Timed(embedder, emb_methods, acc)
    pipe = Pipeline(settings, embedder=timed_embedder, store=store)
    with contextlib.ExitStack() as stack:
        for name, phase in (
            ("load_file", "read"),
            ("clean_text", "clean"),
            ("extract_metadata", "describe"),
            ("prepare_document", "read + clean + describe"),
            ("chunk_document", "chunk"),
            ("_chunk_records", "records"),
        ):
            stack.enter_context(_patched(ing, name, phase, acc))
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


def bench_ingest(seeds: Path, workdir: Path, repeats: int, quiet: bool) -> tuple[dict[str, Any], Pipeline]:
    """Seed ingest with and without model load, throughput vs the raw embedder, phase breakdown.

    Returns the figures and the pipeline over the first loaded-model store (for the latency and
    cold-start sections).
    """
    from rag.embed import make_embedder
    from rag.pipeline import Pipeline

    load_before = _load()
    # 1. Cold: load the model, open a fresh store, ingest.
    settings = _settings(workdir / "ingest-cold" / "store", seeds)
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
    _say(f"seed ingest with model load: {with_load_s:.2f} s ({cold_report.chunks} chunks)", quiet)

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
        p = Pipeline(_settings(workdir / f"ingest-{r}" / "store", seeds), embedder=embedder)
        t = time.perf_counter()
        report = p.ingest([seeds])
        ingest_s.append(time.perf_counter() - t)
        chunks = report.chunks
        docs = len(report.added)
        if pipe is None:
            pipe = p
            for h in p.store.iter_chunks():
                texts.append(h.text)
                spans.append([(int(a), int(b)) for a, b in json.loads(str(h.metadata.get("sents", "[]")))])
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
    _say(f"seed ingest, model loaded: {med:.2f} s; raw embed {raw_med:.2f} s", quiet)

    # 3. Where the time goes.
    phases = ingest_phases(seeds, workdir / "ingest-phases" / "store", embedder)
    out = {
        "documents": docs,
        "chunks": chunks,
        "repeats": repeats,
        "with_model_load_s": with_load_s,
        "model_load_s": model_s,
        "store_open_s": open_s,
        "first_ingest_s": ingest_cold_s,
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
        "load": {"before": load_before, "after": _load()},
    }
    return out, pipe


# -- (c) cold start --------------------------------------------------------------------------------
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

_COLD_PHASES = """\
import json, sys, time
t0 = time.perf_counter()
from rag.cli import _parser
_parser()
t1 = time.perf_counter()
from rag.pipeline import Pipeline
from rag.settings import Settings
t2 = time.perf_counter()
pipe = Pipeline.from_settings(Settings())
t3 = time.perf_counter()
pipe.embedder.embed_query("warm up")
t4 = time.perf_counter()
pipe.warm()
t5 = time.perf_counter()
a = pipe.ask(sys.argv[1])
t6 = time.perf_counter()
print(json.dumps({"import rag.cli + parser": t1 - t0, "import rag.pipeline": t2 - t1,
    "open store": t3 - t2, "load model + first embedding": t4 - t3, "lexical index (cache)": t5 - t4,
    "first ask": t6 - t5}))
"""


def parse_importtime(stderr: str) -> dict[str, Any]:
    """Where a ``-X importtime`` log's time goes.

    ``top_modules``: the ten largest cumulative times (a chain of parents and children);
    ``top_packages``: per top-level package, the cumulative time of the imports that entered it
    from another package, and which module did (what removing that import would save).
    """
    rows = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append((int(m[1]), int(m[2]), len(m[3]), m[4]))
    entered: dict[str, int] = {}
    via: dict[str, tuple[int, str]] = {}
    stack: list[tuple[int, str]] = []
    # The log lists children before their parent: walk it backwards to see parents first.
    for _, cumulative, depth, name in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        stack.append((depth, name))
        root = name.split(".")[0]
        if parent.split(".")[0] != root:
            entered[root] = entered.get(root, 0) + cumulative
            if cumulative > via.get(root, (-1, ""))[0]:
                via[root] = (cumulative, parent or "(top level)")
    names = {r[3] for r in rows}
    return {
        "total_ms": sum(r[0] for r in rows) / 1000,
        "modules": len(rows),
        "top_modules": [
            {"module": r[3], "cumulative_ms": r[1] / 1000, "self_ms": r[0] / 1000}
            for r in sorted(rows, key=lambda r: -r[1])[:10]
        ],
        "top_packages": [
            {"package": k, "cumulative_ms": v / 1000, "via": via[k][1]}
            for k, v in sorted(entered.items(), key=lambda kv: -kv[1])[:10]
        ],
        "gradio_imported": any(n == "gradio" or n.startswith("gradio.") for n in names),
        "llama_index_imported": any(n.startswith("llama_index") for n in names),
        "chromadb_imported": any(n == "chromadb" or n.startswith("chromadb.") for n in names),
    }


def _time_process(cmd: Sequence[str], env: Mapping[str, str], timeout: float = 300) -> tuple[float, str, str]:
    t = time.perf_counter()
    proc = subprocess.run(list(cmd), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} … exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return wall, proc.stdout, proc.stderr


def bench_cold(store: Path, runs: int, question: str = COLD_QUESTION) -> dict[str, Any]:
    """``rag ask`` as a fresh process on an existing store: wall times, import costs, phases."""
    env = _child_env(store)
    cmd = [*_rag_command(), "ask", question]
    load_before = _load()
    _time_process(cmd, env)  # one untimed run: the OS file cache, as after any earlier use
    walls = []
    stdout = ""
    for _ in range(runs):
        wall, stdout, _ = _time_process(cmd, env)
        walls.append(wall)
    help_walls = [_time_process([*_rag_command(), "--help"], env)[0] for _ in range(max(1, min(runs, 3)))]
    code = "import sys; from rag.cli import main; sys.exit(main(['ask', sys.argv[1]]))"
    _, _, imp_err = _time_process([sys.executable, "-X", "importtime", "-c", code, question], env)
    _, phase_out, _ = _time_process([sys.executable, "-c", _COLD_PHASES, question], env)
    phases = json.loads(phase_out.strip().splitlines()[-1])
    walls_sorted = sorted(walls)
    return {
        "command": f"rag ask {question!r}",
        "runs": runs,
        "walls_s": walls,
        "median_s": statistics.median(walls),
        "min_s": walls_sorted[0],
        "max_s": walls_sorted[-1],
        "answered": "[1]" in stdout,
        "help_median_s": statistics.median(help_walls),
        "imports": parse_importtime(imp_err),
        "phases_s": phases,
        "load": {"before": load_before, "after": _load()},
    }


# -- (d) scale: synthetic corpora ---------------------------------------------------------------
#: Names in the seeds, by kind, and the fictional names a synthetic document may use instead.
_ENTITIES: dict[str, tuple[list[str], list[str]]] = {
    "group": (
        ["Islamic State", "Taliban", "ISKP", "ISIS-K", "IS-K", "Isis", "ISIS", "al-Qaeda", "Al Qaeda", "Haqqani"],
        ["Northern Vanguard", "Saffron Front", "Crescent Brigade", "Highland Movement", "Eastern Legion",
         "Valley Coalition", "Iron Banner", "Mountain Council", "Southern Alliance", "River Guard", "Desert Wolves",
         "Free Hills Army"],
    ),
    "place": (
        ["Afghanistan", "Kabul", "Nangarhar", "Kandahar", "Herat", "Kunduz", "Jalalabad", "Pakistan", "Syria", "Iraq",
         "Tajikistan", "Uzbekistan", "Russia", "Qatar", "Doha", "Washington", "Iran", "China", "Khorasan"],
        ["Varkesh", "Doruna", "Beltrava", "Kesmara", "Tirzan", "Maldovar", "Qalun", "Sereth", "Arvandia", "Zelmar",
         "Kuvessa", "Hartovia", "Nimrova", "Talvar", "Ostrel", "Pashar", "Rundel", "Yavestan"],
    ),
    "person": (
        ["Biden", "Trump", "Karzai", "Ghani", "Omar", "Mansour", "Baghdadi", "Zarqawi", "Bin Laden", "McKenzie"],
        ["Arman Velic", "Dara Kostin", "Samir Haddan", "Leena Morrow", "Tomas Renner", "Idris Kalan", "Mira Solberg",
         "Yusuf Tarek", "Elena Brask", "Karim Osdal", "Nadia Ferrin", "Jonas Ekholm"],
    ),
}  # fmt: skip
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]  # fmt: skip
_ENTITY_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(n) for n in sorted((n for ns, _ in _ENTITIES.values() for n in ns), key=len, reverse=True))
    + r")(?![\w-])"
)
_YEAR_RE = re.compile(r"(?<!\d)(19[4-9]\d|20[0-3]\d)(?!\d)")
_MONTH_RE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\b")
_TITLES = [
    "Field report {n}: {place} and the {group}",
    "Analysis {n}: why the {group} fights on in {place}",
    "{place} briefing {n}: {person} on the {group}",
    "Dispatch {n} from {place}",
    "Background {n}: the {group} after {year}",
]


def _seed_sentences(seeds: Path) -> list[str]:
    """Whole, answer-like sentences of the seed files (cleaned as ingest cleans them)."""
    from rag.ingest.clean import clean_text
    from rag.text import is_answer_sentence, split_sentences

    out: list[str] = []
    for path in sorted(seeds.glob("*.txt")):
        text = clean_text(path.read_text(encoding="utf-8")).text
        out.extend(text[a:b] for a, b in split_sentences(text) if is_answer_sentence(text[a:b]))
    return out


def synthetic_document(sentences: Sequence[str], n: int, n_sentences: int) -> str:
    """Document ``n`` of a synthetic corpus: shuffled seed sentences with varied names and years."""
    rng = random.Random(f"rag-bench-{GENERATOR_VERSION}-{n}")
    names: dict[str, str] = {}
    for kind, (originals, replacements) in _ENTITIES.items():
        for name in originals:
            # Some documents keep a real name, so questions about it meet many near-duplicates.
            names[name] = name if rng.random() < 0.35 else rng.choice(replacements)
        names[kind] = rng.choice(replacements)
    year_shift = rng.randint(-25, 6)
    month_shift = rng.randint(0, 11)

    def vary(text: str) -> str:
        text = _ENTITY_RE.sub(lambda m: names[m[1]], text)
        text = _YEAR_RE.sub(lambda m: str(min(2035, int(m[1]) + year_shift)), text)
        return _MONTH_RE.sub(lambda m: _MONTHS[(_MONTHS.index(m[1]) + month_shift) % 12], text)

    picked = rng.sample(list(sentences), min(n_sentences, len(sentences)))
    paragraphs: list[str] = []
    i = 0
    while i < len(picked):
        k = rng.randint(2, 5)
        paragraphs.append(" ".join(vary(s) for s in picked[i : i + k]))
        i += k
    title = rng.choice(_TITLES).format(
        n=n, place=names["place"], group=names["group"], person=names["person"], year=2000 + year_shift + 20
    )
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def _doc_path(root: Path, n: int) -> Path:
    return root / f"d{n // DOCS_PER_FOLDER:03d}" / f"syn-{n:06d}.txt"


def generate_corpus(seeds: Path, root: Path, size: int, sentences_per_doc: int = 26) -> dict[str, Any]:
    """Write a corpus of about ``size`` chunks under ``root``: the seeds plus synthetic documents.

    Deterministic: the same seeds and size always give the same files. The number of documents is
    calibrated by chunking the first ones exactly as ingest does. A corpus already there (same
    manifest) is reused.
    """
    from rag.embed import MiniLMOnnx
    from rag.ingest import prepare_document
    from rag.ingest.chunk import chunk_document
    from rag.ingest.metadata import load_sidecar

    seed_files = sorted(seeds.glob("*.txt"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in seed_files)).hexdigest()[:16]
    manifest_path = root / "manifest.json"
    with contextlib.suppress(OSError, ValueError):
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (manifest.get("version"), manifest.get("size"), manifest.get("seeds")) == (GENERATOR_VERSION, size, digest):
            return manifest
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    settings = _settings(root / "unused-store", seeds)
    counter = MiniLMOnnx(verify=False).count_tokens
    max_tokens, overlap = settings.chunk.max_tokens, settings.chunk.overlap_sentences

    def chunks_of(path: Path, sidecar: Mapping[str, Any] | None = None) -> int:
        doc = prepare_document(path, settings, dict(sidecar) if sidecar else None)
        return len(chunk_document(doc, counter, max_tokens, overlap))

    (root / "seeds").mkdir()
    for p in [*seed_files, seeds / "metadata.json"]:
        if p.is_file():
            shutil.copy2(p, root / "seeds" / p.name)
    sidecar = load_sidecar(root / "seeds")
    seed_chunks = sum(chunks_of(root / "seeds" / p.name, sidecar) for p in seed_files)
    sentences = _seed_sentences(seeds)
    calib = min(20, max(1, size // 10))
    counts = []
    for n in range(calib):
        path = _doc_path(root, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(synthetic_document(sentences, n, sentences_per_doc), encoding="utf-8")
        counts.append(chunks_of(path))
    per_doc = sum(counts) / len(counts)
    n_docs = max(calib, round(max(0, size - seed_chunks) / per_doc))
    for n in range(calib, n_docs):
        path = _doc_path(root, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(synthetic_document(sentences, n, sentences_per_doc), encoding="utf-8")
    manifest = {
        "version": GENERATOR_VERSION,
        "size": size,
        "seeds": digest,
        "documents": n_docs + len(seed_files),
        "synthetic_documents": n_docs,
        "chunks_per_synthetic_document": round(per_doc, 2),
        "estimated_chunks": round(seed_chunks + n_docs * per_doc),
        "bytes": sum(_doc_path(root, n).stat().st_size for n in range(n_docs)),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


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
    settings = _settings(Path(spec["store"]), Path(spec["seeds"]))
    t = time.perf_counter()
    pipe = Pipeline.from_settings(settings)
    pipe.embedder.embed_query("warm up")
    out["open_s"] = time.perf_counter() - t
    out["rss_after_open_mb"] = _rss_status("VmRSS")
    out["peak_rss_open_mb"] = _rss_status("VmHWM")
    if spec.get("announce_commits"):
        for name in ("put_documents", "put_document"):  # the commit marks of an ingest
            if hasattr(pipe.store, name):
                setattr(pipe.store, name, _announcing(getattr(pipe.store, name)))
    _reset_peak()
    print(EVENT_PREFIX + "ingest_start", flush=True)
    t = time.perf_counter()
    report = pipe.ingest([Path(spec["corpus"])])
    out["ingest_s"] = time.perf_counter() - t
    out["embedded_chunks"] = report.chunks
    out["added_documents"] = len(report.added) + len(report.updated)
    out["skipped_documents"] = len(report.skipped)
    out["failed_documents"] = len(report.failed)
    out["ingest_chunks_per_s"] = report.chunks / out["ingest_s"] if out["ingest_s"] > 0 else 0.0
    out["peak_rss_ingest_mb"] = _rss_status("VmHWM")
    out["rss_after_ingest_mb"] = _rss_status("VmRSS")
    print(EVENT_PREFIX + "ingest_done", flush=True)
    out["chunks"] = pipe.store.count()
    out["documents"] = len(pipe.sources())
    if spec.get("latency", True):
        _reset_peak()
        t = time.perf_counter()
        pipe.warm()  # builds the lexical index over every chunk and saves its cache
        out["lexical_build_s"] = time.perf_counter() - t
        out["peak_rss_lexical_mb"] = _rss_status("VmHWM")
        _reset_peak()
        questions = list(spec["questions"])
        embedder, store = pipe.embedder, pipe.store
        phases: list[Mapping[str, float]] = []

        def ours(q: str) -> None:
            phases.append(pipe.ask(q).timings_ms)

        uncached = _uncached_twin(pipe)

        def ours_uncached(q: str) -> None:
            uncached.ask(q)

        def floor(q: str) -> None:
            store.query(embedder.embed_query(q), 5)

        warmup = int(spec["warmup"])
        systems = {"ours": ours, "ours_uncached": ours_uncached, "floor": floor}
        times = _interleaved(systems, questions, int(spec["repeats"]), warmup)
        out["ours"] = summarize(times["ours"])
        out["ours_uncached"] = summarize(times["ours_uncached"])
        out["floor"] = summarize(times["floor"])
        out["ours_phases_median_ms"] = {
            k: summarize([p[k] for p in phases[warmup:] if k in p])["median_ms"] for k in PHASES
        }
        out["peak_rss_ask_mb"] = _rss_status("VmHWM")
    # Not ru_maxrss: after fork+exec it starts from the parent's peak.
    out["peak_rss_mb"] = max(v for k, v in out.items() if k.startswith("peak_rss_"))
    pipe.close()
    return out


def _run_child(
    spec: Mapping[str, Any], log: Path, kill_after_s: float | None = None, timeout: float = 6 * 3600
) -> dict[str, Any] | None:
    """Run :func:`scale_child` in a fresh interpreter.

    With ``kill_after_s``, SIGKILL it that long after its first committed documents (so the kill
    lands mid-ingest, with work both committed and in flight) and return None.
    """
    cmd = [sys.executable, "-m", "eval.bench", "--child", json.dumps(dict(spec))]
    t = time.perf_counter()
    with log.open("a", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, env=_child_env(), stdout=subprocess.PIPE, stderr=err, text=True)
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
        _say(f"scale {size:,}: corpus of {manifest['documents']:,} documents ready; ingesting …", quiet)
        spec = {
            "corpus": str(corpus),
            "store": str(store),
            "seeds": str(seeds),
            "questions": list(questions),
            "repeats": repeats,
            "warmup": warmup,
        }
        load_before = _load()
        row = _run_child(spec, store.parent / "child.log")
        assert row is not None
        row.update(
            size=size,
            corpus=manifest,
            corpus_generation_s=gen_s,
            store_mb=_du_mb(store),
            load={"before": load_before, "after": _load()},
        )
        cold = [_time_process([*_rag_command(), "ask", COLD_QUESTION], _child_env(store))[0] for _ in range(2)]
        row["cold_ask_s"] = sorted(cold)[0]
        _say(
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
    killed = _run_child(base, store.parent / "child.log", kill_after_s=kill_after)
    if killed is not None:  # it finished before the kill: nothing to resume
        return {"size": full["size"], "killed_after_s": kill_after, "interrupted": False}
    _say(f"resume check: ingest killed {kill_after:.1f} s after its first commit; rerunning …", quiet)
    rerun = _run_child(base, store.parent / "child.log")
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


# -- (e) targets and the table ------------------------------------------------------------------------
def evaluate_targets(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue with its measured value and PASS/MISS."""
    out: list[dict[str, Any]] = []

    def add(key: str, label: str, value: float, target: float, higher_is_better: bool = False, note: str = "") -> None:
        ok = value >= target if higher_is_better else value <= target
        out.append(
            {
                "id": key,
                "label": label,
                "value": value,
                "target": target,
                "pass": ok,
                "op": ">=" if higher_is_better else "<=",
                "note": note,
            }
        )

    lat = result.get("latency")
    if lat:
        r = lat["ratios"]
        add("ours_over_baseline", "warm ask median / llama-index retrieve median", r["ours_over_baseline"], 1.0)
        add("ours_over_floor", "warm ask median / floor median", r["ours_over_floor"], 2.0)
        add("p95_over_median", "warm ask p95 / median", r["p95_over_median"], 2.0)
    ing = result.get("ingest")
    if ing:
        add(
            "ingest_over_raw_embed",
            "ingest throughput / raw embedder throughput",
            ing["ratio_vs_raw_embed"],
            TARGETS["ingest_over_raw_embed"],
            higher_is_better=True,
        )
    cold = result.get("cold_start")
    if cold:
        add("cold_start_s", "cold `rag ask` wall (s, median)", cold["median_s"], TARGETS["cold_start_s"])
        add(
            "gradio_on_ask_path", "gradio modules imported by `rag ask`", float(cold["imports"]["gradio_imported"]), 0.0
        )
    for row in result.get("scale") or []:
        n = row["size"]
        # Judged without the chunk cache: the bench's repeated questions would flatter it at scale.
        worst = row.get("ours_uncached", row["ours"])
        add(
            f"scale_{n}_median_ms",
            f"{n:,}: warm ask median, no chunk cache (ms)",
            worst["median_ms"],
            TARGETS["scale_median_ms"],
        )
        add(f"scale_{n}_peak_rss_mb", f"{n:,}: peak RSS (MB)", row["peak_rss_mb"], TARGETS["scale_peak_rss_mb"])
    res = result.get("resume")
    if res and res.get("interrupted"):
        add("resume_ok", "killed ingest resumes to the same chunks", float(bool(res["ok"])), 1.0, higher_is_better=True)
    return out


def _f(v: float, digits: int = 1) -> str:
    return f"{v:,.{digits}f}"


def format_table(result: Mapping[str, Any], markdown: bool = False) -> str:
    """The benchmark's one table: every figure, its target and PASS/MISS."""
    rows: list[tuple[str, str, str, str]] = []
    status = {t["id"]: ("PASS" if t["pass"] else "MISS") for t in result.get("targets", [])}

    def add(label: str, value: str = "", target: str = "", key: str = "") -> None:
        rows.append((label, value, target, status.get(key, "")))

    def ms(s: Mapping[str, float]) -> str:
        return f"{_f(s['median_ms'])} / {_f(s['p95_ms'])} ms"

    lat = result.get("latency")
    if lat:
        r, ph = lat["ratios"], lat.get("ours_phases_median_ms", {})
        add(f"seed corpus: {lat['chunks']} chunks (llama-index: {lat['baseline_nodes']} nodes), {lat['repeats']} asks")
        add("  warm ask, ours: median / p95", ms(lat["ours"]))
        add("    of which embed / retrieve / answer", " / ".join(_f(ph.get(k, 0.0)) for k in PHASES) + " ms")
        if "ours_uncached" in lat:
            add(
                "  ours with caches cleared before each ask; / llama-index",
                f"{ms(lat['ours_uncached'])}; {r['ours_uncached_over_baseline']:.2f}×",
            )
        add("  llama-index retrieve(), top 5: median / p95", ms(lat["baseline"]))
        add("  floor, embed + store.query(5): median / p95", ms(lat["floor"]))
        add("  floor, embed + raw Chroma query(5): median / p95", ms(lat["floor_raw"]))
        add("  query embedding alone: median / p95", ms(lat["embed"]))
        add("  ours / llama-index (medians)", f"{r['ours_over_baseline']:.2f}×", "≤ 1.00×", "ours_over_baseline")
        add("  ours / floor (medians)", f"{r['ours_over_floor']:.2f}×", "≤ 2.00×", "ours_over_floor")
        add("  ours p95 / median", f"{r['p95_over_median']:.2f}×", "≤ 2.00×", "p95_over_median")
    ing = result.get("ingest")
    if ing:
        add(f"seed ingest: {ing['documents']} documents, {ing['chunks']} chunks")
        add(
            "  fresh store: incl. model load / model loaded",
            f"{_f(ing['with_model_load_s'], 2)} / {_f(ing['model_loaded_s'], 2)} s",
        )
        add(
            "  chunks/s: pipeline / raw embed / raw embed+spans",
            f"{_f(ing['chunks_per_s'])} / {_f(ing['raw_embed_chunks_per_s'])} / "
            f"{_f(ing['raw_embed_with_spans_chunks_per_s'])}",
        )
        add("  pipeline / raw embedder", f"{ing['ratio_vs_raw_embed']:.2f}", "≥ 0.85", "ingest_over_raw_embed")
        ph = ing["phases_s"]
        total = ph["total"] or 1.0
        add("  phases", ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in list(ph["top"].items())[:4]))
        base = result.get("baseline")
        if base:
            add("  llama-index indexing of the same seeds", f"{_f(base['index_s'], 2)} s ({base['nodes']} nodes)")
    cold = result.get("cold_start")
    if cold:
        imp = cold["imports"]
        add("cold start")
        add(
            f"  `rag ask` fresh process, median of {cold['runs']}",
            f"{_f(cold['median_s'], 2)} s (min {_f(cold['min_s'], 2)})",
            "≤ 2.50 s",
            "cold_start_s",
        )
        top = ", ".join(
            f"{p['package']} {_f(p['cumulative_ms'], 0)}" for p in imp["top_packages"][:4] if p["package"] != "rag"
        )
        add("  imports on the ask path (ms)", f"{_f(imp['total_ms'], 0)} in all; {top}")
        yes = {True: "yes", False: "no"}
        add(
            "  gradio / llama-index imported by `rag ask`",
            f"{yes[imp['gradio_imported']]} / {yes[imp['llama_index_imported']]}",
            "gradio: no",
            "gradio_on_ask_path",
        )
        add("  `rag --help`", f"{_f(cold['help_median_s'], 2)} s")
    for row in result.get("scale") or []:
        n = row["size"]
        add(f"scale {n:,}: {row['chunks']:,} chunks, {row['documents']:,} documents")
        ingest = f"{_f(row['ingest_s'])} s, {_f(row['ingest_chunks_per_s'])} chunks/s"
        if row.get("skipped_documents"):
            ingest += (
                f" (resumed: {row['skipped_documents']:,} documents already in the store, "
                f"{row['embedded_chunks']:,} chunks embedded now)"
            )
        add("  ingest", ingest)
        if "ours_uncached" not in row:  # a result written before the chunk cache
            add("  warm ask: median / p95", ms(row["ours"]), "median ≤ 25 ms", f"scale_{n}_median_ms")
        else:
            add("  warm ask, chunk cache warm: median / p95", ms(row["ours"]))
            add(
                "  warm ask, caches cleared before each: median / p95",
                ms(row["ours_uncached"]),
                "median ≤ 25 ms",
                f"scale_{n}_median_ms",
            )
        add(
            "    floor median; ours embed / retrieve / answer",
            f"{_f(row['floor']['median_ms'])}; "
            + " / ".join(_f(row["ours_phases_median_ms"].get(k, 0.0)) for k in PHASES)
            + " ms",
        )
        add(
            "  peak RSS: ingest / lexical build / asks (MB)",
            " / ".join(_f(row[k], 0) for k in ("peak_rss_ingest_mb", "peak_rss_lexical_mb", "peak_rss_ask_mb")),
            "≤ 1,536 MB",
            f"scale_{n}_peak_rss_mb",
        )
        add(
            "  store on disk / lexical build / cold `rag ask`",
            f"{_f(row['store_mb'])} MB / {_f(row['lexical_build_s'], 2)} s / {_f(row['cold_ask_s'], 2)} s",
        )
    res = result.get("resume")
    if res:
        value = "ingest finished before the kill; not checked"
        if res.get("interrupted"):
            value = (
                f"killed {_f(res['killed_after_s'])} s after the first commit; the rerun embedded "
                f"{res['rerun_embedded_chunks']:,} of {res['expected_chunks']:,} chunks, ending with {res['chunks']:,}"
            )
        add(f"resume after SIGKILL mid-ingest ({res['size']:,})", value, "same chunks", "resume_ok")
    scale = list(result.get("scale") or [])
    steps = [growth([a, b]) for a, b in itertools.pairwise(scale)]
    if len(scale) > 2:
        steps.append(growth(scale))
    for g in steps:
        if not g:
            continue
        shown = (
            "ingest_s_per_chunk",
            "ask_median_ms",
            "ask_uncached_median_ms",
            "retrieve_median_ms",
            "lexical_build_s",
            "peak_rss_mb",
        )
        parts = ", ".join(f"{k} ×{g[k]['factor']:.2f}" for k in shown if k in g)
        span = f"{g['chunks']['from']:,.0f} → {g['chunks']['to']:,.0f}"
        add(f"growth, {span} chunks (×{g['chunks']['factor']:.1f})", parts)
    return _render(["measurement", "value", "target", ""], rows, markdown)


def _render(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|"]
        for r in rows:
            cells = [c.replace("|", "\\|") for c in r]
            if not any(cells[1:]):
                cells[0] = f"**{cells[0].strip()}**"
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    widths[1] = min(widths[1], 78)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(out) + "\n"


# -- the run ----------------------------------------------------------------------------------------
def run_bench(
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    repeats: int | None = None,
    quick: bool = False,
    skip_scale: bool = False,
    seeds: Path | None = None,
    workdir: Path | None = None,
    cold_runs: int = 5,
    resume: bool = False,
    resume_check: bool = True,
    quiet: bool = False,
    command: str = "rag bench",
) -> dict[str, Any]:
    """Run every measurement and return the result (see the module docstring)."""
    from rag.settings import Settings

    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t_start = time.perf_counter()
    seeds = Path(seeds or Settings().ingest.seeds_path).resolve()
    questions = _questions()
    repeats = repeats or (50 if quick else 2 * len(questions))
    warmup = min(10, max(2, repeats // 10))
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="rag-bench-")) if workdir is None else workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "started": started,
        "command": command,
        "machine": _machine() | {"load_at_start": _load()},
        "versions": _versions(),
        "code": _code_version(),
        "seeds": str(seeds),
        "settings": {
            "repeats": repeats,
            "warmup": warmup,
            "quick": quick,
            "cold_runs": cold_runs,
            "sizes": list(sizes),
        },
    }
    try:
        _say(f"work folder {work}; {repeats} timed asks per system", quiet)
        # The seed-corpus measurements always start from empty stores (a reused --workdir keeps
        # only the synthetic corpora and, with --resume, the scale stores).
        for old in work.glob("ingest-*"):
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(work / "baseline-chroma", ignore_errors=True)
        ingest, pipe = bench_ingest(seeds, work, 1 if quick else 3, quiet)
        result["ingest"] = ingest
        pipe.warm()
        _say("warm latency: ours vs llama-index vs floor …", quiet)
        result["latency"], result["baseline"] = bench_latency(pipe, seeds, work, questions, repeats, warmup)
        store_path = pipe.settings.store.path
        pipe.close()
        _say("cold start …", quiet)
        result["cold_start"] = bench_cold(store_path, cold_runs)
        if not (quick or skip_scale) and sizes:
            rows, resumed = bench_scale(
                sorted(sizes), seeds, work, questions, repeats, warmup, resume, resume_check, quiet
            )
            result["scale"] = rows
            result["resume"] = resumed
            result["growth"] = growth(rows)
        else:
            result["scale"] = []
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_at_end"] = _load()
    result["wall_s"] = time.perf_counter() - t_start
    result["targets"] = evaluate_targets(result)
    return result


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "").replace("k", "000")) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"sizes must be numbers like 1000,10000: {text!r}") from exc
    if any(n < 10 for n in sizes):
        raise argparse.ArgumentTypeError("every size must be at least 10 chunks")
    return sizes


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        metavar="N,N",
        help="synthetic corpus sizes in chunks (default 1000,10000; 100000 is opt-in: about 30 min to ingest)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, metavar="N", help="timed asks per system (default 2 × questions)"
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="where to write the JSON result")
    p.add_argument("--quick", action="store_true", help="seed-corpus measurements only (a smoke run)")
    p.add_argument("--skip-scale", action="store_true", help="no synthetic corpora")
    p.add_argument("--cold-runs", type=int, default=5, metavar="N", help="fresh `rag ask` processes timed (default 5)")
    p.add_argument("--seeds", type=Path, default=None, metavar="DIR", help="seed corpus (default: the settings')")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep corpora and stores here (default: a temporary folder, deleted afterwards)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the scale stores in --workdir (continue an interrupted ingest instead of starting afresh)",
    )
    p.add_argument("--no-resume-check", action="store_true", help="skip the kill-and-resume check")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)


def register(subparsers: Any) -> None:
    """Entry point of the ``rag.commands`` group: adds ``rag bench``."""
    p = subparsers.add_parser(
        "bench",
        help="measure latency, ingest, cold start and scaling against llama-index and the floor",
        description="Run the performance benchmark, print a table with targets, write JSON.",
    )
    _add_arguments(p)
    p.set_defaults(handler=run_cli)


def _command_line() -> str:
    prog = Path(sys.argv[0]).name if sys.argv else ""
    if prog == "rag":
        return shlex.join(["rag", *sys.argv[1:]])
    if prog in ("bench.py", "__main__.py", "-m") or prog.endswith("bench.py"):
        return shlex.join(["python", "-m", "eval.bench", *sys.argv[1:]])
    return "eval.bench.main (in-process)"


def run_cli(args: argparse.Namespace) -> int:
    """``rag bench``: run, print the table, write the JSON."""
    if args.child:
        result = scale_child(json.loads(args.child))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    if args.resume and args.workdir is None:
        print("bench: error: --resume needs --workdir (where the interrupted stores are)", file=sys.stderr)
        return 2
    result = run_bench(
        sizes=args.sizes,
        repeats=args.repeats,
        quick=args.quick,
        skip_scale=args.skip_scale,
        seeds=args.seeds,
        workdir=args.workdir,
        cold_runs=max(1, args.cold_runs),
        resume=args.resume,
        resume_check=not args.no_resume_check,
        quiet=args.quiet,
        command=_command_line(),
    )
    path = args.json or REPORTS_DIR / f"bench-{re.sub(r'[-:]', '', result['started'])}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    m, code = result["machine"], result["code"]
    print(format_table(result, markdown=args.markdown), end="")
    changed = f" + uncommitted {', '.join(code['changed'])}" if code["changed"] else ""
    print(
        f"\n{m['cpus']} cores ({m['cpu_model'] or 'unknown CPU'}), load {m['load_at_start']} → {m['load_at_end']}; "
        f"commit {code['commit']}{changed}; {result['wall_s']:.0f} s; JSON: {path}"
    )
    missed = [t["id"] for t in result["targets"] if not t["pass"]]
    print("targets: all met" if not missed else f"targets missed: {', '.join(missed)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eval.bench``: the same as ``rag bench``."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    p = argparse.ArgumentParser(prog="python -m eval.bench", description="Run the performance benchmark.")
    _add_arguments(p)
    return run_cli(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
