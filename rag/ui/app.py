"""The Gradio chat UI: streamed answers with clickable citations, an evidence panel, sources and upload.

``rag chat`` calls :func:`launch`; tests build the page with :func:`build_app` and serve it with
``demo.launch(**launch_options(settings), ...)``. Gradio is imported here only, never by ``import rag``.

Everything that comes from a document or an answer is escaped before it reaches a ``gr.HTML``:
no markup from a document is ever rendered as markup.
"""

from __future__ import annotations

import html
import inspect
import logging
import re
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.events import api as gr_api

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Answer, Citation, Quote, ScoredChunk
from rag.verify.cite import CANNOT_ANSWER, CITATION_RE, cited_sentences, is_cannot_answer, parse_markers, strip_markers

__all__ = ["SEED_EXAMPLES", "build_app", "launch", "launch_options"]

log = logging.getLogger(__name__)

#: Example questions shown on the empty chat when the seed articles are in the store.
SEED_EXAMPLES: tuple[str, ...] = (
    "Why does ISKP oppose the Taliban?",
    "What is the difference between the Taliban and Isis?",
    "In which Afghan province did Isis establish the ISKP?",
    "Which former ISIS-K leader did the Taliban execute after capturing Kabul?",
    "Roughly how many troops does the Taliban have?",
)
_SEED_TOPIC = (
    "news articles on the conflict between the Taliban and the Islamic State's Khorasan branch (ISKP / ISIS-K)"
)
_GENERIC_ERROR = "Something went wrong while answering; the details are in the server log."
_CONTEXT_CHARS = 240  # characters of passage shown on each side of the quoted sentences

# A chip click (event delegation on the transcript): show that turn's evidence, open the entry,
# scroll it into view and flash it. Without JavaScript the chip is still a plain #ev-T-N link.
_CHIP_JS = """
element.addEventListener('click', (event) => {
  const chip = event.target.closest('a.chip');
  if (!chip || !chip.dataset.n) return;
  event.preventDefault();
  const turn = chip.dataset.turn;
  const target = document.getElementById('ev-' + turn + '-' + chip.dataset.n);
  if (!target) return;
  const panel = document.getElementById('evidence');
  if (panel) {
    panel.querySelectorAll('section.ev-turn').forEach((s) => { s.hidden = s.dataset.turn !== turn; });
    panel.querySelectorAll('.ev-focus').forEach((x) => x.classList.remove('ev-focus'));
  }
  target.open = true;
  target.classList.add('ev-focus');
  target.scrollIntoView({behavior: 'smooth', block: 'nearest'});
});
"""

