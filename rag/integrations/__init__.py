"""Adapters to other frameworks (imported only when used)."""

from __future__ import annotations

from typing import Any

from rag.errors import ConfigError
from rag.protocols import ChatModel

__all__ = ["chat_model_of"]


def chat_model_of(llm: Any) -> ChatModel:
    """``Pipeline(llm=...)``'s model: our chat model as given, or a llama-index ``LLM`` behind the adapter."""
    # Judged by class ancestry, so that telling them apart never imports llama_index itself.
    if any(c.__module__.startswith("llama_index.") for c in type(llm).__mro__):
        from rag.integrations.llama_index.llm import chat_model_for

        return chat_model_for(llm)
    if callable(getattr(llm, "stream", None)):
        return llm  # type: ignore[no-any-return]
    raise ConfigError(f"llm= takes a llama_index.core.llms.LLM or a rag chat model, not {type(llm).__name__}")
