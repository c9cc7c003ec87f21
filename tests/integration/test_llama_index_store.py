"""Our Chroma collection is a llama-index store: llama-index reads what `rag ingest` wrote, rag adopts its inserts."""

from __future__ import annotations

import gc
import logging
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS

HEADLINE = "Why does ISKP oppose the Taliban?"
NOTE = (
    "The Qala Library of Herat was founded in 1931 by the governor Abdul Rahim. "
    "It holds eleven thousand manuscripts, most of them in Persian. "
    "In 2019 its reading room was restored with help from the city council."
)


@pytest.fixture(autouse=True)
def _close_after() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


_OPEN: list[Any] = []


def closing(pipe: Any) -> Any:
    """Close the pipeline when the test ends (an open store's connections would outlive it)."""
    _OPEN.append(pipe)
    return pipe


def _collection(path: Path):  # type: ignore[no-untyped-def]
    from store.chroma import raw_persistent_client

    return raw_persistent_client(path).get_collection("rag_chunks")


def _index(path: Path):  # type: ignore[no-untyped-def]
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.integrations.llama_index import MiniLMEmbedding

    store = ChromaVectorStore(chroma_collection=_collection(path))
    return VectorStoreIndex.from_vector_store(store, embed_model=MiniLMEmbedding())


def _pipeline(path: Path, **store: object):  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    return Pipeline.from_settings(Settings(store={"path": path, **store}, ingest={"seeds_path": SEEDS}))


def test_llama_index_queries_a_store_rag_ingest_wrote(seeded_store: Path, tmp_path: Path) -> None:
    from llama_index.core.llms import MockLLM

    path = tmp_path / "store"
    shutil.copytree(seeded_store, path)
    index = _index(path)
    response = index.as_query_engine(llm=MockLLM(max_tokens=64), similarity_top_k=5).query(HEADLINE)
    assert response.source_nodes
    pipe = closing(_pipeline(path))
    ours = {h.id: h for h in pipe.store.get([n.node.node_id for n in response.source_nodes])}
    for n in response.source_nodes:
        node = n.node
        hit = ours[node.node_id]
        assert node.get_content() == hit.text
        assert not {"svec", "sents", "start", "content_hash"} & set(node.metadata)
        assert set(node.metadata) <= {"source", "title", "publisher", "author", "date"}
        assert node.ref_doc_id == hit.doc_id
        doc = pipe.document(node.metadata["source"]).text
        assert doc[node.start_char_idx : node.end_char_idx] == node.get_content()
    chat = index.as_chat_engine(chat_mode="condense_plus_context", llm=MockLLM(max_tokens=64))
    assert chat.chat(HEADLINE).source_nodes
    # llama-index's chat memory leaves its aiosqlite connection to the garbage collector.
    del chat
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_a_document_inserted_through_llama_index_is_adopted(seeded_store: Path, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core import Document

    path = tmp_path / "store"
    shutil.copytree(seeded_store, path)
    running = closing(_pipeline(path, refresh_seconds=0))
    before = len(running.sources())
    _index(path).insert(Document(text=NOTE, metadata={"file_name": "qala-library.txt", "title": "The Qala Library"}))
    caplog.set_level(logging.WARNING, logger="rag")
    infos = {i.source: i for i in running.sources()}  # the running pipeline notices on its next refresh
    assert len(infos) == before + 1 and "adopted 1 document" in caplog.text
    info = infos["qala-library.txt"]
    assert info.meta.title == "The Qala Library" and info.chunks == 1 and "llama-index" in info.notes[0]
    a = running.ask("When was the Qala Library of Herat founded?")
    assert not a.abstained and a.citations[0].source == "qala-library.txt"
    text = running.document("qala-library.txt").text
    assert text == NOTE
    for c in a.citations:
        for q in c.quotes:
            assert text[q.start : q.end] == q.text
    fresh = closing(_pipeline(path))  # and another process sees it as an ordinary document
    assert "qala-library.txt" in {i.source for i in fresh.sources()}
    assert fresh.ingest([SEEDS], prune=True).removed == []  # no file of ours to miss: never pruned


def test_an_older_store_is_migrated_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from llama_index.core.llms import MockLLM

    import rag.records as records

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[1], docs)
    path = tmp_path / "store"
    pipe = _pipeline(path)
    with monkeypatch.context() as m:  # write chunks as the previous version did
        m.setattr(records, "node_fields", lambda *a, **k: {})
        pipe.ingest([docs])
    pipe.store.set_marker("node_format", "")
    assert not any("_node_content" in h.metadata for h in pipe.store.iter_chunks())
    pipe.close()
    caplog.set_level(logging.WARNING, logger="rag")
    reopened = closing(_pipeline(path))
    n = reopened.store.count()
    assert reopened.migration and f"{n} chunks" in reopened.migration and "migrated" in caplog.text
    assert all("_node_content" in h.metadata for h in reopened.store.iter_chunks())
    assert closing(_pipeline(path)).migration is None  # once
    response = _index(path).as_query_engine(llm=MockLLM(max_tokens=64)).query(HEADLINE)
    assert response.source_nodes and "svec" not in response.source_nodes[0].node.metadata


def test_a_document_deleted_through_llama_index_leaves_no_record(seeded_store: Path, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "store"
    shutil.copytree(seeded_store, path)
    running = closing(_pipeline(path, refresh_seconds=0))
    before = {i.source: i for i in running.sources()}
    gone = sorted(before)[0]
    caplog.set_level(logging.WARNING, logger="rag")
    _index(path).delete_ref_doc(before[gone].doc_id)
    infos = {i.source for i in running.sources()}  # the running pipeline notices on its next refresh
    assert infos == set(before) - {gone} and "removed 1 document(s) whose chunks were deleted" in caplog.text
    assert running.store.document(before[gone].doc_id) is None  # the record itself is gone, not only hidden
    a = running.ask("Why does ISKP oppose the Taliban?")
    assert gone not in {c.source for c in a.citations}
    fresh = closing(_pipeline(path))  # and another process never sees it
    assert {i.source for i in fresh.sources()} == set(before) - {gone}
    assert fresh.store.count() == sum(before[s].chunks for s in before if s != gone)
