"""HTML helpers for the chat page (no gradio): ``e`` escapes everything from a document, question or answer."""

from __future__ import annotations

import html
import re

__all__ = ["clean_title", "e", "short"]


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
