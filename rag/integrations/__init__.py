"""Adapters to other frameworks (imported only when used)."""
