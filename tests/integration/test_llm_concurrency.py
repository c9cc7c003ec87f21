"""Two LLM answers streaming at the same time through one pipeline keep their own usage and timings.

Against the real local llama.cpp server. The two questions are asked with different ``top_k``,
so their prompts differ by hundreds of tokens: an answer reporting the other call's usage shows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEEDS

from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.types import Answer, StreamEvent

pytestmark = pytest.mark.slow

SMALL = ("Why does ISKP oppose the Taliban?", 1)
LARGE = ("What is the difference between the Taliban and ISIS?", 3)


@pytest.fixture(scope="module")
def pipe(seeded_store: Path, llm_url: str) -> Pipeline:
    llm = {"base_url": llm_url, "api_key": "none", "max_tokens": 40, "timeout": 300}
    return Pipeline.from_settings(Settings(store={"path": seeded_store}, ingest={"seeds_path": SEEDS}, llm=llm))


@pytest.fixture(scope="module")
def alone(pipe: Pipeline) -> dict[str, Answer]:
    """Each question answered on its own, one after the other: the usage each call must keep."""
    return {q: pipe.ask(q, top_k=k, mode="llm") for q, k in (SMALL, LARGE)}


def _until_token(events: Iterator[StreamEvent]) -> None:
    for e in events:
        if e.kind == "token":
            return
    raise AssertionError("the stream ended before its first token")


def _answer(events: Iterator[StreamEvent]) -> Answer:
    for e in events:
        if e.kind == "answer":
            assert e.answer is not None
            return e.answer
    raise AssertionError("no answer event")


def _check_own(a: Answer, alone: Answer, gap: int) -> None:
    # The LLM was asked (its answer, or the extractive one when none of its sentences verified).
    assert a.usage["completion_tokens"] > 0
    # The fence nonce is random per request, so the same prompt varies by a few tokens only.
    assert abs(a.usage["prompt_tokens"] - alone.usage["prompt_tokens"]) < gap / 10
    t = a.timings_ms
    assert t["llm_first_token"] <= t["llm"] <= t["total"]


def test_interleaved_answers_keep_their_own_usage_and_timings(pipe: Pipeline, alone: dict[str, Answer]) -> None:
    gap = alone[LARGE[0]].usage["prompt_tokens"] - alone[SMALL[0]].usage["prompt_tokens"]
    assert gap > 150
    small = pipe.ask_stream(SMALL[0], top_k=SMALL[1], mode="llm")
    large = pipe.ask_stream(LARGE[0], top_k=LARGE[1], mode="llm")
    # Both calls are streaming before either finishes, in both orders of finishing.
    _until_token(small)
    _until_token(large)
    a_small = _answer(small)
    a_large = _answer(large)
    _check_own(a_small, alone[SMALL[0]], gap)
    _check_own(a_large, alone[LARGE[0]], gap)


def test_answers_in_two_threads_keep_their_own_usage(pipe: Pipeline, alone: dict[str, Answer]) -> None:
    gap = alone[LARGE[0]].usage["prompt_tokens"] - alone[SMALL[0]].usage["prompt_tokens"]
    got: dict[str, Answer] = {}

    def run(q: str, k: int) -> None:
        got[q] = pipe.ask(q, top_k=k, mode="llm")

    threads = [threading.Thread(target=run, args=qk) for qk in (SMALL, LARGE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    for q, _ in (SMALL, LARGE):
        _check_own(got[q], alone[q], gap)
