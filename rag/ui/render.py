"""HTML for the chat page: transcript, evidence, sources and documents (pure functions, no gradio).

Everything that comes from a document, a question or an answer is escaped here before it reaches
the page: no markup from a document is ever rendered as markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RagError
from rag.types import Answer, Citation, Document, Quote, ScoredChunk
from rag.verify.cite import CANNOT_ANSWER, CITATION_RE, cited_sentences, is_cannot_answer, parse_markers, strip_markers

__all__ = [
    "Chat",
    "Turn",
    "answer_body",
    "answer_meta",
    "clean_title",
    "follow_ups",
    "render_chat",
    "render_document",
    "render_evidence",
    "render_sources",
    "short",
]

CONTEXT_CHARS = 240  # characters of passage shown on each side of the quoted sentences
LONG_QUESTION = 280  # a question longer than this is collapsed in its bubble
HEADER_QUESTION = 120  # the evidence header shows at most this much of the question

#: A function that returns a stored document by id or file name (``Pipeline.document``).
DocumentLookup = Callable[[str], Document]


def e(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def short(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"


def clean_title(title: str | None) -> str | None:
    """A title as a reader expects it: Markdown heading marks and stray whitespace removed."""
    if not title:
        return None
    t = re.sub(r"^\s*#{1,6}\s+", "", title)
    t = " ".join(t.split())
    return t or None


@dataclass
class Turn:
    """One question of the conversation and what came of it."""

    question: str
    answer: Answer | None = None
    raw: str = ""  # the question as typed (the pipeline applies its own limit and says so)
    error: str | None = None
    #: queued → running → done | stopped (an answer or error sets done)
    status: str = "done"
    text: str = ""  # verified sentences so far, with their markers
    draft: str = ""  # raw LLM text not verified yet: shown greyed, never as chips
    progress: str = ""
    elapsed_s: float = 0.0
    chars: int = 0  # the question's length as typed (before the pipeline's limit)
    top_k: int = 5
    mode: str | None = None

    @property
    def finished(self) -> bool:
        """True when nothing more will happen to this turn."""
        return self.status in ("done", "stopped")


@dataclass
class Chat:
    """The conversation of one browser session."""

    turns: list[Turn] = field(default_factory=list)

    def history(self) -> list[str]:
        """Earlier user turns that got an answer, oldest first (what ``ask_stream(history=)`` takes)."""
        return [t.question for t in self.turns if t.answer is not None]


# -- chips and answers -----------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def quote_for(citation: Citation, sentence: str, occurrence: int) -> int:
    """Index in ``citation.quotes`` of the quote supporting ``sentence`` (the ``occurrence``-th use of its source)."""
    quotes = citation.quotes
    if len(quotes) <= 1:
        return 0
    target = " ".join(strip_markers(sentence).split())
    for k, q in enumerate(quotes):
        if " ".join(strip_markers(q.text).split()) == target:
            return k
    words = _words(sentence)
    best, best_score = min(occurrence, len(quotes) - 1), -1.0
    for k, q in enumerate(quotes):
        qw = _words(q.text)
        score = len(words & qw) / (len(words | qw) or 1)
        if score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9 and k == occurrence):
            best, best_score = k, score
    return best


def _tip(citation: Citation, k: int) -> str:
    quote = citation.quotes[k].text if k < len(citation.quotes) else citation.quote
    title = clean_title(citation.title) or citation.source
    return f"“{short(' '.join(quote.split()), 220)}” — {title}"


def _chip(turn: int, n: int, citations: dict[int, Citation] | None, k: int = 0) -> str:
    if citations is not None and n not in citations:
        return f'<span class="chip missing" title="No source [{n}] was given for this answer">[{n}]</span>'
    if citations is None:  # while streaming: the numbers are known, the quotes not yet
        return f'<a class="chip" href="#ev-{turn}-{n}" data-turn="{turn}" data-n="{n}">[{n}]</a>'
    c = citations[n]
    title = clean_title(c.title) or c.source
    return (
        f'<a class="chip" href="#ev-{turn}-{n}" data-turn="{turn}" data-n="{n}" data-q="{k}" '
        f'data-tip="{e(_tip(c, k))}" aria-label="[{n}] {e(title)}: show the quote">[{n}]</a>'
    )


_CHIP_OPEN = '<a class="chip" '


def _roving_chips(html: str) -> str:
    """One tab stop per answer: its first chip is tabbable, the rest are reached with the arrow keys."""
    first, sep, rest = html.partition(_CHIP_OPEN)
    if not sep:
        return html
    later = f'{_CHIP_OPEN}tabindex="-1" '
    return f'{first}{_CHIP_OPEN}tabindex="0" {rest.replace(_CHIP_OPEN, later)}'


def _text_with_chips(text: str, turn: int, citations: dict[int, Citation] | None = None) -> str:
    """Escape ``text``; turn each ``[n]`` marker into a chip."""
    out: list[str] = []
    pos = 0
    for m in CITATION_RE.finditer(text):
        out.append(e(text[pos : m.start()]))
        out.extend(_chip(turn, n, citations) for n in parse_markers(m.group()))
        pos = m.end()
    out.append(e(text[pos:]))
    return "".join(out)


def answer_body(answer: Answer, turn: int) -> str:
    """The answer's sentences, each followed by chips that point at the quote supporting it."""
    if answer.abstained or not answer.citations:
        text = answer.text if answer.text.strip() else CANNOT_ANSWER
        cls = "abstain" if is_cannot_answer(text) else "text"
        return f'<span class="{cls}">{_text_with_chips(text, turn, {})}</span>'
    citations = {c.n: c for c in answer.citations}
    unverified = set(answer.unverified)
    uses: dict[int, int] = {}
    parts: list[str] = []
    for i, (sentence, numbers) in enumerate(cited_sentences(answer.text)):
        chips = []
        for n in dict.fromkeys(numbers):
            k = quote_for(citations[n], sentence, uses.get(n, 0)) if n in citations else 0
            uses[n] = uses.get(n, 0) + 1
            chips.append(_chip(turn, n, citations, k))
        chip_html = "".join(chips)
        if i in unverified:
            parts.append(
                f'<span class="unverified" title="This sentence could not be verified against its sources">'
                f'{e(sentence)}</span><span class="badge-unverified">unverified</span> {chip_html}'
            )
        else:
            parts.append(f'<span class="sent">{e(sentence)}</span> {chip_html}')
    return " ".join(parts)


