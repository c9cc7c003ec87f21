"""Embedders: the packaged int8 ONNX all-MiniLM-L6-v2 (offline default) and OpenAI, behind one interface."""

from rag.embed.minilm import MINILM_MODEL_ID, MINILM_SHA256, Embedder, MiniLMOnnx, OpenAIEmbedder, make_embedder

__all__ = ["MINILM_MODEL_ID", "MINILM_SHA256", "Embedder", "MiniLMOnnx", "OpenAIEmbedder", "make_embedder"]
