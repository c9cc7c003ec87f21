"""Entity name variants (ISKP = ISIS-K = IS-K …), kept as data in ``rag/data/aliases.json``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["Aliases", "load_aliases"]

DEFAULT_PATH = Path(__file__).parents[1] / "data" / "aliases.json"

# A name's hyphen as typed or pasted: hyphen-minus, hyphen, non-breaking hyphen, figure dash, en dash
# ("ISIS–K" from a phone's smart punctuation, "ISIS‑K" from a word processor). The em dash sets off a
# clause, not a name's parts, and stays out.
_OTHER_DASHES = "\u2010\u2011\u2012\u2013"
_DASHES = r"\-" + _OTHER_DASHES  # inside a character class
_DASH = f"[{_DASHES}]"
_APOSTROPHE = "['\u2019]"
_TYPOGRAPHIC = str.maketrans({c: "-" for c in _OTHER_DASHES} | {"\u2019": "'"})


@dataclass(frozen=True)
class _Group:
    canonical: str
    display: str
    also: tuple[str, ...]


class Aliases:
    """Finds name variants in text and maps them to canonical tokens or display names."""

    def __init__(self, data: dict[str, object]) -> None:
        groups = data.get("groups", [])
        assert isinstance(groups, list)
        self._groups: dict[str, _Group] = {}
        insensitive: list[tuple[str, str]] = []
        sensitive: list[tuple[str, str]] = []
        for g in groups:
            group = _Group(g["canonical"], g.get("display", g["canonical"]), tuple(g.get("also", ())))
            self._groups[group.canonical] = group
            exact = set(g.get("case_sensitive", ()))
            for v in g["variants"]:
                (sensitive if v in exact else insensitive).append((v, group.canonical))
        self._lookup_ci = {v.lower(): c for v, c in insensitive}
        self._lookup_cs = dict(sensitive)

        # Longest first so "ISIS-Khorasan" wins over "ISIS"; boundaries keep "IS" out of "ISLAND".
        def alternation(items: list[tuple[str, str]]) -> str:
            names = sorted({v for v, _ in items}, key=len, reverse=True)
            return "|".join(
                re.escape(n).replace(r"\-", _DASH).replace(r"\ ", rf"[\s{_DASHES}]+").replace("'", _APOSTROPHE)
                for n in names
            )

        parts = []
        if insensitive:
            parts.append(f"(?i:{alternation(insensitive)})")
        if sensitive:
            parts.append(alternation(sensitive))
        body = "|".join(sorted(parts, key=len, reverse=True)) if parts else r"(?!x)x"
        self._pattern = re.compile(rf"(?<![\w{_DASHES}])(?:{body})(?:{_APOSTROPHE}s)?(?![\w{_DASHES}])")

    def _canonical_of(self, match: str) -> str | None:
        name = re.sub(r"'s$", "", match.translate(_TYPOGRAPHIC))
        name = re.sub(r"[\s-]+", lambda m: "-" if "-" in m.group() else " ", name)
        if name in self._lookup_cs:
            return self._lookup_cs[name]
        key = name.lower()
        if key in self._lookup_ci:
            return self._lookup_ci[key]
        # Spacing/hyphen variants ("ISIS K" vs "ISIS-K").
        for variant, canon in self._lookup_ci.items():
            if re.sub(r"[\s-]", "", variant) == re.sub(r"[\s-]", "", key):
                return canon
        return None

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Every variant in ``text`` as (start, end, canonical)."""
        out = []
        for m in self._pattern.finditer(text):
            canon = self._canonical_of(m.group())
            if canon is not None:
                out.append((m.start(), m.end(), canon))
        return out

    def canonicalize(self, text: str) -> str:
        """Replace every variant by its canonical token (for lexical matching)."""
        pieces, pos = [], 0
        for a, b, canon in self.find(text):
            pieces.append(text[pos:a])
            pieces.append(f" {canon} ")
            pos = b
        pieces.append(text[pos:])
        return "".join(pieces)

    def entities(self, text: str) -> list[str]:
        """Canonical entities mentioned, in order of first mention."""
        seen: dict[str, None] = {}
        for _, _, canon in self.find(text):
            seen.setdefault(canon, None)
        return list(seen)

    def display(self, canonical: str) -> str:
        """The display form of a canonical entity ("iskp" → "ISIS-K (Islamic State Khorasan Province)")."""
        return self._groups[canonical].display

    def expansion_terms(self, text: str) -> list[str]:
        """Broader canonical terms implied by the entities in ``text``."""
        out: list[str] = []
        for canon in self.entities(text):
            out.extend(t for t in self._groups[canon].also if t not in out)
        return out

    def dense_query(self, text: str) -> str:
        """The question with each entity's first mention followed by its display form (for the embedder)."""
        pieces, pos, seen = [], 0, set()
        for _, b, canon in self.find(text):
            if canon in seen:
                continue
            seen.add(canon)
            pieces.append(text[pos:b])
            pieces.append(f" ({self._groups[canon].display})")
            pos = b
        pieces.append(text[pos:])
        return "".join(pieces)


@lru_cache(maxsize=8)
def load_aliases(path: Path | None = None) -> Aliases:
    """Load the alias table (the packaged one by default)."""
    return Aliases(json.loads((path or DEFAULT_PATH).read_text(encoding="utf-8")))
