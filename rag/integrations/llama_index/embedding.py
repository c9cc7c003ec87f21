"""The packaged MiniLM embedder as a llama-index ``BaseEmbedding``."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.embed import MINILM_MODEL_ID, Embedder, MiniLMOnnx

__all__ = ["MiniLMEmbedding", "OnnxMiniLMEmbedding"]


class MiniLMEmbedding(BaseEmbedding):
    """llama-index ``BaseEmbedding`` over any :class:`Embedder` (by default the packaged int8 MiniLM)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder | None = None, **kwargs: Any) -> None:
        embedder = embedder or MiniLMOnnx()
        kwargs.setdefault("model_name", embedder.model_id or MINILM_MODEL_ID)
        kwargs.setdefault("embed_batch_size", 32)
        super().__init__(**kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        """Name used by llama-index serialisation."""
        return "MiniLMEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed_query(query)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed(texts)]


#: The earlier name, kept for code that imported it.
OnnxMiniLMEmbedding = MiniLMEmbedding
