"""The evaluation runner: ``rag eval [--json] [--compare] [--questions FILE] [--type T] [--mode M] [--store]``.

Runs the question set through the public API (``rag.Pipeline``) — by default on a fresh temporary
store of the seed corpus, so results do not depend on what else is in your store — scores every
answer, prints a table (overall, then per question type), and writes
``eval/reports/<UTC timestamp>.json`` and ``.md`` stamped with the settings hash and package
versions, with every failure spelled out. ``--compare`` also runs the plain llama-index baseline
(:mod:`eval.baseline`) on the same questions and scores it with the same code.

The pieces: :mod:`eval.questions` (question sets, the gate), :mod:`eval.scoring` (what each
metric is computed over), :mod:`eval.report` (tables, JSON and Markdown reports), :mod:`eval.baseline`.

Only the standard library is imported at module level, so ``rag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.corpora import CORPORA, Corpus
from eval.questions import DEV_PATH, QUESTIONS_PATH, THRESHOLDS_PATH, check_thresholds, load_questions, load_thresholds
from eval.report import REPORTS_DIR, EvalRun, format_markdown, format_table, package_versions, write_reports
from eval.scoring import METRICS, ItemResult, Judge, SystemRun, aggregate, score_item, short

if TYPE_CHECKING:
    from rag.protocols import Embedder
    from rag.settings import Settings
    from rag.types import Answer

__all__ = [
    "METRICS",
    "QUESTIONS_PATH",
    "REPORTS_DIR",
    "THRESHOLDS_PATH",
    "EvalRun",
    "ItemResult",
    "SystemRun",
    "aggregate",
    "check_thresholds",
    "format_markdown",
    "format_table",
    "load_questions",
    "load_thresholds",
    "main",
    "package_versions",
    "register",
    "run_suite",
    "score_item",
    "write_reports",
]


def _progress(items: Sequence[Mapping[str, Any]], desc: str, enabled: bool) -> Iterator[Mapping[str, Any]]:
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, unit="q", file=sys.stderr, disable=not enabled, leave=False)


def _answer_all(
    items: Sequence[Mapping[str, Any]],
    ask: Callable[..., Answer],
    source_text: Callable[[str], str],
    judge: Judge,
    desc: str,
    progress: bool,
) -> list[ItemResult]:
    """Ask one system every question (with its history), timing each call, and score the answers."""
    out: list[ItemResult] = []
    for item in _progress(items, desc, progress):
        t = time.perf_counter()
        answer = ask(str(item["question"]), history=item.get("history"))
        ms = (time.perf_counter() - t) * 1000
        out.append(score_item(item, answer, ms, source_text, judge))
    return out


def _llm_mode(settings: Settings) -> bool:
    mode = settings.answer.mode
    return mode == "llm" or (mode == "auto" and settings.llm.configured())


def _run_citation_engine(
    items: Sequence[Mapping[str, Any]],
    settings: Settings,
    embedder: Embedder,
    judge: Judge,
    progress: bool,
    stack: contextlib.ExitStack,
) -> SystemRun:
    """llama-index's CitationQueryEngine on the baseline's index, with our LLM endpoint, scored alike."""
    from eval.baseline import CitationBaseline
    from rag.integrations.llama_index import OpenAICompatibleLLM

    engine = CitationBaseline(settings.ingest.seeds_path, llm=OpenAICompatibleLLM(settings.llm), embedder=embedder)
    stack.callback(engine.close)
    results = _answer_all(items, engine.ask, engine.source_text, judge, "rag eval: CitationQueryEngine", progress)
    return SystemRun.from_items("llama-index CitationQueryEngine", results)


def run_suite(
    items: Sequence[Mapping[str, Any]],
    settings: Settings | None = None,
    *,
    fresh_store: bool = True,
    compare: bool = False,
    progress: bool = False,
    questions: str = "",
    extra_docs: Sequence[Path] = (),
) -> EvalRun:
    """Run the questions through our pipeline (and the baseline with ``compare``) and score both.

    ``fresh_store``: ingest the seed corpus (``settings.ingest.seeds_path``) into a temporary
    store; otherwise use the configured store, ingesting the seeds only if it is empty.
    ``extra_docs``: files or folders ingested beside the seeds (another corpus's documents).
    """
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    t_start = time.perf_counter()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    settings = (settings or Settings()).model_copy(deep=True)
    with contextlib.ExitStack() as stack:
        if fresh_store:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rag-eval-")))
            settings.store.path = tmp / "store"
            settings.store.cache_dir = None
            store_desc = f"fresh temporary store of {settings.ingest.seeds_path}"
        else:
            store_desc = str(settings.store.path)
        pipe = Pipeline.from_settings(settings)
        pipe.ensure_corpus()
        if extra_docs:
            pipe.ingest([str(p) for p in extra_docs])
        pipe.warm()
        judge = pipe.judge.supports
        docs: dict[str, str] = {}

        def our_text(source: str) -> str:
            if source not in docs:
                docs[source] = pipe.document(source).text
            return docs[source]

        ours = _answer_all(items, pipe.ask, our_text, judge, "rag eval: ours", progress)

        base_run: SystemRun | None = None
        cite_run: SystemRun | None = None
        if compare:
            from eval.baseline import Baseline

            baseline = Baseline(settings.ingest.seeds_path, embedder=pipe.embedder)
            stack.callback(baseline.close)
            baseline.retriever.retrieve("warm up")
            base = _answer_all(items, baseline.ask, baseline.source_text, judge, "rag eval: baseline", progress)
            base_run = SystemRun.from_items("baseline (llama-index defaults)", base)
            if _llm_mode(settings):
                cite_run = _run_citation_engine(items, settings, pipe.embedder, judge, progress, stack)

    secrets = {"llm": {"api_key"}, "chroma": {"auth_token"}, "ui": {"password"}}
    return EvalRun(
        ours=SystemRun.from_items("ours", ours),
        baseline=base_run,
        citation_engine=cite_run,
        settings_hash=settings.fingerprint(),
        settings=settings.model_dump(mode="json", exclude=secrets),
        versions=package_versions(),
        questions=questions,
        mode=settings.answer.mode,
        store=store_desc,
        started=started,
        wall_s=time.perf_counter() - t_start,
    )


# -- command line ------------------------------------------------------------------------------
def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    p.add_argument("--compare", action="store_true", help="also run the plain llama-index baseline, side by side")
    p.add_argument(
        "--questions", type=Path, default=QUESTIONS_PATH, metavar="FILE", help="question set (JSONL; default: ours)"
    )
    p.add_argument(
        "--type", action="append", dest="types", metavar="T", help="only questions of this type (repeatable)"
    )
    p.add_argument(
        "--mode",
        choices=("auto", "extractive", "llm"),
        default=None,
        help="answer mode (default: the settings' RAG_ANSWER_MODE, 'auto')",
    )
    p.add_argument(
        "--store", action="store_true", help="use the configured store instead of a fresh one with the seed corpus"
    )
    p.add_argument("--report-dir", type=Path, default=REPORTS_DIR, metavar="DIR", help="where reports are written")
    p.add_argument("--no-report", action="store_true", help="do not write report files")
    p.add_argument("--check", action="store_true", help="exit 1 if a metric is below its floor in eval/thresholds.json")
    p.add_argument(
        "--corpus",
        action="append",
        dest="corpora",
        metavar="NAME",
        help="extra corpus of eval/corpora to run beside the seed questions (repeatable; default: all of them "
        "when the default question set runs; 'none' for the seeds only)",
    )
    p.add_argument(
        "--dev",
        action="store_true",
        help="run the development question sets (eval/dev.jsonl and each corpus's dev.jsonl), which "
        "calibration fits on, instead of the held-out ones",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def register(subparsers: Any) -> None:
    """Entry point of the ``rag.commands`` group: adds ``rag eval``."""
    p = subparsers.add_parser(
        "eval",
        help="run the evaluation suite (add --compare for the llama-index baseline)",
        description="Run the question set through the pipeline, print metrics, write a report.",
    )
    _add_arguments(p)
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """``rag eval``: run, print, write reports, optionally check the gate."""
    from rag.errors import InputError
    from rag.settings import Settings

    questions = args.questions
    if args.dev:
        if Path(questions).resolve() != QUESTIONS_PATH.resolve():
            raise InputError("--dev runs the development question sets; leave out --questions")
        if args.check:
            raise InputError("the gate's floors (eval/thresholds.json) are held-out figures; leave out --dev")
        questions = DEV_PATH
    items = load_questions(questions, args.types)
    settings = Settings()
    if args.mode:
        settings.answer.mode = args.mode
    run = run_suite(
        items,
        settings,
        fresh_store=not args.store,
        compare=args.compare,
        progress=not args.quiet,
        questions=str(questions),
    )
    for corpus in _chosen_corpora(args):
        path = corpus.dev if args.dev else corpus.questions
        if not path.is_file():
            continue
        sub_items = [it for it in load_questions(path) if not args.types or it["type"] in args.types]
        if not sub_items:
            continue
        run.corpora[corpus.name] = run_suite(
            sub_items,
            settings,
            fresh_store=True,
            compare=False,  # the baseline indexes the seed folder only: it would score 0 on another corpus
            progress=not args.quiet,
            questions=str(path),
            extra_docs=[corpus.docs],
        )
    paths: tuple[Path, Path] | None = None
    if not args.no_report:
        paths = write_reports(run, args.report_dir)
    if args.json:
        out = run.summary()
        out["report"] = {"json": str(paths[0]), "md": str(paths[1])} if paths else None
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(format_table(run), end="")
        failures = [r for r in run.ours.items if r.problems()]
        print(f"\n{len(failures)} of {len(run.ours.items)} questions with problems:")
        for r in failures:
            print(f"  {r.id} ({r.type}) {r.question}")
            print(f"      answer: {short(r.answer, 200)}")
            for p in r.problems():
                print(f"      - {p}")
        modes = ", ".join(f"{k} {v}" for k, v in Counter(r.mode for r in run.ours.items).items())
        print(f"\nsettings {run.settings_hash} · mode {run.mode} (answers: {modes}) · {run.wall_s:.1f} s")
        if paths:
            print(f"report: {paths[0]} and {paths[1].name}")
    if args.check:
        thresholds = load_thresholds()
        drops = check_thresholds(run.ours.metrics, thresholds)
        for name, sub in run.corpora.items():
            gate = thresholds.get("corpora", {}).get(name)
            if gate:
                drops += [f"{name}: {d}" for d in check_thresholds(sub.ours.metrics, gate)]
        for d in drops:
            print(f"rag eval: below the gate: {d}", file=sys.stderr)
        if drops:
            print(f"gate: FAILED: {len(drops)} metric(s) below their floors in {THRESHOLDS_PATH.name}")
        else:
            print(f"gate: passed: every gated metric at or above its floor in {THRESHOLDS_PATH.name}")
        return 1 if drops else 0
    return 0


def _chosen_corpora(args: argparse.Namespace) -> list[Corpus]:
    """The extra corpora to run: those named with ``--corpus``, else all when the default seed
    questions run on a fresh store (a custom question file or ``--store`` means seeds only)."""
    from rag.errors import InputError

    names = args.corpora
    if names is None:
        default = Path(args.questions).resolve() == QUESTIONS_PATH.resolve() and not args.store
        return list(CORPORA.values()) if default else []
    if "none" in names:
        return []
    unknown = [n for n in names if n not in CORPORA]
    if unknown:
        raise InputError(f"no corpus {', '.join(unknown)} in eval/corpora; the corpora are: {', '.join(CORPORA)}")
    return [CORPORA[n] for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eval.runner``: the same as ``rag eval``."""
    import os

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    p = argparse.ArgumentParser(prog="python -m eval.runner", description="Run the evaluation suite.")
    _add_arguments(p)
    args = p.parse_args(argv)
    from rag.errors import InputError, RagError

    try:
        return run_command(args)
    except InputError as exc:
        print(f"eval: error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"eval: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
