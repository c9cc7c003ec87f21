"""The Gradio chat UI: ``app`` (the Blocks page), ``transcript``/``evidence``/``documents`` (its HTML), ``session``,
``uploads``, ``throttle``."""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch"]


def __getattr__(name: str) -> Any:
    # Gradio is imported only when the page is built, so the HTML modules and rag.ui.uploads stay light.
    if name in __all__:
        from rag.ui import app

        return getattr(app, name)
    raise AttributeError(f"module 'rag.ui' has no attribute {name!r}")
