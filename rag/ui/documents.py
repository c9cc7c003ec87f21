"""The sources table and the document view, with flagged instruction-like passages marked (no gradio)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.types import Document
from rag.ui.markup import clean_title, e

__all__ = ["render_document", "render_sources"]


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
