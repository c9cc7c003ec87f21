"""llama-index integration: our retriever, query and chat engines, embedding and LLM adapters.

The one place outside ``eval/`` that imports ``llama_index``; ``import rag`` never imports it.
"""

from rag.integrations.llama_index.embedding import MiniLMEmbedding, OnnxMiniLMEmbedding
from rag.integrations.llama_index.engines import CitedChatEngine, CitedQueryEngine, answer_metadata
from rag.integrations.llama_index.llm import LlamaIndexChatModel, OpenAICompatibleLLM
from rag.integrations.llama_index.nodes import to_node
from rag.integrations.llama_index.retriever import RagRetriever

__all__ = [
    "CitedChatEngine",
    "CitedQueryEngine",
    "LlamaIndexChatModel",
    "MiniLMEmbedding",
    "OnnxMiniLMEmbedding",
    "OpenAICompatibleLLM",
    "RagRetriever",
    "answer_metadata",
    "to_node",
]
