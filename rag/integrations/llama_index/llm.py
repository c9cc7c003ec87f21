"""LLMs across the boundary: any llama-index ``LLM`` as our chat model, and our endpoint as a llama-index LLM."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field, PrivateAttr

from rag.errors import ConfigError, LLMError, RagError
from rag.llm.openai import LLMResult, OpenAIChat
from rag.settings import LLMSettings

__all__ = ["LlamaIndexChatModel", "LlamaIndexCompletion", "OpenAICompatibleLLM", "chat_model_for", "to_chat_messages"]

_ROLES = {"system": MessageRole.SYSTEM, "user": MessageRole.USER, "assistant": MessageRole.ASSISTANT}


def to_chat_messages(messages: Sequence[Mapping[str, str]]) -> list[ChatMessage]:
    """Our ``{"role", "content"}`` messages as llama-index ``ChatMessage`` objects."""
    return [ChatMessage(role=_ROLES.get(m["role"], MessageRole.USER), content=m["content"]) for m in messages]


def _usage(response: ChatResponse) -> tuple[int, int]:
    """Token counts if the LLM reported them (OpenAI-style ``usage`` in ``raw`` or ``additional_kwargs``)."""
    raw = response.raw
    usage = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)
    for source in (response.additional_kwargs, usage):
        if isinstance(source, Mapping) and "prompt_tokens" in source:
            return int(source.get("prompt_tokens") or 0), int(source.get("completion_tokens") or 0)
    if usage is not None:
        return int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)
    return 0, 0


class LlamaIndexCompletion(LLMResult):
    """One streamed completion of a llama-index LLM: iterate it once for text pieces, then read its usage."""

    def __init__(self, llm: LLM, model: str, messages: list[dict[str, str]]) -> None:
        super().__init__()
        self._llm = llm
        self._model = model
        self._messages = messages
        self.finish_reason: str | None = None
        self._pieces = self._run()

    def __iter__(self) -> Iterator[str]:
        """The completion itself: an iterator of text pieces."""
        return self

    def __next__(self) -> str:
        """The next text piece (raises :class:`LLMError` on failure)."""
        return next(self._pieces)

    def _run(self) -> Iterator[str]:
        t0 = time.perf_counter()
        seen = ""
        try:
            for response in self._llm.stream_chat(to_chat_messages(self._messages)):
                piece = response.delta
                if piece is None:  # some LLMs send only the growing message
                    full = response.message.content or ""
                    piece, seen = full[len(seen) :], full
                else:
                    seen += piece
                prompt, completion = _usage(response)
                if prompt or completion:
                    self.prompt_tokens, self.completion_tokens = prompt, completion
                if piece:
                    if self.first_token_ms is None:
                        self.first_token_ms = (time.perf_counter() - t0) * 1000
                    self.text += piece
                    yield piece
            self.finish_reason = "stop"
        except RagError:
            raise
        except Exception as exc:  # any LLM package's failure becomes ours, so the pipeline falls back
            raise LLMError(f"the llama-index LLM {self._model!r} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self.total_ms = (time.perf_counter() - t0) * 1000


class LlamaIndexChatModel:
    """Any ``llama_index.core.llms.LLM`` as the pipeline's chat model, streaming through ``stream_chat``.

    Each :meth:`stream` call returns its own completion (usage and timings per call); ``last`` is
    the latest one, for callers that read usage after iterating.
    """

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.model = str(getattr(llm.metadata, "model_name", "") or type(llm).__name__)
        self._last: LLMResult = LLMResult()

    @property
    def last(self) -> LLMResult:
        """The latest completion (its usage and timing once iterated)."""
        return self._last

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> LlamaIndexCompletion:
        """Start one completion of ``messages``; iterate it for text pieces."""
        # max_tokens is not passed on: llama-index LLMs take their output limit at construction.
        completion = LlamaIndexCompletion(self.llm, self.model, messages)
        self._last = completion
        return completion

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """The whole completion at once."""
        return "".join(self.stream(messages, max_tokens=max_tokens))


def chat_model_for(llm: object) -> LlamaIndexChatModel:
    """The adapter for a llama-index LLM; anything else is refused with a message."""
    if not isinstance(llm, LLM):
        raise ConfigError(f"llm= takes a llama_index.core.llms.LLM or a rag chat model, not {type(llm).__name__}")
    return LlamaIndexChatModel(llm)


class OpenAICompatibleLLM(CustomLLM):
    """A llama-index LLM over the configured OpenAI-compatible endpoint, through the ``openai`` client.

    For llama-index code that needs an LLM without ``llama-index-llms-openai`` (which pins an
    older ``openai``): the same endpoint, model, timeout and retries as ``rag ask --mode llm``.
    """

    context_window: int = Field(4096, description="Tokens the model's context holds.")
    num_output: int = Field(400, description="Most tokens in one completion.")
    _chat: OpenAIChat = PrivateAttr()
    _current: Any = PrivateAttr(default=None)

    def __init__(self, settings: LLMSettings | None = None, **kwargs: Any) -> None:
        if settings is None:  # the environment's RAG_LLM_* / OPENAI_* settings, as `rag ask` reads them
            from rag.settings import Settings

            settings = Settings().llm
        kwargs.setdefault("num_output", settings.max_tokens)
        super().__init__(**kwargs)
        self._chat = OpenAIChat(settings)

    @classmethod
    def class_name(cls) -> str:
        """Name used by llama-index serialisation."""
        return "OpenAICompatibleLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Context size and model name, as llama-index's prompt budgeting needs them."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=True,
            model_name=self._chat.model,
        )

    def _messages(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        return [{"role": str(m.role.value), "content": m.content or ""} for m in messages]

    def _stream_messages(self, messages: list[dict[str, str]]) -> Iterator[tuple[str, str]]:
        text = ""
        self._current = self._chat.stream(messages, max_tokens=self.num_output)
        for piece in self._current:
            text += piece
            yield text, piece

    def _usage(self) -> dict[str, int]:
        # A completion that reports its own usage, else the client's latest call.
        source = self._current if hasattr(self._current, "prompt_tokens") else getattr(self._chat, "last", None)
        return {
            "prompt_tokens": int(getattr(source, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(source, "completion_tokens", 0) or 0),
        }

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat completion."""
        text = "".join(piece for _, piece in self._stream_messages(self._messages(messages)))
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=text), additional_kwargs=self._usage()
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """A streamed chat completion."""
        msgs = self._messages(messages)

        def gen() -> ChatResponseGen:
            text = ""
            for text, piece in self._stream_messages(msgs):
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)
            yield ChatResponse(
                message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                delta="",
                additional_kwargs=self._usage(),
            )

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """A completion of one user prompt."""
        text = "".join(piece for _, piece in self._stream_messages([{"role": "user", "content": prompt}]))
        return CompletionResponse(text=text, additional_kwargs=self._usage())

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """A streamed completion of one user prompt."""

        def gen() -> CompletionResponseGen:
            for text, piece in self._stream_messages([{"role": "user", "content": prompt}]):
                yield CompletionResponse(text=text, delta=piece)

        return gen()