_CSS = """
.gradio-container { max-width: 1320px !important; }
#header { padding: 4px 2px 0; }
#header h1 { font-size: 1.45rem; margin: 0 0 2px; font-weight: 600; letter-spacing: -0.01em; }
#header .tagline { color: var(--body-text-color-subdued); margin: 0; font-size: 0.95rem; }
#header .corpus { margin: 6px 0 0; font-size: 0.9rem; color: var(--body-text-color-subdued); }
#header .corpus b { color: var(--body-text-color); font-weight: 600; }
#answer, #evidence { border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--background-fill-primary); }
#answer { min-height: 380px; max-height: 66vh; overflow-y: auto !important; padding: 14px 16px; }
#evidence { max-height: 80vh; overflow-y: auto !important; padding: 12px 14px; }
.empty { color: var(--body-text-color-subdued); padding: 28px 8px; text-align: center; }
.empty .big { font-size: 1.05rem; color: var(--body-text-color); margin-bottom: 4px; }
.turn { margin-bottom: 18px; }
.q { display: flex; justify-content: flex-end; margin-bottom: 8px; }
.q span { background: var(--color-accent-soft); border-radius: 14px 14px 2px 14px; padding: 7px 12px;
  max-width: 85%; }
.a { line-height: 1.6; }
.a .notice { font-size: 0.85rem; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.a .abstain { color: var(--body-text-color-subdued); font-style: italic; }
.a .err { color: #b42318; background: #fef3f2; border: 1px solid #fecdca; border-radius: 8px;
  padding: 8px 10px; }
.a .meta { font-size: 0.78rem; color: var(--body-text-color-subdued); margin-top: 4px; }
.a .draft { color: var(--body-text-color-subdued); }
.a .pending { color: var(--body-text-color-subdued); font-style: italic; }
a.chip { display: inline-block; font-size: 0.74rem; font-weight: 600; line-height: 1; padding: 3px 6px;
  margin: 0 1px; border-radius: 9px; background: var(--color-accent-soft); color: var(--color-accent);
  text-decoration: none; vertical-align: 1px; cursor: pointer; border: 1px solid transparent; }
a.chip:hover, a.chip:focus-visible { border-color: var(--color-accent); }
a.chip.missing { background: #fef3f2; color: #b42318; cursor: default; }
.unverified { text-decoration: underline dotted #dc6803; text-underline-offset: 3px; }
.badge-unverified { font-size: 0.68rem; color: #b54708; background: #fffaeb; border: 1px solid #fedf89;
  border-radius: 6px; padding: 0 4px; margin-left: 3px; vertical-align: 1px; }
.ev-head { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em;
  color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.ev-q { font-size: 0.85rem; color: var(--body-text-color-subdued); margin-bottom: 8px; }
details.ev { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin-bottom: 10px; background: var(--background-fill-secondary); scroll-margin-top: 8px; }
details.ev.ev-focus { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
details.ev summary { cursor: pointer; font-weight: 600; list-style: none; display: flex; gap: 8px; }
details.ev summary::-webkit-details-marker { display: none; }
.ev-n { flex: none; display: inline-block; min-width: 22px; height: 22px; line-height: 22px; text-align: center;
  border-radius: 11px; background: var(--color-accent); color: white; font-size: 0.78rem; }
.ev-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 4px 0 6px 30px; }
.ev-meta code { font-size: 0.76rem; }
.passage { margin: 6px 0 0 30px; font-size: 0.88rem; line-height: 1.55; white-space: pre-line;
  color: var(--body-text-color-subdued); border-left: 3px solid var(--border-color-primary); padding-left: 10px; }
.passage mark { background: #fff3b0; color: #1f2328; padding: 1px 0; border-radius: 2px; }
.retrieved { font-size: 0.8rem; margin-top: 10px; }
.retrieved table { width: 100%; border-collapse: collapse; }
.retrieved summary { cursor: pointer; color: var(--body-text-color-subdued); }
.retrieved table { margin: 4px 0 0; font-size: 0.78rem; }
.retrieved td, .retrieved th { border: none !important; border-top: 1px solid var(--border-color-primary) !important;
  padding: 4px !important; vertical-align: top; text-align: left; }
.retrieved td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
#examples { gap: 6px; flex-wrap: wrap; }
#examples button { flex: 0 1 auto !important; min-width: 0 !important; font-weight: 400; }
#doc-view .doc-text { white-space: pre-wrap; line-height: 1.6; max-height: 65vh; overflow-y: auto;
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px 14px; }
#doc-view .doc-meta { color: var(--body-text-color-subdued); font-size: 0.9rem; margin-bottom: 8px; }
#upload-status ul { margin: 4px 0; padding-left: 18px; }
#upload-status .ok { color: #067647; }
#upload-status .bad { color: #b42318; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class _Turn:
    """One question of the conversation and what came of it."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    show_retrieved: bool = False


@dataclass
class _Chat:
    """The per-browser-session conversation (kept in a ``gr.State``)."""

    turns: list[_Turn] = field(default_factory=list)

    def history(self) -> list[str]:
        """Earlier user turns that got an answer, oldest first (what ``ask_stream(history=)`` takes)."""
        return [t.question for t in self.turns if t.answer is not None]


# -- rendering ----------------------------------------------------------------------------------


def _chip(turn: int, n: int, known: set[int] | None) -> str:
    if known is not None and n not in known:
        return f'<a class="chip missing" title="No source [{n}] was given for this answer">[{n}]</a>'
    return (
        f'<a class="chip" href="#ev-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
        f'title="Show the evidence for source {n}">[{n}]</a>'
    )


def _text_with_chips(text: str, turn: int, known: set[int] | None = None) -> str:
    """Escape ``text``; turn each ``[n]`` marker into a chip."""
    out: list[str] = []
    pos = 0
    for m in CITATION_RE.finditer(text):
        out.append(_e(text[pos : m.start()]))
        out.extend(_chip(turn, n, known) for n in parse_markers(m.group()))
        pos = m.end()
    out.append(_e(text[pos:]))
    return "".join(out)


