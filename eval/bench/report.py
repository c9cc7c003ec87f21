"""The benchmark's one table: every figure, its target and PASS/MISS (text or Markdown)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from eval.bench.common import PHASES
from eval.bench.scale import growth
from eval.report import render_table

__all__ = ["format_table"]


def num(v: float, digits: int = 1) -> str:
    """A number with thousands separators and ``digits`` decimals."""
    return f"{v:,.{digits}f}"


class _Rows:
    """The table's rows, each with the PASS/MISS of its target (when it has one)."""

    def __init__(self, targets: Sequence[Mapping[str, Any]]) -> None:
        self.rows: list[tuple[str, str, str, str]] = []
        self._status = {t["id"]: ("PASS" if t["pass"] else "MISS") for t in targets}

    def add(self, label: str, value: str = "", target: str = "", key: str = "") -> None:
        """One row: a label, its value, the target and the target's verdict (by target id)."""
        self.rows.append((label, value, target, self._status.get(key, "")))


def ms(s: Mapping[str, float]) -> str:
    """``median / p95 ms`` of a timing summary."""
    return f"{num(s['median_ms'])} / {num(s['p95_ms'])} ms"


def format_table(result: Mapping[str, Any], markdown: bool = False) -> str:
    """The benchmark's one table: every figure, its target and PASS/MISS."""
    t = _Rows(result.get("targets", []))
    if result.get("latency"):
        _latency_rows(t, result["latency"])
    if result.get("ingest"):
        _ingest_rows(t, result["ingest"], result.get("baseline"))
    if result.get("cold_start"):
        _cold_rows(t, result["cold_start"])
    for row in result.get("scale") or []:
        _scale_rows(t, row)
    if result.get("resume"):
        _resume_rows(t, result["resume"])
    _growth_rows(t, list(result.get("scale") or []))
    return render_table(["measurement", "value", "target", ""], t.rows, markdown=markdown) + "\n"


def _latency_rows(t: _Rows, lat: Mapping[str, Any]) -> None:
    r, ph = lat["ratios"], lat.get("ours_phases_median_ms", {})
    t.add(f"seed corpus: {lat['chunks']} chunks (llama-index: {lat['baseline_nodes']} nodes), {lat['repeats']} asks")
    t.add("  warm ask, ours: median / p95", ms(lat["ours"]))
    t.add("    of which embed / retrieve / answer", " / ".join(num(ph.get(k, 0.0)) for k in PHASES) + " ms")
    if "ours_uncached" in lat:
        t.add(
            "  ours with caches cleared before each ask; / llama-index",
            f"{ms(lat['ours_uncached'])}; {r['ours_uncached_over_baseline']:.2f}×",
        )
    t.add("  llama-index retrieve(), top 5: median / p95", ms(lat["baseline"]))
    t.add("  floor, embed + store top-5 (ids, then payloads): median / p95", ms(lat["floor"]))
    t.add("  floor, embed + raw Chroma query(5): median / p95", ms(lat["floor_raw"]))
    t.add("  query embedding alone: median / p95", ms(lat["embed"]))
    ci = lat.get("ratios_ci95", {})
    t.add("  ours / llama-index (medians)", _ratio(r, ci, "ours_over_baseline"), "≤ 1.00×", "ours_over_baseline")
    t.add("  ours / floor (medians)", _ratio(r, ci, "ours_over_floor"), "≤ 2.00×", "ours_over_floor")
    t.add("  ours p95 / median", f"{r['p95_over_median']:.2f}×", "≤ 2.00×", "p95_over_median")


def _ratio(ratios: Mapping[str, float], ci: Mapping[str, Sequence[float]], key: str) -> str:
    """A ratio of medians, with its paired-bootstrap 95 % interval when the run recorded one."""
    text = f"{ratios[key]:.2f}×"
    if key in ci:
        lo, hi = ci[key]
        text += f" (95% CI {lo:.2f}–{hi:.2f})"
    return text


