"""LLM mode against a real OpenAI-compatible server (llama.cpp via xllamacpp) running a real model.

SmolLM2-135M cites badly; these tests show that whatever it writes, every citation that reaches
the Answer is verified and verbatim, and that streaming, usage and the fallback work over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

TOP_K = 3


@pytest.fixture
def llm_pipeline(seeded_store: Path, llm_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    monkeypatch.setenv("OPENAI_BASE_URL", llm_url)
    monkeypatch.setenv("OPENAI_API_KEY", "none")
    # Three sources (the default is five): citations can still point at several, and the prompt is shorter.
    settings = Settings(
        store={"path": seeded_store},
        ingest={"seeds_path": SEEDS},
        retrieve={"top_k": TOP_K},
        llm={"max_tokens": 120, "timeout": 120},
    )
    return Pipeline.from_settings(settings)


def _cleaned(pipe, source: str) -> str:  # type: ignore[no-untyped-def]
    return pipe.document(source).text


QUESTIONS = [
    "Why does ISKP oppose the Taliban?",
    "What is the difference between the Taliban and ISIS?",
    "Who won the 2022 FIFA World Cup?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_citation_reaching_the_answer_is_verified(llm_pipeline, question: str) -> None:  # type: ignore[no-untyped-def]
    a = llm_pipeline.ask(question)
    # 'extractive': nothing the model wrote verified, so the extractive answer came back (never worse).
    assert a.mode == "llm" or (a.notice and "showing the extractive answer" in a.notice)
    assert a.usage["completion_tokens"] > 0 and a.usage["prompt_tokens"] > 0
    assert len(a.retrieved) == TOP_K
    if a.abstained:
        assert a.citations == [] and a.unverified == []
        return
    checker = llm_pipeline.judge
    by_chunk = {r.chunk_id: r.chunk for r in a.retrieved}
    for c in a.citations:
        doc = _cleaned(llm_pipeline, c.source)
        for q in c.quotes:
            assert doc[q.start : q.end] == q.text
            assert q.chunk_id in by_chunk
    from rag.verify.cite import cited_sentences

    for i, (sentence, numbers) in enumerate(cited_sentences(a.text)):
        if i in a.unverified:
            assert not numbers
            continue
        assert numbers
        for n in numbers:
            c = a.citation(n)
            assert any(checker.best_support(sentence, by_chunk[q.chunk_id].text).supported for q in c.quotes)


def test_streaming_over_http(llm_pipeline) -> None:  # type: ignore[no-untyped-def]
    events = list(llm_pipeline.ask_stream("Why does ISKP oppose the Taliban?"))
    tokens = [e for e in events if e.kind == "token"]
    assert len(tokens) > 3
    final = events[-1].answer
    assert events[-1].kind == "answer" and (final.mode == "llm" or "showing the extractive answer" in final.notice)
    assert "llm_first_token" in events[-1].answer.timings_ms


def test_cli_llm_mode_json(seeded_store: Path, llm_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(
        OPENAI_BASE_URL=llm_url,
        OPENAI_API_KEY="none",
        RAG_ANSWER_MODE="llm",
        RAG_STORE_PATH=str(seeded_store),
        RAG_INGEST_SEEDS_PATH=str(SEEDS),
        RAG_LLM_MAX_TOKENS="120",
        RAG_RETRIEVE_TOP_K=str(TOP_K),
        # As the in-process tests: the default 30 s is shorter than one prompt takes on a loaded machine.
        RAG_LLM_TIMEOUT="120",
    )
    r = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "ask", "Why does ISKP oppose the Taliban?", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["mode"] == "llm" or "showing the extractive answer" in d["notice"]
    assert d["served_model"] == "SmolLM2-135M-Instruct.Q4_1.gguf", d["notice"]
    assert len(d["retrieved"]) == TOP_K
    for c in d["citations"]:
        text = (ROOT / "seeds" / c["source"]).read_text(encoding="utf-8")
        from rag.ingest.clean import clean_text

        assert c["quote"] in clean_text(text).text