def _seconds(ms: float) -> str:
    s = ms / 1000
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def model_name(answer: Answer, fallback: str | None = None) -> str | None:
    """The model that wrote an LLM answer: the name the server reported, else the configured one."""
    for key in ("served_model", "model"):
        value = getattr(answer, key, None)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return fallback


def answer_meta(answer: Answer, model: str | None = None) -> str:
    """The plain-words line under an answer: how it was made, how long it took, how many sources."""
    if answer.mode == "llm":
        name = model_name(answer, model)
        bits = [f"written by {name}, checked against the documents" if name else "written by the LLM, checked"]
    else:
        bits = ["answered from the documents"]
    total = answer.timings_ms.get("total")
    if total is not None:
        bits.append(_seconds(total))
    if answer.citations:
        bits.append(f"{len(answer.citations)} source" + ("s" if len(answer.citations) != 1 else ""))
    meta = " · ".join(bits)
    if answer.standalone_question:
        meta += f" · searched as “{short(answer.standalone_question, 160)}”"
    return f'<div class="meta">{e(meta)}</div>'


_VERIFY_NOTICE = re.compile(
    r"Verification removed \d+ unsupported citation\(s\)(?: and re-attributed \d+ sentence\(s\))?\."
)


def _notices(answer: Answer) -> list[str]:
    """The answer's notices in plain words (the verifier's counts rephrased from ``usage``)."""
    out: list[str] = []
    text = _VERIFY_NOTICE.sub("", answer.notice or "").strip()
    if text:
        out.append(text)
    removed = int(answer.usage.get("citations_removed", 0) or 0)
    moved = int(answer.usage.get("sentences_reattributed", 0) or 0)
    if answer.mode == "llm" and (removed or moved):
        bits = []
        if moved:
            bits.append(f"{moved} re-attributed to a supporting source")
        if removed:
            bits.append(f"{removed} unsupported citation{'s' if removed != 1 else ''} removed")
        out.append("checked every sentence: " + ", ".join(bits))
    return out


