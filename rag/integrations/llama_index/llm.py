"""LLMs across the boundary: any llama-index ``LLM`` as our chat model, and our endpoint as a llama-index LLM."""

from __future__ import annotations

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
from rag.llm.completion import StreamedCompletion
from rag.llm.openai import OpenAIChat
from rag.protocols import Completion
from rag.settings import LLMSettings

__all__ = ["LlamaIndexChatModel", "OpenAICompatibleLLM", "chat_model_for", "to_chat_messages"]

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


class LlamaIndexChatModel:
    """Any ``llama_index.core.llms.LLM`` as the pipeline's chat model, streaming through ``stream_chat``."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.model = str(getattr(llm.metadata, "model_name", "") or type(llm).__name__)

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Completion:
        """One completion through ``stream_chat``; it carries its own usage and timings."""
        # max_tokens is not passed on: llama-index LLMs take their output limit at construction.
        return StreamedCompletion(lambda out: self._pieces(out, messages))

    def _pieces(self, out: StreamedCompletion, messages: list[dict[str, str]]) -> Iterator[str]:
        seen = ""
        try:
            for response in self.llm.stream_chat(to_chat_messages(messages)):
                piece = response.delta
                if piece is None:  # some LLMs send only the growing message
                    full = response.message.content or ""
                    piece, seen = full[len(seen) :], full
                else:
                    seen += piece
                out.prompt_tokens, out.completion_tokens = _usage(response)
                if piece:
                    yield piece
        except RagError:
            raise
        except Exception as exc:  # any LLM package's failure becomes ours, so the pipeline falls back
            raise LLMError(f"the llama-index LLM {self.model!r} failed: {type(exc).__name__}: {exc}") from exc


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

    def _stream_messages(self, completion: Completion) -> Iterator[tuple[str, str]]:
        text = ""
        for piece in completion:
            text += piece
            yield text, piece

    def _start(self, messages: list[dict[str, str]]) -> Completion:
        return self._chat.stream(messages, max_tokens=self.num_output)

    @staticmethod
    def _usage(completion: Completion) -> dict[str, int]:
        return {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens}

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat completion."""
        completion = self._start(self._messages(messages))
        text = "".join(completion)
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=text), additional_kwargs=self._usage(completion)
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """A streamed chat completion."""
        completion = self._start(self._messages(messages))

        def gen() -> ChatResponseGen:
            for text, piece in self._stream_messages(completion):
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)
            yield ChatResponse(
                message=ChatMessage(role=MessageRole.ASSISTANT, content=completion.text),
                delta="",
                additional_kwargs=self._usage(completion),
            )

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """A completion of one user prompt."""
        completion = self._start([{"role": "user", "content": prompt}])
        text = "".join(completion)
        return CompletionResponse(text=text, additional_kwargs=self._usage(completion))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """A streamed completion of one user prompt."""

        completion = self._start([{"role": "user", "content": prompt}])

        def gen() -> CompletionResponseGen:
            for text, piece in self._stream_messages(completion):
                yield CompletionResponse(text=text, delta=piece)

        return gen()
