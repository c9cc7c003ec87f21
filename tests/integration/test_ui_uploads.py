"""UI uploads against a real store: collision-free names, unchanged re-uploads, explicit replace,
refused files deleted; and Pipeline.remove / reindex, which the Sources tab calls."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings

ALICE = "Alice's report. The Quillon bridge was finished in 1911 by the mason Orla Venn.\n"
BOB = "Bob's report. The Quillon ferry stopped running in 1923 after the storm of that winter.\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd.md", "passwd.md"),
        ("C:\\Users\\me\\My Notes (final).PDF", "My_Notes_final.pdf"),
        (".hidden.html", "hidden.html"),
        ("<script>.txt", "script.txt"),
        ("...", "document"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    from rag.ui.uploads import safe_filename

    assert safe_filename(name) == expected


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[object]:
    from rag.pipeline import Pipeline

    p = Pipeline.from_settings(Settings(store={"path": tmp_path / "data" / "store"}))
    try:
        yield p
    finally:
        p.close()


_uploads = itertools.count()


def _incoming(tmp_path: Path, name: str, text: str | bytes) -> tuple[str, Path]:
    """What gradio hands over for one uploaded file: its original name and a temporary copy."""
    folder = tmp_path / "incoming" / str(next(_uploads))
    folder.mkdir(parents=True)
    path = folder / "upload.bin"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return name, path


def test_names_that_sanitise_alike_are_kept_side_by_side(pipe: object, tmp_path: Path) -> None:
    from rag.ui.uploads import ingest_uploads

    first = ingest_uploads(pipe, [_incoming(tmp_path, "report 1.txt", ALICE)])
    second = ingest_uploads(pipe, [_incoming(tmp_path, "report_1.txt", BOB)])
    assert [o.kind for o in first.outcomes] == ["added"] and [o.kind for o in second.outcomes] == ["added"]
    uploads = tmp_path / "data" / "uploads"
    stored = sorted(p.name for p in uploads.iterdir())
    assert len(stored) == 2 and "report_1.txt" in stored
    assert {p.read_text() for p in uploads.iterdir()} == {ALICE, BOB}  # nobody's file was overwritten
    assert len(pipe.sources()) == 2  # type: ignore[attr-defined]
    texts = {pipe.document(s.source).text.strip() for s in pipe.sources()}  # type: ignore[attr-defined]
    assert texts == {ALICE.strip(), BOB.strip()}


def test_same_content_again_is_unchanged_and_replace_is_explicit(pipe: object, tmp_path: Path) -> None:
    from rag.ui.uploads import ingest_uploads

    ingest_uploads(pipe, [_incoming(tmp_path, "notes.txt", ALICE)])
    again = ingest_uploads(pipe, [_incoming(tmp_path, "notes.txt", ALICE)])
    assert [o.kind for o in again.outcomes] == ["unchanged"] and again.summary() == "1 unchanged"
    uploads = tmp_path / "data" / "uploads"
    assert [p.name for p in uploads.iterdir()] == ["notes.txt"]

    replaced = ingest_uploads(pipe, [_incoming(tmp_path, "notes.txt", BOB)], replace=True)
    assert [o.kind for o in replaced.outcomes] == ["updated"], replaced.outcomes
    assert [p.name for p in uploads.iterdir()] == ["notes.txt"] and (uploads / "notes.txt").read_text() == BOB
    assert pipe.document("notes.txt").text.strip() == BOB.strip()  # type: ignore[attr-defined]


def test_refused_uploads_are_counted_and_deleted(pipe: object, tmp_path: Path) -> None:
    from rag.ui.uploads import ingest_uploads

    bad = _incoming(tmp_path, "tool.exe", b"MZ")
    empty = _incoming(tmp_path, "empty.html", b"")
    blank = _incoming(tmp_path, "blank.txt", "   \n\n   \n")  # accepted by size, refused by the ingest
    good = _incoming(tmp_path, "good.md", ALICE)
    results = ingest_uploads(pipe, [bad, empty, blank, good])
    kinds = {o.name: o.kind for o in results.outcomes}
    assert kinds == {"tool.exe": "refused", "empty.html": "refused", "blank.txt": "refused", "good.md": "added"}
    assert results.summary() == "1 added · 3 refused"
    assert not bad[1].exists() and not empty[1].exists()
    assert [p.name for p in (tmp_path / "data" / "uploads").iterdir()] == ["good.md"]


def test_too_large_is_refused_with_the_limit(tmp_path: Path) -> None:
    from rag.pipeline import Pipeline
    from rag.ui.uploads import ingest_uploads

    pipe = Pipeline.from_settings(Settings(store={"path": tmp_path / "store"}, ui={"max_upload_mb": 0.001}))
    (o,) = ingest_uploads(pipe, [_incoming(tmp_path, "big.md", "x" * 5000)]).outcomes
    assert o.kind == "refused" and "limit is 0.001 MB" in o.message


def test_pipeline_remove_and_reindex(pipe: object, tmp_path: Path) -> None:
    from rag.errors import RagError
    from rag.ui.uploads import ingest_uploads

    ingest_uploads(pipe, [_incoming(tmp_path, "a.txt", ALICE), _incoming(tmp_path, "b.txt", BOB)])
    uploads = tmp_path / "data" / "uploads"
    report = pipe.reindex("a.txt")  # type: ignore[attr-defined]
    assert report.added == [str(uploads / "a.txt")] and report.chunks >= 1
    assert pipe.ask("When was the Quillon bridge finished?").citations[0].source == "a.txt"  # type: ignore[attr-defined]

    info = pipe.remove("a.txt")  # type: ignore[attr-defined]
    assert info.source == "a.txt" and (uploads / "a.txt").exists()  # the file is kept unless asked
    assert [s.source for s in pipe.sources()] == ["b.txt"]  # type: ignore[attr-defined]
    answer = pipe.ask("When was the Quillon bridge finished?")  # type: ignore[attr-defined]
    assert all(c.source != "a.txt" for c in answer.citations)

    pipe.remove("b.txt", delete_file=True)  # type: ignore[attr-defined]
    assert not (uploads / "b.txt").exists() and pipe.is_empty()  # type: ignore[attr-defined]
    with pytest.raises(RagError, match=r"no document 'b\.txt'"):
        pipe.remove("b.txt")  # type: ignore[attr-defined]
