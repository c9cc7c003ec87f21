"""The question sets and the regression gate: loading and validating ``eval/*.jsonl`` and ``thresholds.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["DEV_PATH", "QUESTIONS_PATH", "THRESHOLDS_PATH", "check_thresholds", "load_questions", "load_thresholds"]

HERE = Path(__file__).resolve().parent
QUESTIONS_PATH = HERE / "questions.jsonl"
#: The seed corpus's development questions: calibration fits on these, never on ``QUESTIONS_PATH``.
DEV_PATH = HERE / "dev.jsonl"
THRESHOLDS_PATH = HERE / "thresholds.json"


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
