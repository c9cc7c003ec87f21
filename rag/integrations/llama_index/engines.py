"""Our answerer as llama-index query and chat engines: answers with verified ``[n]`` citations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore
from pydantic import Field

from rag.integrations.llama_index.nodes import to_node
from rag.types import Answer, StreamEvent

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = ["CitedChatEngine", "CitedQueryEngine", "CitedStreamingChatResponse", "answer_metadata"]


def answer_metadata(answer: Answer) -> dict[str, Any]:
    """A llama-index response's ``metadata``: our ``Answer`` under ``"answer"``, and its other JSON fields."""
    data = answer.to_dict()
    del data["retrieved"], data["answer"]  # the response's source_nodes and text
    return {**data, "answer": answer}


def _deltas(events: Iterator[StreamEvent], done: list[Answer]) -> Iterator[str]:
    """The verified sentences of a stream; the final answer is appended to ``done``."""
    for event in events:
        if event.kind == "delta":
            yield event.text
        elif event.kind == "answer" and event.answer is not None:
            done.append(event.answer)


class CitedQueryEngine(CustomQueryEngine):
    """``query()`` → ``Response``: text with ``[n]`` markers, the retrieved nodes, our ``Answer`` in metadata.

    Extractive, or LLM-written and verified sentence by sentence, as the pipeline's mode says.
    With ``streaming=True`` it returns a ``StreamingResponse`` whose generator yields verified
    sentences; its ``source_nodes`` and ``metadata`` are filled when the generator is exhausted.
    """

    pipeline: Any = Field(description="The rag Pipeline that answers.")
    top_k: int | None = Field(None, description="Chunks passed to the answerer (default: the settings').")
    mode: str | None = Field(None, description="'extractive', 'llm' or 'auto' (default: the settings').")
    streaming: bool = Field(False, description="Return a StreamingResponse of verified sentences.")

    def custom_query(self, query_str: str) -> Response | StreamingResponse:
        """Answer one question."""
        pipe: Pipeline = self.pipeline
        if self.streaming:
            done: list[Answer] = []
            nodes: list[NodeWithScore] = []
            metadata: dict[str, Any] = {}
            events = pipe.ask_stream(query_str, top_k=self.top_k, mode=self.mode)

            def gen() -> Generator[str, None, None]:
                yield from _deltas(events, done)
                if done:
                    nodes.extend(to_node(r) for r in done[0].retrieved)
                    metadata.update(answer_metadata(done[0]))

            return StreamingResponse(response_gen=gen(), source_nodes=nodes, metadata=metadata)
        answer = pipe.ask(query_str, top_k=self.top_k, mode=self.mode)
        return Response(
            response=answer.text,
            source_nodes=[to_node(r) for r in answer.retrieved],
            metadata=answer_metadata(answer),
        )

    async def acustom_query(self, query_str: str) -> Response | StreamingResponse:
        """Answer one question without blocking the event loop."""
        return await asyncio.to_thread(self.custom_query, query_str)


@dataclass
class CitedStreamingChatResponse(StreamingAgentChatResponse):
    """A streamed chat answer; ``metadata`` (our ``Answer``) and ``source_nodes`` are set when it ends."""

    metadata: dict[str, Any] | None = None


class CitedChatEngine(BaseChatEngine):
    """A chat engine with memory: follow-ups are made standalone exactly as ``rag.ask(history=...)`` does."""

    def __init__(self, pipeline: Pipeline, *, top_k: int | None = None, mode: str | None = None) -> None:
        self.pipeline = pipeline
        self.top_k = top_k
        self.mode = mode
        self._history: list[ChatMessage] = []

    @property
    def chat_history(self) -> list[ChatMessage]:
        """The conversation so far, user and assistant turns."""
        return list(self._history)

    def reset(self) -> None:
        """Forget the conversation."""
        self._history = []

    def _user_turns(self, chat_history: list[ChatMessage] | None) -> list[str]:
        turns = self._history if chat_history is None else chat_history
        return [m.content or "" for m in turns if m.role == MessageRole.USER]

    def _record(self, message: str, answer: Answer, chat_history: list[ChatMessage] | None) -> None:
        if chat_history is not None:
            self._history = list(chat_history)
        self._history.append(ChatMessage(role=MessageRole.USER, content=message))
        self._history.append(ChatMessage(role=MessageRole.ASSISTANT, content=answer.text))

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        """Answer ``message`` in the context of the conversation."""
        answer = self.pipeline.ask(message, top_k=self.top_k, history=self._user_turns(chat_history), mode=self.mode)
        self._record(message, answer, chat_history)
        return AgentChatResponse(
            response=answer.text,
            source_nodes=[to_node(r) for r in answer.retrieved],
            metadata=answer_metadata(answer),
        )

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> CitedStreamingChatResponse:
        """Like :meth:`chat`, streaming verified sentences (``response_gen``); sources filled at the end."""
        events = self.pipeline.ask_stream(
            message, top_k=self.top_k, history=self._user_turns(chat_history), mode=self.mode
        )
        done: list[Answer] = []
        response = CitedStreamingChatResponse(is_writing_to_memory=False)

        def gen() -> Generator[ChatResponse, None, None]:
            text = ""
            for piece in _deltas(events, done):
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)
            if done:
                self._record(message, done[0], chat_history)
                response.source_nodes.extend(to_node(r) for r in done[0].retrieved)
                response.metadata = answer_metadata(done[0])

        response.chat_stream = gen()
        return response

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        """:meth:`chat` without blocking the event loop."""
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> CitedStreamingChatResponse:
        """:meth:`stream_chat` for async code (``async_response_gen``)."""
        sync = self.stream_chat(message, chat_history)
        assert sync.chat_stream is not None
        stream = sync.chat_stream

        async def agen() -> AsyncGenerator[ChatResponse, None]:
            while True:
                item = await asyncio.to_thread(next, stream, None)
                if item is None:
                    return
                yield item

        sync.achat_stream = agen()
        return sync
