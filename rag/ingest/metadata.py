"""Bibliographic metadata: curated sidecar first, then what the file format says, then the text itself."""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from pathlib import Path

from rag.text import STOPWORDS, words
from rag.types import Source

__all__ = ["SIDECAR_NAME", "extract_metadata", "load_sidecar", "merge", "parse_date"]

#: A JSON file beside the documents: {"file name": {"title": …, "publisher": …, "author": …, "date": …}}.
SIDECAR_NAME = "metadata.json"

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}  # fmt: skip
_MONTH_RE = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")"
_DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b"), "dmy"),
    (re.compile(r"\b(\d{1,2})[/ -](" + _MONTH_RE + r")[/ -](\d{4})\b", re.I), "d_mon_y"),
    (re.compile(r"\b(" + _MONTH_RE + r")\.? (\d{1,2}),? (\d{4})\b", re.I), "mon_d_y"),
]
_HEADER_LINES = 15


def load_sidecar(folder: Path) -> dict[str, Source]:
    """Curated metadata for the files of ``folder`` (empty when there is no sidecar)."""
    path = folder / SIDECAR_NAME
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    known = {f.name for f in fields(Source)}
    return {
        name: Source(**{k: v for k, v in entry.items() if k in known})
        for name, entry in data.items()
        if isinstance(entry, dict)
    }


def merge(*sources: Source) -> Source:
    """Field by field, the first known value wins."""
    out = Source()
    for src in reversed(sources):
        out = replace(out, **{f.name: getattr(src, f.name) for f in fields(Source) if getattr(src, f.name)})
    return out


def parse_date(line: str) -> str | None:
    """The first date written in ``line`` as YYYY-MM-DD (day first when ambiguous), or None."""
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.search(line)
        if not m:
            continue
        try:
            if kind == "ymd":
                y, mo, d = int(m[1]), int(m[2]), int(m[3])
            elif kind == "dmy":  # day first, as most of the world writes 12.05.2023
                d, mo, y = int(m[1]), int(m[2]), int(m[3])
            elif kind == "d_mon_y":
                d, mo, y = int(m[1]), _MONTHS[m[2].lower()], int(m[3])
            else:
                mo, d, y = _MONTHS[m[1].lower().rstrip(".")], int(m[2]), int(m[3])
        except (KeyError, ValueError):
            continue
        if 1 <= mo <= 12 and 1 <= d <= 31 and 1900 <= y <= 2100:
            return f"{y:04d}-{mo:02d}-{d:02d}"
    return None


def _language(text: str) -> str | None:
    ws = words(text[:5000])
    if len(ws) < 20:
        return None
    share = sum(w in STOPWORDS for w in ws) / len(ws)
    return "en" if share > 0.25 else None


def extract_metadata(text: str) -> Source:
    """Guess title, author, publisher, date and language from a cleaned text's first lines."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()][:_HEADER_LINES]
    title = author = publisher = date = None
    for ln in lines:
        n_words = len(ln.split())
        if author is None and (m := re.fullmatch(r"(?:By|Written by|Author:)\s+(.{3,60})", ln)):
            author = m[1].strip()
            continue
        if publisher is None and (m := re.fullmatch(r"(?:Issued by|Published by|Source:)\s+(.{2,80})", ln)):
            publisher = m[1].strip()
            continue
        if date is None and n_words <= 8 and (d := parse_date(ln)):
            date = d
            continue
        if title is None and 3 <= n_words <= 25 and not re.search(r"[.;]$", ln) and not parse_date(ln):
            title = ln
    return Source(title=title, author=author, publisher=publisher, date=date, language=_language(text))
