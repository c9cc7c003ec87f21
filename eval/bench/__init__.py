"""The performance benchmark: ``rag bench`` (or ``python -m eval.bench``).

Every figure of issue #6, measured in one run on this machine, side by side with a plain
llama-index pipeline and the physical floor, each with its target and PASS/MISS:

* **Warm answer latency** on the seed corpus: ``Pipeline.ask(q)`` over the questions of
  ``eval/questions.jsonl``, interleaved (same process, rotating order) with the llama-index
  baseline — ``VectorStoreIndex`` over the same seeds, default ``SentenceSplitter``, the same ONNX
  embedder (:class:`rag.integrations.llama_index.OnnxMiniLMEmbedding`), ``ChromaVectorStore`` on a
  ``PersistentClient``, ``as_retriever(similarity_top_k=5).retrieve(q)`` — and with the floor:
  one query embedding plus one top-5 query of our chunk collection (through our store layer, ids
  then payloads as retrieval reads them, and through the raw Chroma collection). Warm-ups first;
  medians and p95.
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

The package, in the order a run goes: :mod:`~eval.bench.common` (timing, the machine, settings),
:mod:`~eval.bench.ingest`, :mod:`~eval.bench.latency`, :mod:`~eval.bench.cold`,
:mod:`~eval.bench.corpus` and :mod:`~eval.bench.child` (the scale benchmark's corpora and child
processes), :mod:`~eval.bench.scale`, :mod:`~eval.bench.targets` and :mod:`~eval.bench.report` (the
table); the run and the command line are here.

Only the standard library is imported at module level, so ``rag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.bench.child import RESULT_PREFIX, scale_child
from eval.bench.cold import bench_cold, parse_importtime
from eval.bench.common import REPORTS_DIR, bench_questions, code_version, load_avg, machine, say, summarize
from eval.bench.corpus import generate_corpus, synthetic_document
from eval.bench.ingest import bench_ingest
from eval.bench.latency import bench_latency
from eval.bench.report import format_table
from eval.bench.scale import bench_scale, growth
from eval.bench.targets import TARGETS, evaluate_targets
from eval.report import package_versions

__all__ = [
    "DEFAULT_SIZES",
    "REPORTS_DIR",
    "TARGETS",
    "evaluate_targets",
    "format_table",
    "generate_corpus",
    "growth",
    "main",
    "parse_importtime",
    "register",
    "run_bench",
    "run_cli",
    "summarize",
    "synthetic_document",
]

DEFAULT_SIZES = (1000, 10000)


# -- the run ----------------------------------------------------------------------------------------
# Long but linear: the run header, then each benchmark in the order the README reports them.
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
    questions = bench_questions()
    repeats = repeats or (50 if quick else 2 * len(questions))
    warmup = min(10, max(2, repeats // 10))
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="rag-bench-")) if workdir is None else workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "started": started,
        "command": command,
        "machine": machine() | {"load_at_start": load_avg()},
        "versions": package_versions(),
        "code": code_version(),
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
        say(f"work folder {work}; {repeats} timed asks per system", quiet)
        # The seed-corpus measurements always start from empty stores (a reused --workdir keeps
        # only the synthetic corpora and, with --resume, the scale stores).
        for old in work.glob("ingest-*"):
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(work / "baseline-chroma", ignore_errors=True)
        ingest, pipe = bench_ingest(seeds, work, 1 if quick else 3, quiet)
        result["ingest"] = ingest
        pipe.warm()
        say("warm latency: ours vs llama-index vs floor …", quiet)
        result["latency"], result["baseline"] = bench_latency(pipe, seeds, work, questions, repeats, warmup)
        store_path = pipe.settings.store.path
        pipe.close()
        say("cold start …", quiet)
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
    result["machine"]["load_at_end"] = load_avg()
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
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed (default: report only, exit 0)")
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
    if args.check:
        print(f"check: {'FAILED' if missed else 'passed'}")
        return 1 if missed else 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eval.bench``: the same as ``rag bench``."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    p = argparse.ArgumentParser(prog="python -m eval.bench", description="Run the performance benchmark.")
    _add_arguments(p)
    return run_cli(p.parse_args(argv))
