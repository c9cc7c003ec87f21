"""Conservative cleaning: drop whole lines of web boilerplate, unwrap markdown links, keep a record.

Only whole lines are ever dropped, and only when a rule matches the entire line (or, for a
masthead in another script, when the line sits before the article's first paragraph). Every
dropped line is returned with its rule so users can inspect it (``rag sources --show-removed``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.types import RemovedLine

__all__ = ["Cleaned", "clean_text", "unwrap_markup"]

_RULES_PATH = Path(__file__).parents[1] / "data" / "boilerplate.json"
_MD_LINK = re.compile(r"\[([^\[\]\n]+)\]\((?:#[^)\s]*|[a-zA-Z][a-zA-Z0-9+.-]*://[^)\s]*|/[^)\s]*)\)")
_MD_ESCAPE = re.compile(r"\\+([$*_#])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\ufeff]")


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    header_only: bool
    max_words: int | None


@dataclass(frozen=True)
class Cleaned:
    """Cleaned text plus the lines removed from it."""

    text: str
    removed: tuple[RemovedLine, ...]


@lru_cache(maxsize=4)
def _rules(path: Path = _RULES_PATH) -> tuple[_Rule, ...]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        _Rule(
            name=r["name"],
            pattern=re.compile(r"(?:" + r["pattern"] + r")", 0 if r.get("case_sensitive") else re.IGNORECASE),
            header_only=bool(r.get("header_only")),
            max_words=r.get("max_words"),
        )
        for r in data["rules"]
    )


def unwrap_markup(text: str) -> str:
    """Replace markdown links ``[text](url)`` by their text and drop markdown escapes before $ * _ #."""
    return _MD_ESCAPE.sub(r"\1", _MD_LINK.sub(r"\1", text))


def _script(text: str) -> str:
    latin = other = 0
    for ch in text:
        if ch.isalpha():
            if "LATIN" in unicodedata.name(ch, ""):
                latin += 1
            else:
                other += 1
    if latin + other == 0:
        return "none"
    return "latin" if latin >= other else "other"


# A line of a text framed in a box of asterisks ("*  The entire risk ... is with You.  *"), or the
# box's border or blank inner line ("****", "*    *").
_BOXED = re.compile(r"\s*\*(?:\s+(.*?))?\s+\*\s*|\s*\*{3,}\s*")
_BOX_MIN_LINES = 3


def _unbox(lines: list[str]) -> list[str]:
    """Lines framed in a box of asterisks, with the frame taken off: framed, each line would read as
    a list item ("* …") and a boxed paragraph (a licence's disclaimer) would never be one sentence."""
    out = list(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _BOXED.fullmatch(lines[j]):
            j += 1
        if j - i >= _BOX_MIN_LINES:
            for k in range(i, j):
                m = _BOXED.fullmatch(lines[k])
                out[k] = (m.group(1) or "") if m else lines[k]
        i = max(j, i + 1)
    return out


def _is_prose(line: str) -> bool:
    # The article proper starts at the first paragraph-like line: long, with sentence punctuation.
    return len(line.split()) >= 12 and bool(re.search(r"[.!?]", line))


def clean_text(raw: str, rules_path: Path | None = None) -> Cleaned:
    """Normalise and clean ``raw``; returns the cleaned text and what was removed."""
    rules = _rules(rules_path or _RULES_PATH)
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).replace("\u00a0", " ")
    text = unwrap_markup(text)
    lines = _unbox(text.split("\n"))
    main_script = _script(text)
    removed: list[RemovedLine] = []
    kept: list[str] = []
    in_header = True
    prev_kept = ""
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            kept.append("")
            continue
        if in_header and _is_prose(stripped):
            in_header = False
        rule = _match(stripped, rules, in_header)
        if rule is None and in_header and main_script == "latin" and _script(stripped) == "other":
            rule = "masthead-other-script"
        if rule is None and stripped == prev_kept:
            rule = "repeated-line"
        if rule is not None:
            removed.append(RemovedLine(line=no, text=stripped, rule=rule))
            continue
        kept.append(line.rstrip())
        prev_kept = stripped
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return Cleaned(text=cleaned, removed=tuple(removed))


def _match(line: str, rules: tuple[_Rule, ...], in_header: bool) -> str | None:
    for rule in rules:
        if rule.header_only and not in_header:
            continue
        if rule.max_words is not None and len(line.split()) > rule.max_words:
            continue
        if rule.pattern.fullmatch(line):
            return rule.name
    return None
