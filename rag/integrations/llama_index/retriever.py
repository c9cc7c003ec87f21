"""Our hybrid retrieval as a llama-index ``BaseRetriever``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from rag.integrations.llama_index.nodes import to_node

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = ["RagRetriever"]


class RagRetriever(BaseRetriever):
    """Dense + BM25 retrieval with name variants, fused, over the pipeline's store (``Pipeline.as_retriever``)."""

    def __init__(self, pipeline: Pipeline, top_k: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [to_node(item) for item in self.pipeline.retrieve(query_bundle.query_str, top_k=self.top_k)]
