"""The VectorStore contract: cases every store must pass (in-memory, embedded Chroma, a `chroma run` server).

Each case takes a fresh, empty store on which ``check_model(MODEL, DIM)`` was called. The cases
run in tests/contract (in-memory and embedded) and tests/integration (a real server).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from store import DocRecord, EmbeddingMismatchError, Record, VectorStore

MODEL = "contract-model"
DIM = 8


def _vec(*xs: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


def _rec(i: str, doc: str, v: np.ndarray, **meta: str | int | float | bool) -> Record:
    return Record(id=i, vector=v, text=f"text of {i}", doc_id=doc, metadata={"source": f"{doc}.txt", **meta})


def _doc(i: str, **meta: str | int | float | bool) -> DocRecord:
    return DocRecord(id=i, vector=_vec(1.0), text=f"the whole of {i}", metadata={"path": f"/d/{i}.txt", **meta})


def chunks_round_trip(store: VectorStore) -> None:
    store.add([_rec("a", "d1", _vec(1, 0), start=3, flag=True, w=0.5), _rec("b", "d2", _vec(0, 1))])
    assert store.count() == 2
    hits = store.get(["b", "missing", "a"])  # in the order asked, missing ids skipped
    assert [h.id for h in hits] == ["b", "a"]
    a = hits[1]
    assert a.text == "text of a" and a.doc_id == "d1"
    assert dict(a.metadata) == {"source": "d1.txt", "start": 3, "flag": True, "w": 0.5}
    assert store.get([]) == []


def vectors_come_back_by_id(store: VectorStore) -> None:
    store.add([_rec("a", "d1", _vec(1, 2)), _rec("b", "d1", _vec(0, 1))])
    got = store.vectors(["b", "missing", "a"])
    assert sorted(got) == ["a", "b"]
    assert np.allclose(got["a"], _vec(1, 2), atol=1e-6) and np.allclose(got["b"], _vec(0, 1), atol=1e-6)
    assert store.vectors([]) == {}


def upsert_replaces(store: VectorStore) -> None:
    store.add([_rec("a", "d1", _vec(1, 0))])
    store.add([Record(id="a", vector=_vec(0, 1), text="new text", doc_id="d1", metadata={"source": "x"})])
    assert store.count() == 1
    (hit,) = store.get(["a"])
    assert hit.text == "new text" and hit.metadata["source"] == "x"
    assert store.nearest(_vec(0, 1), 1)[0][0] == "a"


def nearest_ranks_by_cosine(store: VectorStore) -> None:
    store.add([_rec("x", "d", _vec(1, 0)), _rec("y", "d", _vec(1, 1)), _rec("z", "d", _vec(0, 1))])
    ranked = store.nearest(_vec(1, 0.2), 3)
    assert [i for i, _ in ranked] == ["x", "y", "z"]
    expected = [float(_vec(1, 0.2) @ v) for v in (_vec(1, 0), _vec(1, 1), _vec(0, 1))]
    assert [s for _, s in ranked] == pytest.approx(expected, abs=1e-4)
    assert len(store.nearest(_vec(1, 0), 10)) == 3  # k beyond the collection: what there is
    assert [i for i, _ in store.nearest(_vec(0, 1), 1)] == ["z"]


def iter_chunks_pages_through_everything(store: VectorStore) -> None:
    store.add([_rec(f"c{i}", f"d{i % 2}", _vec(1, i)) for i in range(5)])
    hits = list(store.iter_chunks(batch=2))
    assert sorted(h.id for h in hits) == [f"c{i}" for i in range(5)]
    assert {h.id: h.doc_id for h in hits}["c3"] == "d1"


def delete_doc_chunks_by_document(store: VectorStore) -> None:
    store.add([_rec("a1", "A", _vec(1)), _rec("a2", "A", _vec(1, 1)), _rec("b1", "B", _vec(0, 1))])
    assert store.delete_doc_chunks(["A"]) == 2
    assert [h.id for h in store.iter_chunks()] == ["b1"]
    assert store.delete_doc_chunks(["A", "nope"]) == 0
    assert store.delete_doc_chunks([]) == 0
    store.add([_rec("c1", "C", _vec(1))])
    assert store.delete_doc_chunks(["B", "C"]) == 2 and store.count() == 0


def documents_commit_and_list(store: VectorStore) -> None:
    v0 = store.corpus_version()
    store.put_documents([_doc("d1", n_chunks=2), _doc("d2")])
    v1 = store.corpus_version()
    assert v1 is not None and v1 != v0
    assert sorted(store.document_ids()) == ["d1", "d2"]
    listed = {d.id: d for d in store.documents()}
    assert listed["d1"].metadata == {"path": "/d/d1.txt", "n_chunks": 2} and listed["d1"].text == ""
    one = store.document("d1")
    assert one is not None and one.text == "the whole of d1" and one.metadata["n_chunks"] == 2
    assert store.document("nope") is None
    store.delete_documents(["d1"])
    assert store.document_ids() == ["d2"] and store.corpus_version() not in (v0, v1)
    v2 = store.corpus_version()
    store.mark_changed()
    assert store.corpus_version() not in (None, v2)


def long_texts_round_trip_and_shrink(store: VectorStore) -> None:
    # Several of the Chroma store's text parts (and a multi-byte character on a part boundary).
    long = "".join(f"sentence {i} über alles. " for i in range(20_000))
    store.put_documents([DocRecord(id="big", vector=_vec(1.0), text=long, metadata={"path": "/d/big.txt"})])
    got = store.document("big")
    assert got is not None and got.text == long
    store.put_documents([_doc("big")])  # a new, shorter version leaves nothing of the old one behind
    again = store.document("big")
    assert again is not None and again.text == "the whole of big"
    store.delete_documents(["big"])
    assert store.document("big") is None
    store.put_documents([DocRecord(id="big", vector=_vec(1.0), text="", metadata={"path": "/d/big.txt"})])
    empty = store.document("big")
    assert empty is not None and empty.text == ""
    store.reset()
    store.check_model(MODEL, DIM)
    store.put_documents([DocRecord(id="big", vector=_vec(1.0), text="x", metadata={"path": "/d/big.txt"})])
    assert (store.document("big") or _doc("none")).text == "x"


def model_guard_refuses_another_model(store: VectorStore) -> None:
    store.check_model(MODEL, DIM)  # the same model: fine
    store.add([_rec("a", "d", _vec(1))])
    with pytest.raises(EmbeddingMismatchError, match="rebuild"):
        store.check_model("another-model", DIM)
    assert store.count() == 1  # nothing was dropped


def reset_empties_everything(store: VectorStore) -> None:
    store.add([_rec("a", "d", _vec(1))])
    store.put_documents([_doc("d")])
    before = store.corpus_version()
    store.reset()
    assert store.count() == 0 and store.document_ids() == [] and store.documents() == []
    assert store.corpus_version() != before
    store.check_model(MODEL, DIM)
    store.add([_rec("b", "d", _vec(1))])
    assert store.count() == 1


def update_metadata_merges_keys(store: VectorStore) -> None:
    store.add([_rec("a", "d1", _vec(1), start=3), _rec("b", "d1", _vec(0, 1))])
    store.update_metadata(["a"], [{"start": 5, "extra": "x"}])
    (a, b) = store.get(["a", "b"])
    assert dict(a.metadata) == {"source": "d1.txt", "start": 5, "extra": "x"} and a.text == "text of a"
    assert dict(b.metadata) == {"source": "d1.txt"}
    assert store.nearest(_vec(1), 1)[0][0] == "a"  # the vector is kept


def chunks_outside_and_markers(store: VectorStore) -> None:
    store.add([_rec("a", "A", _vec(1)), _rec("b", "B", _vec(0, 1)), _rec("c", "C", _vec(1, 1))])
    assert sorted(h.id for h in store.chunks_outside(["A"])) == ["b", "c"]
    assert sorted(h.doc_id for h in store.chunks_outside(["A", "B"])) == ["C"]
    assert len(store.chunks_outside([])) == 3
    assert store.marker("format") is None
    store.set_marker("format", "v1")
    store.set_marker("format", "v2")
    assert store.marker("format") == "v2"


CASES: list[Callable[[VectorStore], None]] = [
    chunks_round_trip,
    vectors_come_back_by_id,
    upsert_replaces,
    nearest_ranks_by_cosine,
    iter_chunks_pages_through_everything,
    delete_doc_chunks_by_document,
    documents_commit_and_list,
    long_texts_round_trip_and_shrink,
    model_guard_refuses_another_model,
    reset_empties_everything,
    update_metadata_merges_keys,
    chunks_outside_and_markers,
]