def _answer_body(answer: Answer, turn: int) -> str:
    if answer.abstained or not answer.citations:
        text = answer.text if answer.text.strip() else CANNOT_ANSWER
        cls = "abstain" if is_cannot_answer(text) else "text"
        return f'<span class="{cls}">{_text_with_chips(text, turn, set())}</span>'
    known = {c.n for c in answer.citations}
    unverified = set(answer.unverified)
    parts: list[str] = []
    for i, (sentence, numbers) in enumerate(cited_sentences(answer.text)):
        chips = "".join(_chip(turn, n, known) for n in dict.fromkeys(numbers))
        if i in unverified:
            parts.append(
                f'<span class="unverified" title="This sentence could not be verified against its sources">'
                f'{_e(sentence)}</span><span class="badge-unverified">unverified</span> {chips}'
            )
        else:
            parts.append(f"{_e(sentence)} {chips}")
    return " ".join(parts)


def _answer_meta(answer: Answer) -> str:
    bits = [answer.mode]
    total = answer.timings_ms.get("total")
    if total is not None:
        bits.append(f"{total:.0f} ms")
    if answer.citations:
        bits.append(f"{len(answer.citations)} source" + ("s" if len(answer.citations) != 1 else ""))
    meta = " · ".join(bits)
    if answer.standalone_question:
        meta += f" · searched as “{answer.standalone_question}”"
    return f'<div class="meta">{_e(meta)}</div>'


@dataclass(frozen=True)
class _Partial:
    """An answer being streamed: verified text so far, and raw LLM text still being checked."""

    text: str
    draft: str = ""


def _render_turn(i: int, t: _Turn, partial: _Partial | None = None) -> str:
    q = f'<div class="q"><span>{_e(t.question)}</span></div>'
    if t.error is not None:
        body = f'<div class="err">{_e(t.error)}</div>'
    elif t.answer is not None:
        notice = f'<div class="notice">{_e(t.answer.notice)}</div>' if t.answer.notice else ""
        body = notice + f"<div>{_answer_body(t.answer, i)}</div>" + _answer_meta(t.answer)
    elif partial is not None and (partial.text or partial.draft):
        draft = strip_markers(partial.draft)
        tail = f' <span class="draft" title="Being checked against the sources">{_e(draft)}</span>' if draft else ""
        body = f"<div>{_text_with_chips(partial.text, i)}{tail}</div>"
    else:
        body = '<div class="pending">Searching the documents…</div>'
    return f'<div class="turn" data-turn="{i}">{q}<div class="a">{body}</div></div>'


def _render_chat(chat: _Chat, partial: _Partial | None = None) -> str:
    if not chat.turns:
        return (
            '<div class="empty"><div class="big">Ask a question about the documents.</div>'
            "Every sentence of the answer cites a verbatim quote; click a chip like "
            '<a class="chip">[1]</a> to see it.</div>'
        )
    last = len(chat.turns) - 1
    return "".join(_render_turn(i, t, partial if i == last else None) for i, t in enumerate(chat.turns))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _squeeze(text: str) -> str:
    """Blank lines collapsed to one line break (passages are shown with ``white-space: pre-line``)."""
    return re.sub(r"[ \t]*\n\s*", "\n", text)


def _highlight(passage: str, spans: list[tuple[int, int]]) -> str:
    """``passage`` escaped, with ``spans`` wrapped in ``<mark>``, trimmed to a window around them."""
    spans = _merge([(max(0, a), min(len(passage), b)) for a, b in spans if b > a])
    lo, hi = 0, len(passage)
    if spans:  # a window of context around the quotes, cut at word boundaries
        lo = max(0, spans[0][0] - _CONTEXT_CHARS)
        hi = min(len(passage), spans[-1][1] + _CONTEXT_CHARS)
        if lo > 0:
            cut = passage.find(" ", lo, spans[0][0])
            lo = cut + 1 if cut >= 0 else spans[0][0]
        if hi < len(passage):
            cut = passage.rfind(" ", spans[-1][1], hi)
            hi = cut if cut >= 0 else spans[-1][1]
    out = ["…" if lo > 0 else ""]
    pos = lo
    for a, b in spans:
        out.append(_e(_squeeze(passage[pos:a])))
        out.append(f"<mark>{_e(_squeeze(passage[a:b]))}</mark>")
        pos = b
    out.append(_e(_squeeze(passage[pos:hi])))
    out.append("…" if hi < len(passage) else "")
    return "".join(out)


