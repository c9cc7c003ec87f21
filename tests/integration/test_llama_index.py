"""llama-index LLMs inside our pipeline, and llama-index's own query engines on our retriever with an LLM.

The LLM behind llama-index's interface is the real local llama.cpp server (SmolLM2) through
``OpenAICompatibleLLM``, except where a scripted ``CustomLLM`` must cite a wrong source on purpose.
Our engines without an LLM are in test_llama_index_engines.py (off the LLM server's worker).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS

from rag.verify.cite import cited_sentences

HEADLINE = "Why does ISKP oppose the Taliban?"


@pytest.fixture(scope="module")
def li_llm(llm_url: str):  # type: ignore[no-untyped-def]
    from rag.integrations.llama_index import OpenAICompatibleLLM
    from rag.settings import LLMSettings

    # 60 tokens: the engines' answers are checked for being there, ours sentence by sentence (a cut one is left out).
    return OpenAICompatibleLLM(LLMSettings(base_url=llm_url, api_key="none", max_tokens=60, timeout=120))


def _store_chunk_ids(pipe) -> set[str]:  # type: ignore[no-untyped-def]
    return {h.id for h in pipe.store.iter_chunks()}


def test_retriever_query_engine_answers_from_our_nodes(pipeline, li_llm) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.query_engine import RetrieverQueryEngine

    # Two nodes: enough to show llama-index answering from several of ours, in a short prompt.
    engine = RetrieverQueryEngine.from_args(pipeline.as_retriever(top_k=2), llm=li_llm)
    response = engine.query(HEADLINE)
    assert str(response).strip()
    ours = _store_chunk_ids(pipeline)
    assert len(response.source_nodes) == 2 and all(n.node.node_id in ours for n in response.source_nodes)
    assert any("Taliban" in n.node.get_content() for n in response.source_nodes)


def test_citation_query_engine_runs_on_our_retriever(pipeline, li_llm) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.query_engine import CitationQueryEngine

    engine = CitationQueryEngine(retriever=pipeline.as_retriever(top_k=2), llm=li_llm, citation_chunk_size=256)
    response = engine.query(HEADLINE)
    assert str(response).strip()
    assert response.source_nodes
    assert all(n.node.get_content().startswith("Source ") for n in response.source_nodes)


def _verified(pipe, a) -> None:  # type: ignore[no-untyped-def]
    checker = pipe.judge
    by_chunk = {r.chunk_id: r.chunk for r in a.retrieved}
    for c in a.citations:
        doc = pipe.document(c.source).text
        for q in c.quotes:
            assert doc[q.start : q.end] == q.text
    for i, (sentence, numbers) in enumerate(cited_sentences(a.text)):
        if i in a.unverified:
            assert not numbers
            continue
        for n in numbers:
            c = a.citation(n)
            assert any(checker.best_support(sentence, by_chunk[q.chunk_id].text).supported for q in c.quotes)


def test_pipeline_with_a_llama_index_llm_verifies_every_citation(seeded_store: Path, li_llm) -> None:  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipe = Pipeline.from_settings(Settings(store={"path": seeded_store}, ingest={"seeds_path": SEEDS}), llm=li_llm)
    # One streamed answer serves both: ask() is the last event of ask_stream().
    events = list(pipe.ask_stream(HEADLINE))
    assert [e.kind for e in events].count("token") > 3
    a = events[-1].answer
    assert events[-1].kind == "answer" and a is not None
    # 'extractive': nothing the model wrote verified, so the extractive answer came back (never worse).
    assert a.mode == "llm" or "showing the extractive answer" in (a.notice or "")
    assert a.usage["completion_tokens"] > 0
    _verified(pipe, a)


def test_a_wrong_citation_from_a_llama_index_llm_is_removed_or_reattributed(seeded_store: Path) -> None:
    from rag.integrations.llama_index.testing import MisattributingLLM
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    llm = MisattributingLLM()
    pipe = Pipeline.from_settings(Settings(store={"path": seeded_store}, ingest={"seeds_path": SEEDS}), llm=llm)
    a = pipe.ask("What is the difference between the Taliban and ISIS?")
    assert llm.quoted and llm.cited != llm.quoted_from
    assert a.mode == "llm"
    wrong_doc = a.retrieved[llm.cited - 1].chunk.doc_id
    right_doc = a.retrieved[llm.quoted_from - 1].chunk.doc_id
    for sentence, numbers in cited_sentences(a.text):
        if sentence.strip() == llm.quoted.strip():
            assert all(a.citation(n).doc_id != wrong_doc for n in numbers)
            assert any(a.citation(n).doc_id == right_doc for n in numbers) or 0 in a.unverified
    assert "Verification removed" in (a.notice or "")
    _verified(pipe, a)


def test_llm_argument_refuses_other_objects(seeded_store: Path) -> None:
    from rag.errors import ConfigError
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    with pytest.raises(ConfigError, match="llm= takes a llama_index"):
        Pipeline.from_settings(Settings(store={"path": seeded_store}), llm="gpt-4o")
