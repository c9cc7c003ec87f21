"""Verification: citation markers, the support judge, and the LLM sentence verifier."""