def _passages(citation: Citation, retrieved: Sequence[ScoredChunk], pipeline: Pipeline) -> list[str]:
    """One highlighted passage per chunk the citation quotes from (the quote marked inside it)."""
    chunks = {r.chunk_id: r for r in retrieved}
    quotes: Sequence[Quote] = citation.quotes or (
        Quote(text=citation.quote, start=citation.start, end=citation.end, chunk_id=citation.chunk_id),
    )
    groups: dict[str, list[Quote]] = {}
    for q in quotes:
        groups.setdefault(q.chunk_id, []).append(q)
    out: list[str] = []
    for chunk_id, qs in groups.items():
        hit = chunks.get(chunk_id)
        if hit is not None:
            text = hit.text
            spans = []
            for q in qs:
                at = text.find(q.text)
                if at < 0:  # fall back on the offsets (both are in the cleaned document's coordinates)
                    at = q.start - hit.chunk.start
                spans.append((at, at + len(q.text)))
            out.append(_highlight(text, spans))
            continue
        try:  # not among the retrieved chunks: show a window of the document around the quote
            doc = pipeline.document(citation.doc_id or citation.source).text
            a = max(0, min(q.start for q in qs) - 300)
            b = min(len(doc), max(q.end for q in qs) + 300)
            out.append(_highlight(doc[a:b], [(q.start - a, q.end - a) for q in qs]))
        except RagError:
            out.append(_highlight(" … ".join(q.text for q in qs), []))
    return out


def _render_evidence_turn(i: int, t: _Turn, pipeline: Pipeline, hidden: bool) -> str:
    a = t.answer
    if a is None:
        return ""
    parts = [f'<section class="ev-turn" data-turn="{i}"{" hidden" if hidden else ""}>']
    parts.append(f'<div class="ev-q">For “{_e(t.question)}”</div>')
    if not a.citations:
        parts.append('<div class="empty">No passage in the documents supports an answer to this question.</div>')
    for c in a.citations:
        meta = " · ".join(_e(x) for x in (c.publisher or "publisher unknown", c.author, c.date) if x)
        parts.append(
            f'<details class="ev" id="ev-{i}-{c.n}" open><summary><span class="ev-n">{c.n}</span>'
            f'<span class="ev-title">{_e(c.title)}</span></summary>'
            f'<div class="ev-meta">{meta} · <code>{_e(c.source)}</code></div>'
        )
        parts.extend(f'<div class="passage">{p}</div>' for p in _passages(c, a.retrieved, pipeline))
        parts.append("</details>")
    if t.show_retrieved and a.retrieved:
        parts.append(
            f'<details class="retrieved" open><summary>Retrieved chunks ({len(a.retrieved)})</summary><table>'
            "<tr><th>#</th><th>score</th><th>dense</th><th>lexical</th><th>source · text</th></tr>"
        )
        for r in a.retrieved:
            dense = "–" if r.dense_score is None else f"{r.dense_score:.3f}"
            lexical = "–" if r.lexical_score is None else f"{r.lexical_score:.3f}"
            snippet = " ".join(r.text.split())
            snippet = snippet[:220] + ("…" if len(snippet) > 220 else "")
            parts.append(
                f'<tr><td class="num">{r.rank}</td><td class="num">{r.score:.3f}</td><td class="num">{dense}</td>'
                f'<td class="num">{lexical}</td><td><code>{_e(r.source)}</code> {_e(snippet)}</td></tr>'
            )
        parts.append("</table></details>")
    parts.append("</section>")
    return "".join(parts)


def _render_evidence(chat: _Chat, pipeline: Pipeline) -> str:
    head = '<div class="ev-head">Evidence</div>'
    answered = [i for i, t in enumerate(chat.turns) if t.answer is not None]
    if not answered:
        return head + (
            '<div class="empty">The sources of an answer appear here: title, publisher, date, file, '
            "and the quoted sentence highlighted in its passage.</div>"
        )
    latest = answered[-1]
    return head + "".join(_render_evidence_turn(i, chat.turns[i], pipeline, i != latest) for i in reversed(answered))


# -- corpus ---------------------------------------------------------------------------------------


