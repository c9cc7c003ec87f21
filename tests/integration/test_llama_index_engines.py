"""Our retriever, query engine and chat engine inside llama-index's own machinery, without an LLM
(extractive answers); and `import rag` and a cold `rag ask` never import llama-index."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from conftest import SEEDS

from rag.verify.cite import cited_sentences

HEADLINE = "Why does ISKP oppose the Taliban?"
FOLLOW_UP = "And what did the Taliban do about them?"


def test_retriever_nodes_carry_text_spans_and_scores_but_no_internals(pipeline) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.schema import MetadataMode, TextNode

    retriever = pipeline.as_retriever(top_k=5)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve(HEADLINE)
    assert len(nodes) == 5
    assert [n.node.node_id for n in nodes] == [r.chunk_id for r in pipeline.retrieve(HEADLINE, top_k=5)]
    for n in nodes:
        node = n.node
        assert isinstance(node, TextNode)
        doc = pipeline.document(node.metadata["source"]).text
        assert doc[node.start_char_idx : node.end_char_idx] == node.text
        assert {"source", "title", "chunk_id", "dense_score", "lexical_score"} <= set(node.metadata)
        assert not {"svec", "sents"} & set(node.metadata)
        assert node.get_content(MetadataMode.EMBED) == node.text
        llm_view = node.get_content(MetadataMode.LLM)
        assert node.metadata["title"] in llm_view and "dense_score" not in llm_view and "chunk_id" not in llm_view
        assert node.ref_doc_id == node.metadata["doc_id"]
    assert nodes[0].score >= nodes[-1].score


def test_query_engine_returns_verified_citations(pipeline) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.base.base_query_engine import BaseQueryEngine
    from llama_index.core.base.response.schema import Response

    engine = pipeline.as_query_engine()
    assert isinstance(engine, BaseQueryEngine)
    response = engine.query(HEADLINE)
    assert isinstance(response, Response)
    answer = response.metadata["answer"]
    assert response.response == answer.text and "[1]" in response.response
    assert not response.metadata["abstained"] and response.metadata["mode"] == "extractive"
    assert [n.node.node_id for n in response.source_nodes] == [r.chunk_id for r in answer.retrieved]
    for c in answer.citations:
        assert pipeline.document(c.source).text[c.start : c.end] == c.quote


def test_streaming_query_engine_yields_verified_sentences(pipeline) -> None:  # type: ignore[no-untyped-def]
    response = pipeline.as_query_engine(streaming=True).query(HEADLINE)
    pieces = list(response.response_gen)
    answer = response.metadata["answer"]
    assert "".join(pieces) == answer.text
    assert all(cited_sentences(p.strip())[0][1] for p in pieces)  # each piece is a cited sentence
    assert len(response.source_nodes) == len(answer.retrieved)


def test_query_engine_tool_wraps_our_engine(pipeline) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.tools import QueryEngineTool

    tool = QueryEngineTool.from_defaults(
        pipeline.as_query_engine(), name="iskp_articles", description="News articles on ISKP and the Taliban."
    )
    out = tool.call(HEADLINE)
    assert "[1]" in out.content
    assert out.raw_output.metadata["citations"][0]["quote"] in out.content
    assert tool.metadata.name == "iskp_articles"


def test_chat_engine_condenses_the_follow_up(pipeline) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.chat_engine.types import BaseChatEngine

    chat = pipeline.as_chat_engine()
    assert isinstance(chat, BaseChatEngine)
    first = chat.chat(HEADLINE)
    assert "[1]" in first.response
    second = chat.chat(FOLLOW_UP)
    meta = second.metadata
    assert meta["standalone_question"] and meta["standalone_question"] != FOLLOW_UP
    # The same condensing as rag.ask(history=...): one mechanism.
    direct = pipeline.ask(FOLLOW_UP, history=[HEADLINE])
    assert meta["standalone_question"] == direct.standalone_question and second.response == direct.text
    assert not meta["abstained"] and "Taliban" in second.response
    assert [m.role.value for m in chat.chat_history] == ["user", "assistant", "user", "assistant"]
    chat.reset()
    assert chat.chat_history == []


def test_chat_engine_streams_and_runs_async(pipeline) -> None:  # type: ignore[no-untyped-def]
    chat = pipeline.as_chat_engine()
    chat.chat(HEADLINE)
    streamed = chat.stream_chat(FOLLOW_UP)
    text = "".join(streamed.response_gen)
    assert text == streamed.metadata["answer"].text and streamed.source_nodes
    assert chat.chat_history[-1].content == text

    async def run() -> str:
        other = pipeline.as_chat_engine()
        await other.achat(HEADLINE)
        r = await other.astream_chat(FOLLOW_UP)
        return "".join([t async for t in r.async_response_gen()])

    assert asyncio.run(run()) == text


def test_import_rag_and_cold_ask_do_not_import_llama_index(seeded_store: Path, tmp_path: Path) -> None:
    code = (
        "import sys, rag\n"
        "assert not [m for m in sys.modules if m.startswith('llama_index')], 'import rag'\n"
        "from rag.cli import main\n"
        "assert main(['ask', 'Why does ISKP oppose the Taliban?']) == 0\n"
        "bad = sorted(m for m in sys.modules if m.startswith('llama_index'))\n"
        "assert not bad, bad[:5]\n"
    )
    env = {"PATH": "/usr/bin:/bin", "RAG_STORE_PATH": str(seeded_store), "RAG_INGEST_SEEDS_PATH": str(SEEDS)}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[1]" in r.stdout