def _question_bubble(t: Turn) -> str:
    q = t.question
    if len(q) <= LONG_QUESTION and t.chars <= len(q):
        return f'<div class="q"><span>{e(q)}</span></div>'
    note = f"{t.chars:,} characters" + (f"; the first {len(q):,} were used" if t.chars > len(q) else "")
    return (
        f'<div class="q"><details class="q-long"><summary><span>{e(short(q, 200))}</span> '
        f'<span class="q-note">({e(note)}: show all)</span></summary><div class="q-full">{e(q)}</div></details></div>'
    )


def _render_turn(i: int, t: Turn, *, showing: bool, model: str | None) -> str:
    if t.error is not None:
        body = f'<div class="err">{e(t.error)}</div>'
    elif t.answer is not None:
        notes = "".join(f'<div class="notice">{e(n)}</div>' for n in _notices(t.answer))
        stopped = '<div class="stopped">Stopped: the answer above is partial.</div>' if t.status == "stopped" else ""
        body = notes + f'<div class="a-text">{answer_body(t.answer, i)}</div>' + stopped + answer_meta(t.answer, model)
    elif t.status == "queued":
        body = '<div class="pending">Queued: answered after the question before it.</div>'
    elif t.status == "stopped":
        partial = _text_with_chips(t.text, i) if t.text else ""
        draft = f' <span class="draft">{e(strip_markers(t.draft))}</span>' if t.draft.strip() else ""
        body = (
            f'<div class="a-text">{partial}{draft}</div>'
            '<div class="stopped">Stopped: this answer is partial and its unchecked words are greyed.</div>'
            if partial or draft
            else '<div class="stopped">Stopped before any answer was written.</div>'
        )
    else:
        draft = strip_markers(t.draft)
        tail = f' <span class="draft" title="Being checked against the sources">{e(draft)}</span>' if draft else ""
        text = f'<div class="a-text">{_text_with_chips(t.text, i)}{tail}</div>' if t.text or draft else ""
        progress = f"{t.progress or 'searching the documents…'} · {t.elapsed_s:.0f} s"
        body = text + f'<div class="progress"><span class="spinner" aria-hidden="true"></span>{e(progress)}</div>'
    cls = "turn showing" if showing else "turn"
    body = _roving_chips(body)
    return f'<div class="{cls}" data-turn="{i}" id="turn-{i}">{_question_bubble(t)}<div class="a">{body}</div></div>'


def render_chat(chat: Chat, model: str | None = None) -> str:
    """The transcript (or the empty-chat hint)."""
    if not chat.turns:
        return (
            '<div class="empty"><div class="big">Ask a question about the documents.</div>'
            "Every sentence of the answer cites a verbatim quote; select a chip like "
            '<span class="chip">[1]</span> to see it.</div>'
        )
    answered = [i for i, t in enumerate(chat.turns) if t.answer is not None]
    latest = answered[-1] if answered else -1
    return "".join(_render_turn(i, t, showing=i == latest, model=model) for i, t in enumerate(chat.turns))


def follow_ups(answer: Answer | None, limit: int = 3) -> list[str]:
    """Questions suggested after an answer, drawn from the titles of the sources it cites."""
    if answer is None or not answer.citations:
        return []
    out: list[str] = []
    for c in answer.citations:
        title = clean_title(c.title)
        if title and title != c.source:
            # A title that is a question is the best follow-up there is; otherwise ask about the source.
            q = title if title.endswith("?") and len(title) <= 120 else f"What else does “{short(title, 70)}” say?"
            if q not in out:
                out.append(q)
    return out[:limit]


# -- evidence --------------------------------------------------------------------------------------


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


def _render_evidence_turn(i: int, t: Turn, lookup: DocumentLookup | None, *, hidden: bool, show_retrieved: bool) -> str:
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
    if show_retrieved and a.retrieved:
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