def _seed_count(pipeline: Pipeline) -> int:
    """How many stored documents are seed articles (by file name)."""
    seeds = pipeline.settings.ingest.seeds_path
    try:
        names = {p.name for p in seeds.iterdir()} if seeds.is_dir() else set()
    except OSError:
        return 0
    return sum(1 for d in pipeline.sources() if d.source in names)


def _is_seed_corpus(pipeline: Pipeline) -> bool:
    return _seed_count(pipeline) > 0


def _corpus_line(pipeline: Pipeline) -> str:
    infos = pipeline.sources()
    if not infos:
        return "The document store is empty: add documents in the Sources tab."
    chunks = sum(i.chunks for i in infos)
    dates = sorted(d for d in (i.meta.date for i in infos) if d)
    span = ""
    if dates:
        first, last = dates[0][:4], dates[-1][:4]
        span = f", {first}" if first == last else f", {first}–{last}"
    seeds = _seed_count(pipeline)
    head = f"<b>{len(infos)} document{'s' if len(infos) != 1 else ''}</b> ({chunks} passages{span})"
    if not seeds:
        return head + "."
    added = len(infos) - seeds
    more = f", plus {added} added document{'s' if added != 1 else ''}" if added else ""
    return f"{head}: {_e(_SEED_TOPIC)}{more}."


def _header_html(pipeline: Pipeline) -> str:
    return (
        '<div id="header"><h1>Ask the documents</h1>'
        '<p class="tagline">Answers only from the documents below; every sentence proved by a cited quote.</p>'
        f'<p class="corpus">{_corpus_line(pipeline)}</p></div>'
    )


_SOURCE_COLUMNS = ["file", "title", "publisher", "author", "date", "chunks", "characters"]


def _sources_rows(pipeline: Pipeline) -> list[list[Any]]:
    return [
        [
            i.source,
            i.meta.title or "(untitled)",
            i.meta.publisher or "",
            i.meta.author or "",
            i.meta.date or "",
            i.chunks,
            i.chars,
        ]
        for i in pipeline.sources()
    ]


def _doc_choices(pipeline: Pipeline) -> list[tuple[str, str]]:
    return [(f"{i.meta.title or '(untitled)'} — {i.source}", i.source) for i in pipeline.sources()]


def _render_document(pipeline: Pipeline, key: str | None) -> str:
    if not key:
        return '<div class="empty">Choose a document (or click a row of the table) to read its cleaned text.</div>'
    try:
        doc = pipeline.document(key)
    except RagError as exc:
        return f'<div class="err">{_e(exc)}</div>'
    meta = " · ".join(x for x in (doc.meta.publisher, doc.meta.author, doc.meta.date, doc.source) if x)
    removed = f" · {len(doc.removed)} boilerplate lines removed" if doc.removed else ""
    return (
        f"<h3>{_e(doc.title)}</h3><div class='doc-meta'>{_e(meta)}{_e(removed)}</div>"
        f"<div class='doc-text'>{_e(doc.text)}</div>"
    )


# -- uploads --------------------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """A file name safe to write anywhere: no folders, no leading dots, only ``[A-Za-z0-9._-]``."""
    base = Path(name.replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "document"
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext).lower()[:10]
    return f"{stem}.{ext}" if ext else stem


def _uploads_dir(settings: Settings) -> Path:
    return settings.store.path.parent / "uploads"


def _upload_paths(files: Any) -> list[tuple[str, Path]]:
    """(original name, temporary path) of what a ``gr.File(file_count="multiple")`` delivered."""
    if not files:
        return []
    items = files if isinstance(files, list) else [files]
    out: list[tuple[str, Path]] = []
    for f in items:
        path = Path(f if isinstance(f, str | Path) else getattr(f, "name", None) or f["path"])
        orig = getattr(f, "orig_name", None)  # gradio keeps the original name as the temp file's name too
        out.append((str(orig or path.name), path))
    return out


