"""Ingest against a real Chroma PersistentClient: idempotence, edits, pruning, rebuilds, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import EmbeddingMismatchError
from rag.pipeline import Pipeline
from rag.settings import Settings


def _pipe(tmp_path: Path, **kw: object) -> Pipeline:
    return Pipeline.from_settings(Settings(store={"path": tmp_path / "store"}, **kw))


def _chunk_ids(pipe: Pipeline) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for h in pipe.store.iter_chunks():
        out.setdefault(str(h.metadata["source"]), set()).add(h.id)
    return out


def test_rerun_adds_nothing_edit_replaces_prune_removes(tmp_path: Path, seed_copy: Path) -> None:
    pipe = _pipe(tmp_path)
    first = pipe.ingest([seed_copy])
    assert len(first.added) == 5 and not first.failed
    before = _chunk_ids(pipe)
    count = pipe.store.count()

    again = pipe.ingest([seed_copy])
    assert again.added == [] and again.updated == [] and len(again.skipped) == 5 and again.chunks == 0
    assert pipe.store.count() == count and _chunk_ids(pipe) == before

    edited = seed_copy / "004_6bf493fb16065861.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\nA new closing paragraph about Kandahar markets.\n")
    third = pipe.ingest([seed_copy])
    assert [Path(p).name for p in third.updated] == [edited.name] and len(third.skipped) == 4
    after = _chunk_ids(pipe)
    for name, ids in before.items():
        if name == edited.name:
            assert ids != after[name]
        else:
            assert after[name] == ids, f"{name} changed though its file did not"
    assert pipe.ask("What about Kandahar markets?").citations

    (seed_copy / "003_e8789860d1b0c00a.txt").unlink()
    pruned = pipe.ingest([seed_copy], prune=True)
    assert [Path(p).name for p in pruned.removed] == ["003_e8789860d1b0c00a.txt"]
    assert "003_e8789860d1b0c00a.txt" not in _chunk_ids(pipe)
    assert len(pipe.sources()) == 4


def test_rebuild_starts_over(tmp_path: Path, seed_copy: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.ingest([seed_copy])
    n = pipe.store.count()
    report = pipe.ingest([seed_copy], rebuild=True)
    assert len(report.added) == 5 and pipe.store.count() == n


def test_metadata_and_removed_lines_are_kept(tmp_path: Path, seed_copy: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.ingest([seed_copy])
    by_name = {s.source: s for s in pipe.sources()}
    ruehl = by_name["002_fd3580523704a8ee.txt"]
    assert ruehl.meta.author == "John P. Ruehl" and ruehl.meta.date == "2023-05-12"
    assert any(r.rule == "email-contact" for r in ruehl.removed)
    doc = pipe.document("002_fd3580523704a8ee.txt")
    assert "afgazad@gmail.com" not in doc.text and "U.S. officials confirmed that" in doc.text


def test_unfinished_document_is_invisible_and_redone(tmp_path: Path, seed_copy: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.ingest([seed_copy])
    victim = next(s for s in pipe.sources() if s.source.startswith("001"))
    # Simulate a crash between writing the chunks and the commit record.
    pipe.store.delete_documents([victim.doc_id])
    pipe = _pipe(tmp_path)
    answer = pipe.ask("Why does ISIS-K confront the Taliban?")
    assert all(c.source != victim.source for c in answer.citations)
    assert all(r.source != victim.source for r in answer.retrieved)
    assert len(answer.retrieved) == pipe.settings.retrieve.top_k  # the skipped chunks' places are filled
    count = pipe.store.count()
    report = pipe.ingest([seed_copy])
    assert [Path(p).name for p in report.added] == [victim.source]
    assert pipe.store.count() == count  # re-added in place: no duplicates


def test_mixing_embedding_models_is_refused(tmp_path: Path, seed_copy: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.ingest([seed_copy])

    class OtherModel:
        model_id = "some-other-model"
        dim = 384

    with pytest.raises(EmbeddingMismatchError, match="rag ingest --rebuild"):
        Pipeline(Settings(store={"path": tmp_path / "store"}), embedder=OtherModel())  # type: ignore[arg-type]


def test_bad_files_fail_alone(tmp_path: Path, seed_copy: Path) -> None:
    (seed_copy / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (seed_copy / "empty.md").write_text("")
    (seed_copy / "latin1.txt").write_bytes(
        "Le café de Kaboul était fermé après l'attaque du 26 août, selon les témoins présents.".encode("latin-1")
    )
    (seed_copy / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (seed_copy / "page.html").write_text(
        "<html><head><title>Kabul market report</title><script>alert(1)</script></head>"
        "<body><nav>Home</nav><p>The Kabul spice market reopened in spring after months of closure.</p></body></html>"
    )
    pipe = _pipe(tmp_path)
    report = pipe.ingest([seed_copy])
    failed = {Path(p).name: why for p, why in report.failed}
    assert set(failed) == {"binary.txt", "empty.md", "broken.pdf"}
    assert "binary" in failed["binary.txt"] and "empty" in failed["empty.md"]
    assert len(report.added) == 7
    assert any("latin1.txt" in p and "detected" in n for p, n in report.notes)
    html = pipe.document("page.html")
    assert "alert(1)" not in html.text and html.meta.title == "Kabul market report"


def test_a_store_written_before_the_texts_collection_still_shows_its_documents(tmp_path: Path) -> None:
    import numpy as np

    from store import open_store
    from store.chroma import raw_persistent_client

    store = open_store(path=tmp_path / "store")
    store.check_model("m", 2)
    store.close()
    # Earlier versions kept a document's text in its record's document field.
    raw = raw_persistent_client(tmp_path / "store").get_collection("rag_docs")
    raw.upsert(
        ids=["old"], embeddings=[np.array([1.0, 0.0])], documents=["text kept the old way"], metadatas=[{"n": 1}]
    )
    again = open_store(path=tmp_path / "store")
    doc = again.document("old")
    assert doc is not None and doc.text == "text kept the old way"
    again.put_documents([type(doc)(id="old", vector=np.array([1.0, 0.0]), text="the new way", metadata={"n": 2})])
    assert (again.document("old") or doc).text == "the new way"
    again.close()
