"""How `rag ask` prints an answer's sources (rag/cli.py)."""

from __future__ import annotations

from rag.cli import format_sources
from rag.types import Answer, Citation, Quote


def test_a_hard_wrapped_quote_prints_as_one_line_and_control_characters_as_escapes() -> None:
    text = "2. Redistributions in binary form must reproduce the above copyright\n   notice, this list\x1b[2J"
    quote = Quote(text=text, start=10, end=10 + len(text), chunk_id="c1")
    cite = Citation(
        n=1, source="bsd.txt", title="BSD", quote=text, chunk_id="c1", score=0.5, start=10, end=10 + len(text),
        quotes=(quote,),
    )  # fmt: skip
    shown = format_sources(Answer(question="Q?", text="A. [1]", citations=[cite], retrieved=[], abstained=False))
    assert "copyright notice, this list" in " ".join(shown.split()) and "\\n" not in shown
    assert "\x1b" not in shown and "\\x1b[2J" in shown