def _ingest_uploads(pipeline: Pipeline, files: Any, progress: gr.Progress) -> str:
    settings = pipeline.settings
    exts = sorted({e.lower() for e in settings.ingest.extensions})
    limit_mb = settings.ui.max_upload_mb
    lines: list[tuple[bool, str, str]] = []  # (ok, name, message)
    accepted: list[tuple[str, Path]] = []
    for orig, tmp in _upload_paths(files):
        suffix = Path(orig).suffix.lower()
        if suffix not in exts:
            lines.append((False, orig, f"not a supported file type; accepted: {' '.join(exts)}"))
            continue
        try:
            size = tmp.stat().st_size
        except OSError:
            lines.append((False, orig, "the upload could not be read; try again"))
            continue
        if size > limit_mb * 1024 * 1024:
            lines.append((False, orig, f"too large ({size / 1024 / 1024:.1f} MB; the limit is {limit_mb:g} MB)"))
            continue
        if size == 0:
            lines.append((False, orig, "the file is empty"))
            continue
        accepted.append((orig, tmp))
    folder = _uploads_dir(settings)
    total = len(accepted)
    for k, (orig, tmp) in enumerate(accepted):
        progress((k, total), desc=f"Ingesting {orig}", unit="files")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / safe_filename(orig)
            if dest.suffix.lower() != Path(orig).suffix.lower():
                dest = dest.with_suffix(Path(orig).suffix.lower())
            shutil.copyfile(tmp, dest)
            report = pipeline.ingest([dest])
        except RagError as exc:
            lines.append((False, orig, str(exc)))
            continue
        except Exception:
            log.exception("ingesting upload %s failed", orig)
            lines.append((False, orig, "could not be ingested; the details are in the server log"))
            continue
        if report.failed:
            lines.append((False, orig, "; ".join(reason for _, reason in report.failed)))
        elif report.added or report.updated:
            passages = f"{report.chunks} passage{'s' if report.chunks != 1 else ''}"
            lines.append((True, orig, f"{'added as' if report.added else 'updated'} {dest.name} ({passages})"))
        else:
            lines.append((True, orig, "already in the store, unchanged"))
    progress((total, total), desc="Done", unit="files")
    if not lines:
        return ""
    ok = sum(1 for good, _, _ in lines if good)
    items = "".join(
        f'<li class="{"ok" if good else "bad"}">{"✓" if good else "✗"} <b>{_e(name)}</b>: {_e(msg)}</li>'
        for good, name, msg in lines
    )
    return f"<div>{ok} of {len(lines)} files ingested.</div><ul>{items}</ul>"


# -- the app --------------------------------------------------------------------------------------


def _stream_kwargs(pipeline: Pipeline, mode: str | None) -> dict[str, Any]:
    """Pass the chosen answer mode only once the pipeline's ``ask_stream`` takes one."""
    try:
        params = inspect.signature(pipeline.ask_stream).parameters
    except (TypeError, ValueError):
        return {}
    return {"mode": mode} if mode and "mode" in params else {}


def _respond(
    pipeline: Pipeline, question: str, chat: _Chat, top_k: float, mode: str | None, show_retrieved: bool
) -> Iterator[tuple[str, str, str, _Chat]]:
    """The chat event: yield (transcript HTML, evidence HTML, cleared question box, new chat state)."""
    chat = _Chat(list(chat.turns)) if isinstance(chat, _Chat) else _Chat()
    evidence = _render_evidence(chat, pipeline)
    question = question if isinstance(question, str) else ""
    if not question.strip():
        yield _render_chat(chat), evidence, "", chat
        return
    history = chat.history()
    turn = _Turn(question=" ".join(question.split()), show_retrieved=bool(show_retrieved))
    chat.turns.append(turn)
    yield _render_chat(chat), evidence, "", chat
    text = ""  # verified sentences with their markers (``delta`` events)
    draft = ""  # raw LLM text not verified yet (``token`` events): shown greyed, never as chips
    try:
        events = pipeline.ask_stream(question, history=history, top_k=int(top_k), **_stream_kwargs(pipeline, mode))
        for event in events:
            if event.kind == "delta":
                text += event.text
                draft = ""
            elif event.kind == "token":
                draft += event.text
            elif event.kind == "answer" and event.answer is not None:
                turn.answer = event.answer
                continue
            else:
                continue
            yield _render_chat(chat, _Partial(text, draft)), evidence, "", chat
    except RagError as exc:
        turn.error = str(exc)
    except Exception:
        log.exception("answering %r failed", question)
        turn.error = _GENERIC_ERROR
    if turn.answer is None and turn.error is None:
        turn.error = _GENERIC_ERROR
    yield _render_chat(chat), _render_evidence(chat, pipeline), "", chat


