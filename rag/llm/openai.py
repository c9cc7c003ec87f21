"""The OpenAI-compatible chat client (the official ``openai`` SDK, imported here only, guarded)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rag.errors import (
    ConfigError,
    LLMAuthError,
    LLMError,
    LLMRateLimitError,
    LLMTimeoutError,
    LLMUnreachableError,
)
from rag.llm.completion import StreamedCompletion
from rag.protocols import ChatModel, Completion
from rag.settings import LLMSettings

__all__ = ["ChatModel", "Completion", "OpenAIChat"]


class OpenAIChat:
    """An OpenAI-compatible chat endpoint through the official ``openai`` client."""

    def __init__(self, settings: LLMSettings) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise ConfigError("LLM answers need the openai package: pip install openai==3.52.0") from exc
        self._openai = openai
        self.settings = settings
        self.model = settings.model
        base_url = settings.resolved_base_url()
        api_key = settings.resolved_api_key()
        if not base_url and not api_key:
            raise ConfigError(
                "no LLM endpoint configured: set OPENAI_API_KEY (or RAG_LLM_API_KEY), or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server (vLLM, llama.cpp, Ollama)"
            )
        self.endpoint = base_url or "https://api.openai.com/v1"
        # The client retries 429/5xx and connection errors with exponential backoff itself.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "none",
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )
        self._served: str | None = None

    def served_model(self) -> str | None:
        """The model the endpoint serves, from its ``/v1/models`` (asked once; None if it cannot say).

        A custom server (llama.cpp, vLLM) answers with whatever it loaded, whatever ``model`` we send;
        a model file path is shown by its file name.
        """
        if self._served is None:
            name = ""
            try:
                models = self._client.with_options(
                    timeout=min(self.settings.timeout, 10.0), max_retries=0
                ).models.list()
                ids = [m.id for m in models.data if getattr(m, "id", None)]
                # Several models (a hosted API): the one we ask for, if listed, else we cannot tell.
                name = ids[0] if len(ids) == 1 else (self.model if self.model in ids else "")
            except self._openai.OpenAIError:
                name = ""
            self._served = name.rsplit("/", 1)[-1] if name.startswith("/") else name
        return self._served or None

    def _error(self, exc: Exception) -> LLMError:
        o = self._openai
        where = f"{self.endpoint} (model {self.model!r})"
        if isinstance(exc, o.AuthenticationError):
            return LLMAuthError(
                f"the LLM endpoint {self.endpoint} rejected the API key; check OPENAI_API_KEY / RAG_LLM_API_KEY"
            )
        if isinstance(exc, o.NotFoundError):
            return LLMError(f"unknown model or path at {where}; check RAG_LLM_MODEL / OPENAI_BASE_URL")
        if isinstance(exc, o.PermissionDeniedError):
            return LLMAuthError(f"the LLM endpoint {self.endpoint} refused access to model {self.model!r}")
        if isinstance(exc, o.RateLimitError):
            return LLMRateLimitError(f"the LLM endpoint {where} kept answering 429 (rate limit / quota) after retries")
        if isinstance(exc, o.APITimeoutError):
            return LLMTimeoutError(f"the LLM endpoint {where} did not answer within {self.settings.timeout:g} s")
        if isinstance(exc, o.APIConnectionError):
            return LLMUnreachableError(f"cannot reach the LLM endpoint {self.endpoint}: {exc.__cause__ or exc}")
        if isinstance(exc, o.APIStatusError):
            return LLMError(f"the LLM endpoint {where} failed with HTTP {exc.status_code} after retries")
        return LLMError(f"LLM call to {where} failed: {type(exc).__name__}: {exc}")

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Completion:
        """Start one streamed chat completion; it carries its own usage and timings."""
        return StreamedCompletion(lambda out: self._pieces(out, messages, max_tokens))

    def _pieces(self, out: StreamedCompletion, messages: list[dict[str, str]], max_tokens: int | None) -> Iterator[str]:
        try:
            chunks: Any = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                max_tokens=max_tokens or self.settings.max_tokens,
                temperature=self.settings.temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            # Closing the response when the consumer stops early (the UI's Stop) ends the server's generation.
            with chunks:
                for ch in chunks:
                    if ch.usage is not None:
                        out.prompt_tokens = ch.usage.prompt_tokens or 0
                        out.completion_tokens = ch.usage.completion_tokens or 0
                    if ch.choices:
                        choice = ch.choices[0]
                        if choice.finish_reason:
                            out.finish_reason = choice.finish_reason
                        if choice.delta.content:
                            yield choice.delta.content
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from exc