def _ingest_rows(t: _Rows, ing: Mapping[str, Any], base: Mapping[str, Any] | None) -> None:
    t.add(f"seed ingest: {ing['documents']} documents, {ing['chunks']} chunks")
    t.add(
        "  fresh store: incl. model load / model loaded",
        f"{num(ing['with_model_load_s'], 2)} / {num(ing['model_loaded_s'], 2)} s",
    )
    t.add(
        "  chunks/s: pipeline / raw embed / raw embed+spans",
        f"{num(ing['chunks_per_s'])} / {num(ing['raw_embed_chunks_per_s'])} / "
        f"{num(ing['raw_embed_with_spans_chunks_per_s'])}",
    )
    t.add("  pipeline / raw embedder", f"{ing['ratio_vs_raw_embed']:.2f}", "≥ 0.85", "ingest_over_raw_embed")
    ph = ing["phases_s"]
    total = ph["total"] or 1.0
    t.add("  phases", ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in list(ph["top"].items())[:4]))
    if base:
        t.add("  llama-index indexing of the same seeds", f"{num(base['index_s'], 2)} s ({base['nodes']} nodes)")


def _cold_rows(t: _Rows, cold: Mapping[str, Any]) -> None:
    imp = cold["imports"]
    t.add("cold start")
    t.add(
        f"  `rag ask` fresh process, median of {cold['runs']}",
        f"{num(cold['median_s'], 2)} s (min {num(cold['min_s'], 2)})",
        "≤ 2.50 s",
        "cold_start_s",
    )
    top = ", ".join(
        f"{p['package']} {num(p['cumulative_ms'], 0)}" for p in imp["top_packages"][:4] if p["package"] != "rag"
    )
    t.add("  imports on the ask path (ms)", f"{num(imp['total_ms'], 0)} in all; {top}")
    yes = {True: "yes", False: "no"}
    t.add(
        "  gradio / llama-index imported by `rag ask`",
        f"{yes[imp['gradio_imported']]} / {yes[imp['llama_index_imported']]}",
        "gradio: no",
        "gradio_on_ask_path",
    )
    t.add("  `rag --help`", f"{num(cold['help_median_s'], 2)} s")


def _scale_rows(t: _Rows, row: Mapping[str, Any]) -> None:
    n = row["size"]
    t.add(f"scale {n:,}: {row['chunks']:,} chunks, {row['documents']:,} documents")
    ingest = f"{num(row['ingest_s'])} s, {num(row['ingest_chunks_per_s'])} chunks/s"
    if row.get("skipped_documents"):
        ingest += (
            f" (resumed: {row['skipped_documents']:,} documents already in the store, "
            f"{row['embedded_chunks']:,} chunks embedded now)"
        )
    t.add("  ingest", ingest)
    if "ours_uncached" not in row:  # a result written before the chunk cache
        t.add("  warm ask: median / p95", ms(row["ours"]), "median ≤ 25 ms", f"scale_{n}_median_ms")
    else:
        t.add("  warm ask, chunk cache warm: median / p95", ms(row["ours"]))
        t.add(
            "  warm ask, caches cleared before each: median / p95",
            ms(row["ours_uncached"]),
            "median ≤ 25 ms",
            f"scale_{n}_median_ms",
        )
    t.add(
        "    floor median; ours embed / retrieve / answer",
        f"{num(row['floor']['median_ms'])}; "
        + " / ".join(num(row["ours_phases_median_ms"].get(k, 0.0)) for k in PHASES)
        + " ms",
    )
    t.add(
        "  peak RSS: ingest / lexical build / asks (MB)",
        " / ".join(num(row[k], 0) for k in ("peak_rss_ingest_mb", "peak_rss_lexical_mb", "peak_rss_ask_mb")),
        "≤ 1,536 MB",
        f"scale_{n}_peak_rss_mb",
    )
    t.add(
        "  store on disk / lexical build / cold `rag ask`",
        f"{num(row['store_mb'])} MB / {num(row['lexical_build_s'], 2)} s / {num(row['cold_ask_s'], 2)} s",
    )


def _resume_rows(t: _Rows, res: Mapping[str, Any]) -> None:
    value = "ingest finished before the kill; not checked"
    if res.get("interrupted"):
        value = (
            f"killed {num(res['killed_after_s'])} s after the first commit; the rerun embedded "
            f"{res['rerun_embedded_chunks']:,} of {res['expected_chunks']:,} chunks, ending with {res['chunks']:,}"
        )
    t.add(f"resume after SIGKILL mid-ingest ({res['size']:,})", value, "same chunks", "resume_ok")


def _growth_rows(t: _Rows, scale: Sequence[Mapping[str, Any]]) -> None:
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
        t.add(f"growth, {span} chunks (×{g['chunks']['factor']:.1f})", parts)
