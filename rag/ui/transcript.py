"""The transcript's HTML (no gradio): questions, answers with chips that point at their quotes, follow-ups."""

from __future__ import annotations

import re

from rag.types import Answer, Citation
from rag.ui.chat import Chat, Turn
from rag.ui.markup import clean_title, e, short
from rag.verify.cite import CANNOT_ANSWER, CITATION_RE, cited_sentences, is_cannot_answer, parse_markers, strip_markers

__all__ = ["answer_body", "answer_meta", "follow_ups", "render_chat"]

LONG_QUESTION = 280  # a question longer than this is collapsed in its bubble


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
