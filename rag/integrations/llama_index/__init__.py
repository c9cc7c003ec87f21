"""llama-index integration: the MiniLM embedding (retriever, query and chat engines to come)."""

from rag.integrations.llama_index.embedding import OnnxMiniLMEmbedding

__all__ = ["OnnxMiniLMEmbedding"]