def launch_options(settings: Settings) -> dict[str, Any]:
    """Page options Gradio 6 takes at ``launch()`` (theme, CSS, upload size cap, footer "Use via API" link)."""
    # Gradio's bundled IBM Plex Sans SemiBold is a subset (missing glyphs fall back mid-word): skip weight 600.
    theme = gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=[
            gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)),
            "ui-sans-serif",
            "system-ui",
            "sans-serif",
        ],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400,)), "ui-monospace", "monospace"],
    )
    # The server-side cap leaves room above the per-file limit so oversized files get our own message.
    cap_mb = max(1, int(settings.ui.max_upload_mb * 2 + 1))
    return {"theme": theme, "css": _CSS, "max_file_size": f"{cap_mb}mb", "footer_links": ["api"]}


def build_app(pipeline: Pipeline, *, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The chat page over ``pipeline`` (construction only; serve it with ``launch``)."""
    settings = pipeline.settings
    if examples is None:
        examples = SEED_EXAMPLES if _is_seed_corpus(pipeline) else ()
    llm = settings.llm.configured()
    mode_choices = [("Extractive (quotes only)", "extractive")]
    if llm:
        mode_choices.append((f"LLM ({settings.llm.model}, verified)", "llm"))
    default_mode = "llm" if llm and settings.answer.mode in ("auto", "llm") else "extractive"
    exts = sorted({e.lower() for e in settings.ingest.extensions})

    def respond(
        question: str, chat: _Chat, top_k: float, mode: str, show_retrieved: bool
    ) -> Iterator[tuple[str, str, str, _Chat]]:
        yield from _respond(pipeline, question, chat, top_k, mode, show_retrieved)

    def clear() -> tuple[str, str, str, _Chat]:
        chat = _Chat()
        return _render_chat(chat), _render_evidence(chat, pipeline), "", chat

    def api_ask(question: str) -> str:
        """Answer a question from the documents; every sentence ends in [n] citation markers."""
        try:
            return pipeline.ask(question).text
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        except Exception:
            log.exception("api ask %r failed", question)
            raise gr.Error(_GENERIC_ERROR) from None

    def refresh_sources(selected: str | None) -> tuple[str, Any, Any, str]:
        try:
            choices = _doc_choices(pipeline)
            keep = selected if selected in {v for _, v in choices} else None
            return (
                _header_html(pipeline),
                gr.update(value=_sources_rows(pipeline)),
                gr.update(choices=choices, value=keep),
                _render_document(pipeline, keep),
            )
        except RagError as exc:
            return _header_html_error(str(exc)), gr.update(), gr.update(), ""

    def upload(files: Any, selected: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        try:
            status = _ingest_uploads(pipeline, files, progress)
        except Exception:
            log.exception("upload failed")
            status = f'<div class="bad">{_e(_GENERIC_ERROR)}</div>'
        return (status, None, *refresh_sources(selected))

    def open_row(evt: gr.SelectData) -> Any:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        infos = pipeline.sources()
        if isinstance(row, int) and 0 <= row < len(infos):
            return gr.update(value=infos[row].source)
        return gr.update()

    def show_document(key: str | None) -> str:
        return _render_document(pipeline, key)

    with gr.Blocks(title="rag — cited answers", analytics_enabled=False) as demo:
        header = gr.HTML(_header_html(pipeline), elem_id="header-box")
        chat_state = gr.State(_Chat())
        with gr.Tabs():
            with gr.Tab("Chat", id="chat", elem_id="tab-chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    answer = gr.HTML(_render_chat(_Chat()), elem_id="answer", js_on_load=_CHIP_JS, autoscroll=True)
                    if examples:
                        with gr.Row(elem_id="examples"):
                            example_buttons = [
                                gr.Button(q, size="sm", variant="secondary", elem_classes=["example"]) for q in examples
                            ]
                    else:
                        example_buttons = []
                    with gr.Row(equal_height=True):
                        question = gr.Textbox(
                            placeholder="Ask a question about the documents… (Enter to send)",
                            show_label=False,
                            lines=1,
                            max_lines=4,
                            scale=8,
                            elem_id="question",
                            autofocus=True,
                            container=False,
                        )
                        ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                        clear_btn = gr.Button("Clear", scale=1, min_width=80, elem_id="clear")
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        top_k = gr.Slider(
                            1, 20, value=settings.retrieve.top_k, step=1, label="Passages retrieved (top-k)",
                            elem_id="top-k",
                        )  # fmt: skip
                        mode = gr.Radio(
                            mode_choices,
                            value=default_mode,
                            label="Answer mode",
                            info=None if llm else "LLM answers need an endpoint (RAG_LLM_BASE_URL or OPENAI_API_KEY).",
                            elem_id="mode",
                        )
                        show_retrieved = gr.Checkbox(
                            False, label="Show retrieved chunks with scores (debug)", elem_id="show-retrieved"
                        )
                with gr.Column(scale=2, min_width=340):
                    evidence = gr.HTML(_render_evidence(_Chat(), pipeline), elem_id="evidence")
            with gr.Tab("Sources", id="sources", elem_id="tab-sources"):
                table = gr.Dataframe(
                    value=_sources_rows(pipeline),
                    headers=_SOURCE_COLUMNS,
                    interactive=False,
                    wrap=True,
                    column_widths=["19%", "33%", "18%", "12%", "7%", "5%", "6%"],
                    elem_id="sources-table",
                    label="Documents in the store (click a row to read it)",
                )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        doc_choice = gr.Dropdown(
                            choices=_doc_choices(pipeline), value=None, label="Read a document", elem_id="doc-choice"
                        )
                        doc_view = gr.HTML(_render_document(pipeline, None), elem_id="doc-view")
                    with gr.Column(scale=2):
                        files = gr.File(
                            # No file_types filter: every file reaches _ingest_uploads, so each rejected
                            # one gets its reason in #upload-status beside the accepted ones.
                            file_count="multiple",
                            label=f"Add documents ({' '.join(exts)}; up to {settings.ui.max_upload_mb:g} MB each)",
                            elem_id="upload",
                        )
                        upload_status = gr.HTML("", elem_id="upload-status")

        chat_io: dict[str, Any] = {
            "outputs": [answer, evidence, question, chat_state],
            "show_progress": "hidden",
            "api_visibility": "private",
        }
        settings_inputs = [chat_state, top_k, mode, show_retrieved]
        ask.click(respond, inputs=[question, *settings_inputs], **chat_io)
        question.submit(respond, inputs=[question, *settings_inputs], **chat_io)
        for button in example_buttons:
            button.click(respond, inputs=[button, *settings_inputs], **chat_io)
        clear_btn.click(clear, inputs=None, **chat_io)
        gr_api(api_ask, api_name="ask")

        sources_out = [header, table, doc_choice, doc_view]
        files.upload(
            upload,
            inputs=[files, doc_choice],
            outputs=[upload_status, files, *sources_out],
            api_visibility="private",
            concurrency_limit=1,
        )
        table.select(open_row, inputs=None, outputs=[doc_choice], api_visibility="private")
        doc_choice.change(show_document, inputs=[doc_choice], outputs=[doc_view], api_visibility="private")
        demo.load(refresh_sources, inputs=[doc_choice], outputs=sources_out, api_visibility="private")
    demo.queue(default_concurrency_limit=4)
    return demo


def _header_html_error(message: str) -> str:
    return f'<div id="header"><h1>Ask the documents</h1><p class="corpus">{_e(message)}</p></div>'


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, settings: Settings | None = None) -> int:
    """Serve the chat UI until interrupted (ingests the seed documents into an empty store first)."""
    settings = settings or Settings()
    pipeline = Pipeline.from_settings(settings)
    if pipeline.is_empty():
        seeds = settings.ingest.seeds_path
        print(f"rag: the store at {pipeline.store.location} is empty; ingesting {seeds} first …", file=sys.stderr)
        report = pipeline.ingest(progress=sys.stderr.isatty())
        print(f"rag: {report.summary()}", file=sys.stderr)
    pipeline.warm()
    demo = build_app(pipeline)
    user = settings.ui.username
    password = settings.ui.password.get_secret_value() if settings.ui.password else None
    auth = (user, password) if user and password else None
    if (user or password) and auth is None:
        print(
            "rag: set both RAG_UI_USERNAME and RAG_UI_PASSWORD to require a login; serving without one", file=sys.stderr
        )
    print(f"rag: chat UI at http://{host}:{port} (Ctrl+C to stop)", file=sys.stderr)
    # SIGTERM (service managers, `docker stop`) closes the server like Ctrl+C does.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            share=share,
            auth=auth,
            inbrowser=False,
            **launch_options(settings),
        )
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
