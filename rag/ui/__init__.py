"""The Gradio chat UI."""

from rag.ui.app import build_app, launch

__all__ = ["build_app", "launch"]
