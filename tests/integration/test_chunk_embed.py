"""Chunking and the packaged ONNX embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SEEDS

from rag.embed import MINILM_SHA256, MiniLMOnnx
from rag.errors import ModelFileError
from rag.ingest import prepare_document
from rag.ingest.chunk import chunk_document
from rag.ingest.metadata import load_sidecar
from rag.integrations.llama_index import OnnxMiniLMEmbedding
from rag.settings import Settings


@pytest.fixture(scope="module")
def model() -> MiniLMOnnx:
    return MiniLMOnnx().load()


def test_chunks_fit_the_window_and_point_into_the_text(model: MiniLMOnnx) -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        doc = prepare_document(path, Settings(), load_sidecar(SEEDS))
        chunks = chunk_document(doc, model.count_tokens, max_tokens=160, overlap_sentences=1)
        assert chunks
        assert max(model.count_tokens([c.text for c in chunks])) <= 160 + 4
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        # Every sentence of the document is in some chunk.
        covered = {s for c in chunks for s in c.sentences}
        assert len(covered) >= len(chunks)
        again = chunk_document(doc, model.count_tokens, max_tokens=160, overlap_sentences=1)
        assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]


def test_overlong_sentence_is_split(model: MiniLMOnnx) -> None:
    from rag.types import Document

    text = " ".join(["word"] * 600) + "."
    doc = Document(doc_id="d" * 16, source="x.txt", path="x.txt", text=text, content_hash="h")
    chunks = chunk_document(doc, model.count_tokens, max_tokens=100)
    assert len(chunks) >= 6
    assert all(n <= 100 for n in model.count_tokens([c.text for c in chunks]))


def test_vectors_are_normalised_and_batch_independent(model: MiniLMOnnx) -> None:
    texts = ["The Taliban fought ISIS-K.", "A much longer sentence " * 20, "short"]
    together = model.embed(texts)
    alone = np.stack([model.embed([t])[0] for t in texts])
    assert together.shape == (3, 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Padding to the longest in the batch must not change any vector.
    assert np.allclose(together, alone, atol=1e-4)


def test_similar_texts_are_closer(model: MiniLMOnnx) -> None:
    q = model.embed_query("Why does ISIS-K fight the Taliban?")
    near, far = model.embed(["ISIS-K sees the Taliban as apostates.", "The recipe needs two eggs and flour."])
    assert float(q @ near) > float(q @ far) + 0.2


def test_span_vectors_come_from_their_tokens(model: MiniLMOnnx) -> None:
    text = "The Taliban rule Kabul. Bread is baked in ovens."
    spans = [(0, 23), (24, len(text))]
    _, span_vecs = model.embed_with_spans([text], [spans])
    q = model.embed_query("bakery bread oven")
    assert float(span_vecs[0][1] @ q) > float(span_vecs[0][0] @ q)


def test_model_checksum_is_verified(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="sha256"):
        MiniLMOnnx(model_path=bad).embed(["x"])
    assert len(MINILM_SHA256) == 64


def test_llama_index_embedding_wrapper(model: MiniLMOnnx) -> None:
    emb = OnnxMiniLMEmbedding(model)
    v = emb.get_query_embedding("ISKP")
    vs = emb.get_text_embedding_batch(["a", "b"])
    assert len(v) == 384 and len(vs) == 2


def test_no_torch_installed() -> None:
    import importlib.util

    assert importlib.util.find_spec("torch") is None