def render_evidence(chat: Chat, lookup: DocumentLookup | None, *, show_retrieved: bool = False) -> str:
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
        _render_evidence_turn(i, chat.turns[i], lookup, hidden=i != latest, show_retrieved=show_retrieved)
        for i in reversed(answered)
    )


# -- sources ---------------------------------------------------------------------------------------


def _matches(info: Any, needle: str) -> bool:
    hay = " ".join(
        str(x or "") for x in (info.source, info.meta.title, info.meta.publisher, info.meta.author, info.meta.date)
    ).lower()
    return all(word in hay for word in needle.lower().split())


def render_sources(infos: Sequence[Any], needle: str = "", selected: str | None = None) -> str:
    """The documents as a table on wide screens and as cards on phones (``DocumentInfo`` rows)."""
    shown = [i for i in infos if not needle.strip() or _matches(i, needle)]
    if not infos:
        return '<div class="empty">No documents yet: add some below.</div>'
    count = f"{len(shown)} of {len(infos)} documents" if needle.strip() else f"{len(infos)} documents"
    if not shown:
        return f'<div class="src-count" role="status">No document matches “{e(needle)}” ({count}).</div>'
    heads = ("Title", "File", "Publisher", "Author", "Date", "Passages", "Characters")
    rows = []
    for i in shown:
        title = clean_title(i.meta.title) or i.source
        cells = (
            (heads[0], f'<button type="button" class="src-open" data-source="{e(i.source)}">{e(title)}</button>'),
            (heads[1], f"<code>{e(i.source)}</code>"),
            (heads[2], e(i.meta.publisher or "")),
            (heads[3], e(i.meta.author or "")),
            (heads[4], e(i.meta.date or "")),
            (heads[5], f"{i.chunks:,}"),
            (heads[6], f"{i.chars:,}"),
        )
        tds = "".join(
            f'<td data-label="{label}"' + (' class="blank"' if not value else "") + f">{value}</td>"
            for label, value in cells
        )
        cls = ' class="selected"' if selected and selected == i.source else ""
        rows.append(f"<tr{cls}>{tds}</tr>")
    head = "".join(f'<th scope="col">{h}</th>' for h in heads)
    return (
        f'<div class="src-count" role="status">{count}</div>'
        f'<table class="src"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def render_document(doc: Document | None, error: str | None = None) -> str:
    """A document's cleaned text, its known metadata and the lines cleaning removed."""
    if error is not None:
        return f'<div class="err">{e(error)}</div>'
    if doc is None:
        return '<div class="empty">Choose a document to read its cleaned text.</div>'
    meta = " · ".join(e(x) for x in (doc.meta.publisher, doc.meta.author, doc.meta.date) if x)
    meta += (" · " if meta else "") + f"<code>{e(doc.source)}</code>"
    removed = f" · {len(doc.removed)} boilerplate lines removed" if doc.removed else ""
    spans = _flagged_spans(doc)
    flagged = (
        f' · <span class="flag-note">{len(spans)} passage{"s" if len(spans) != 1 else ""} flagged as instructions '
        "to an AI, kept out of answers</span>"
        if spans
        else ""
    )
    return (
        f"<h3>{e(clean_title(doc.title) or doc.source)}</h3><div class='doc-meta'>{meta}{e(removed)}{flagged}</div>"
        f"<div class='doc-text' tabindex='0'>{_marked_text(doc.text, spans)}</div>"
    )


def _flagged_spans(doc: Document) -> list[tuple[int, int]]:
    """Spans of the text flagged at ingest as instructions to an assistant."""
    spans = [(f.start, f.end) for f in getattr(doc, "flagged", ()) if 0 <= f.start < f.end <= len(doc.text)]
    return sorted(spans)


def _marked_text(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for a, b in spans:
        if a < pos:
            continue
        out.append(e(text[pos:a]))
        out.append(f'<mark class="flagged" title="Flagged as an instruction to an AI">{e(text[a:b])}</mark>')
        pos = b
    out.append(e(text[pos:]))
    return "".join(out)
