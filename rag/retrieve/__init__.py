"""Retrieval: name variants, BM25, and the hybrid dense + lexical ranking."""
