"""Evaluation suite: question set, metrics, runner."""
