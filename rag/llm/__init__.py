"""The LLM layer: the OpenAI-compatible chat client and the per-call streamed completion."""

from rag.llm.completion import StreamedCompletion

__all__ = ["StreamedCompletion"]
