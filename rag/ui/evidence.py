"""The evidence panel's HTML (no gradio): each cited source with its quotes marked in their passages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.errors import RagError
from rag.types import Citation, Document, Quote, ScoredChunk
from rag.ui.chat import Chat, Turn
from rag.ui.markup import clean_title, e, short

__all__ = ["render_evidence"]

CONTEXT_CHARS = 240  # characters of passage shown on each side of the quoted sentences
HEADER_QUESTION = 120  # the evidence header shows at most this much of the question

#: A function that returns a stored document by id or file name (``Pipeline.document``).
DocumentLookup = Callable[[str], Document]


def _merge(spans: list[tuple[int, int, int]]) -> list[tuple[int, int, list[int]]]:
    """Overlapping spans merged; each keeps the quote indices it covers."""
    out: list[tuple[int, int, list[int]]] = []
    for a, b, k in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b), [*out[-1][2], k])
        else:
            out.append((a, b, [k]))
    return out


def _squeeze(text: str) -> str:
    """Blank lines collapsed to one line break (passages are shown with ``white-space: pre-line``)."""
    return re.sub(r"[ \t]*\n\s*", "\n", text)


def highlight(passage: str, spans: list[tuple[int, int, int]], mark_id: str = "") -> str:
    """``passage`` escaped, each (start, end, quote index) span in a ``<mark>``, trimmed to a window around them."""
    merged = _merge([(max(0, a), min(len(passage), b), k) for a, b, k in spans if b > a])
    lo, hi = 0, len(passage)
    if merged:  # a window of context around the quotes, cut at word boundaries
        lo = max(0, merged[0][0] - CONTEXT_CHARS)
        hi = min(len(passage), merged[-1][1] + CONTEXT_CHARS)
        if lo > 0:
            cut = passage.find(" ", lo, merged[0][0])
            lo = cut + 1 if cut >= 0 else merged[0][0]
        if hi < len(passage):
            cut = passage.rfind(" ", merged[-1][1], hi)
            hi = cut if cut >= 0 else merged[-1][1]
    out = ["…" if lo > 0 else ""]
    pos = lo
    for a, b, ks in merged:
        out.append(e(_squeeze(passage[pos:a])))
        qs = " ".join(str(k) for k in ks)
        ident = f' id="{mark_id}-{ks[0]}"' if mark_id else ""
        out.append(f'<mark class="quote"{ident} data-q="{qs}">{e(_squeeze(passage[a:b]))}</mark>')
        pos = b
    out.append(e(_squeeze(passage[pos:hi])))
    out.append("…" if hi < len(passage) else "")
    return "".join(out)


def _passages(
    citation: Citation, retrieved: Sequence[ScoredChunk], lookup: DocumentLookup | None, mark_id: str
) -> list[str]:
    """One highlighted passage per chunk the citation quotes from (each quote marked inside it)."""
    chunks = {r.chunk_id: r for r in retrieved}
    quotes: Sequence[Quote] = citation.quotes or (
        Quote(text=citation.quote, start=citation.start, end=citation.end, chunk_id=citation.chunk_id),
    )
    groups: dict[str, list[tuple[int, Quote]]] = {}
    for k, q in enumerate(quotes):
        groups.setdefault(q.chunk_id, []).append((k, q))
    out: list[str] = []
    for chunk_id, qs in groups.items():
        hit = chunks.get(chunk_id)
        if hit is not None:
            text = hit.text
            spans = []
            for k, q in qs:
                at = text.find(q.text)
                if at < 0:  # fall back on the offsets (both are in the cleaned document's coordinates)
                    at = q.start - hit.chunk.start
                spans.append((at, at + len(q.text), k))
            out.append(highlight(text, spans, mark_id))
            continue
        try:  # not among the retrieved chunks: show a window of the document around the quote
            if lookup is None:
                raise RagError("no document lookup")
            doc = lookup(citation.doc_id or citation.source).text
            a = max(0, min(q.start for _, q in qs) - 300)
            b = min(len(doc), max(q.end for _, q in qs) + 300)
            out.append(highlight(doc[a:b], [(q.start - a, q.end - a, k) for k, q in qs], mark_id))
        except RagError:
            out.append(highlight(" … ".join(q.text for _, q in qs), [], mark_id))
    return out


def _source_meta(c: Citation) -> str:
    known = [x for x in (c.publisher, c.author, c.date) if x]
    return " · ".join(e(x) for x in [*known]) + (" · " if known else "") + f"<code>{e(c.source)}</code>"


def _render_evidence_turn(i: int, t: Turn, lookup: DocumentLookup | None, *, hidden: bool) -> str:
    a = t.answer
    if a is None:
        return ""
    parts = [f'<section class="ev-turn" data-turn="{i}" aria-label="Evidence for question {i + 1}"'
             f'{" hidden" if hidden else ""}>']  # fmt: skip
    parts.append(
        '<button type="button" class="ev-back">← Back to the answer</button>'
        f'<div class="ev-q">For question {i + 1}: “{e(short(t.question, HEADER_QUESTION))}”</div>'
    )
    if not a.citations:
        parts.append('<div class="empty">No passage in the documents supports an answer to this question.</div>')
    for c in a.citations:
        title = clean_title(c.title) or c.source
        parts.append(
            f'<details class="ev" id="ev-{i}-{c.n}" open tabindex="-1"><summary><span class="ev-n">{c.n}</span>'
            f'<span class="ev-title">{e(title)}</span></summary>'
            f'<div class="ev-meta">{_source_meta(c)}</div>'
        )
        parts.extend(f'<div class="passage">{p}</div>' for p in _passages(c, a.retrieved, lookup, f"q-{i}-{c.n}"))
        parts.append("</details>")
    # Always drawn, shown by the settings' checkbox on the page (app.css): toggling it needs no redraw,
    # which would undo the chip the reader picked.
    if a.retrieved:
        parts.append(
            f'<details class="retrieved" open><summary>Retrieved chunks ({len(a.retrieved)})</summary><table>'
            '<tr><th scope="col">#</th><th scope="col">score</th><th scope="col">dense</th>'
            '<th scope="col">lexical</th><th scope="col">source · text</th></tr>'
        )
        for r in a.retrieved:
            dense = "–" if r.dense_score is None else f"{r.dense_score:.3f}"
            lexical = "–" if r.lexical_score is None else f"{r.lexical_score:.3f}"
            snippet = short(" ".join(r.text.split()), 220)
            parts.append(
                f'<tr><td class="num">{r.rank}</td><td class="num">{r.score:.3f}</td><td class="num">{dense}</td>'
                f'<td class="num">{lexical}</td><td><code>{e(r.source)}</code> {e(snippet)}</td></tr>'
            )
        parts.append("</table></details>")
    parts.append("</section>")
    return "".join(parts)


def render_evidence(chat: Chat, lookup: DocumentLookup | None) -> str:
    """The evidence panel: one section per answered turn, the latest one shown."""
    head = '<h2 class="ev-head">Evidence</h2>'
    answered = [i for i, t in enumerate(chat.turns) if t.answer is not None]
    if not answered:
        return head + (
            '<div class="empty">The sources of an answer appear here: title, publisher, date, file, '
            "and the quoted sentence highlighted in its passage.</div>"
        )
    latest = answered[-1]
    return head + "".join(
        _render_evidence_turn(i, chat.turns[i], lookup, hidden=i != latest) for i in reversed(answered)
    )
