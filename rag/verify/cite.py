"""Citations are core logic: the marker format, the cannot-answer sentinel, and building, parsing,
stripping and renumbering ``[n]`` markers, fixed in this one module."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.text import split_sentences, starts_sentence
from rag.types import Chunk, Citation, Quote

__all__ = [
    "CANNOT_ANSWER",
    "CITATION_RE",
    "CitedSentence",
    "assemble",
    "citation_for",
    "cited_sentences",
    "defuse_markers",
    "is_cannot_answer",
    "marker",
    "parse_markers",
    "renumber",
    "strip_markers",
]

#: What the system says when the documents do not contain the answer (and the LLM's sentinel).
CANNOT_ANSWER = "I could not find this in the documents."

#: A citation marker: ``[3]``, or a group ``[1, 2]`` / ``[1][2]`` (each number parsed separately).
CITATION_RE = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SENTENCE_END = re.compile(r"([.!?…]+[\"'”’»)]*)\s*$")
# A run of markers; in an answer it closes a sentence, even one without terminal punctuation.
_MARKER_RUN = re.compile(rf"(?:[ \t]*{CITATION_RE.pattern})+")
# Markers opening a segment belong to the sentence before it.
_LEADING_MARKERS = re.compile(rf"^(?:\s*{CITATION_RE.pattern})+")


def marker(n: int) -> str:
    """The marker for source ``n``."""
    return f"[{n}]"


def is_cannot_answer(text: str) -> bool:
    """True when ``text`` is (or starts with) the cannot-answer sentinel."""
    norm = " ".join(strip_markers(text).split()).lower()
    return norm.startswith(CANNOT_ANSWER.lower().rstrip(".")) or norm in {"", "i don't know.", "i do not know."}


def parse_markers(text: str) -> list[int]:
    """Every cited number in ``text``, in order of appearance (repeats kept)."""
    out: list[int] = []
    for m in CITATION_RE.finditer(text):
        out.extend(int(x) for x in re.split(r"\s*,\s*", m.group(1)))
    return out


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (sentence without markers, cited numbers); markers bind to the sentence before them."""
    out: list[tuple[str, list[int]]] = []
    for a, b in split_sentences(text):
        for seg in _after_markers(text[a:b]):
            lead = _LEADING_MARKERS.match(seg)
            if lead and out:
                out[-1][1].extend(parse_markers(lead.group()))
                seg = seg[lead.end() :]
            if sentence := strip_markers(seg):
                out.append((sentence, parse_markers(seg)))
    return out


def _after_markers(seg: str) -> list[str]:
    """``seg`` cut after each run of markers that whitespace and a sentence's opening follow
    (an answer sentence quoted without terminal punctuation, "… the Program [1] You may …")."""
    pieces: list[str] = []
    s = 0
    for m in _MARKER_RUN.finditer(seg):
        rest = seg[m.end() :]
        nxt = len(seg) - len(rest.lstrip())
        if m.start() > s and m.end() < nxt < len(seg) and starts_sentence(seg[nxt]):
            pieces.append(seg[s : m.end()])
            s = nxt
    pieces.append(seg[s:])
    return pieces


def strip_markers(text: str) -> str:
    """``text`` without any citation markers (nor the spaces before them)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]*" + CITATION_RE.pattern, "", text)).strip()


def defuse_markers(text: str) -> str:
    """Document text without its own bracketed numbers ("… in 1994.[3]"), which would read as our markers."""
    return re.sub(r"[ \t]*" + CITATION_RE.pattern, "", text)


def renumber(text: str, mapping: Mapping[int, int]) -> str:
    """Rewrite markers through ``mapping`` (old → new); numbers not in it are removed (invented keys)."""

    def sub(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*,\s*", m.group(1))]
        kept: list[int] = []
        for n in nums:
            if n in mapping and mapping[n] not in kept:
                kept.append(mapping[n])
        return "".join(marker(n) for n in kept)

    return re.sub(r"[ \t]+(?=[.,;:!?])", "", CITATION_RE.sub(sub, text)).replace("  ", " ").strip()


@dataclass(frozen=True)
class CitedSentence:
    """An answer sentence and the evidence quote that supports it."""

    text: str
    chunk: Chunk
    start: int
    end: int
    score: float


def _with_marker(sentence: str, n: int) -> str:
    return f"{sentence.rstrip()} {marker(n)}"


def citation_for(n: int, chunk: Chunk, quotes: Sequence[Quote]) -> Citation:
    """Citation ``n`` of a document: its metadata (from one of its chunks) and its quotes, first one leading."""
    first = quotes[0]
    meta = chunk.meta
    return Citation(
        n=n,
        source=chunk.source,
        title=chunk.title,
        quote=first.text,
        chunk_id=first.chunk_id,
        score=first.score,
        start=first.start,
        end=first.end,
        publisher=meta.publisher,
        author=meta.author,
        date=meta.date,
        doc_id=chunk.doc_id,
        quotes=tuple(quotes),
    )


def assemble(sentences: Sequence[CitedSentence]) -> tuple[str, list[Citation]]:
    """Join sentences into an answer: one number per source (in order of first use), each sentence cited."""
    numbers: dict[str, int] = {}
    quotes: dict[str, list[Quote]] = {}
    firsts: dict[str, CitedSentence] = {}
    parts: list[str] = []
    for s in sentences:
        key = s.chunk.doc_id
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            firsts[key] = s
            quotes[key] = []
        quotes[key].append(Quote(text=s.text, start=s.start, end=s.end, chunk_id=s.chunk.chunk_id, score=s.score))
        # Bracketed numbers inside the document ("… in 1994.[3]") would read as our citations:
        # the answer shows the sentence without them; the quote keeps the verbatim text.
        shown = strip_markers(s.text) if CITATION_RE.search(s.text) else s.text
        # One line, so that splitting the answer (cited_sentences) finds this sentence whole.
        shown = " ".join(shown.split())
        parts.append(_with_marker(shown, numbers[key]))
    citations = [citation_for(n, firsts[key].chunk, quotes[key]) for key, n in numbers.items()]
    return " ".join(parts), citations
