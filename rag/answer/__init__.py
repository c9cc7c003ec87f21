"""Answering: the extractive answerer, LLM prompts and follow-up condensing."""
