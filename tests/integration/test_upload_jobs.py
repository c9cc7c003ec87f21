"""The upload queue against a real store: a small upload is not held up by a large one, progress is
counted in passages, and one failed upload touches no other."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS

from rag.settings import Settings

SMALL = "The Varnholt lighthouse was built in 1873 by the engineer Mara Quillfeather on the island of Sket.\n"
_n = itertools.count()


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[Any]:
    from rag.pipeline import Pipeline

    p = Pipeline.from_settings(Settings(store={"path": tmp_path / "data" / "store"}, ingest={"batch_chunks": 4}))
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def queue(pipe: Any) -> Iterator[Any]:
    from rag.ui.jobs import UploadQueue

    q = UploadQueue(pipe)
    try:
        yield q
    finally:
        q.close()


def _incoming(tmp_path: Path, name: str, text: str) -> tuple[str, Path]:
    """What gradio hands over for one uploaded file: its original name and a temporary copy."""
    folder = tmp_path / "incoming" / str(next(_n))
    folder.mkdir(parents=True)
    (folder / "upload.bin").write_text(text, encoding="utf-8")
    return name, folder / "upload.bin"


def _long_text(paragraphs: int) -> str:
    texts = [p for s in sorted(SEEDS.glob("*.txt")) for p in s.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return "\n\n".join(f"Part {i}. {texts[i % len(texts)]}" for i in range(paragraphs))


def test_a_small_upload_finishes_while_a_large_one_is_still_ingesting(pipe: Any, queue: Any, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def done(job: Any) -> None:
        if job.name == "small.txt":
            seen["large"] = (big.state, big.line(), big.written, big.total)
            seen["sources"] = sorted(i.source for i in pipe.sources())  # what a question would search now

    queue.on_done.append(done)
    big, small = queue.submit(
        [_incoming(tmp_path, "large.txt", _long_text(120)), _incoming(tmp_path, "small.txt", SMALL)]
    )
    assert (big.state, small.state) == ("queued", "queued") or big.state == "ingesting"  # accepted at once
    assert queue.wait([small.id], timeout=240)
    assert small.outcome.kind == "added" and small.outcome.message == "added as small.txt (1 passage)"
    state, line, written, total = seen["large"]
    assert state == "ingesting" and 0 <= written < total, seen
    assert re.fullmatch(r"ingesting: [\d,]+ of [\d,]+ passages", line)
    assert seen["sources"] == ["small.txt"]  # the small document is answerable before the large one is in
    assert queue.wait([big.id], timeout=600)
    assert big.outcome.kind == "added" and big.written == big.total > 4
    assert sorted(i.source for i in pipe.sources()) == ["large.txt", "small.txt"]
    assert {i.source: i.chunks for i in pipe.sources()}["large.txt"] == big.total
    a = pipe.ask("Who built the Varnholt lighthouse?")
    assert a.citations and a.citations[0].source == "small.txt"


def test_a_failed_upload_is_reported_on_its_own_line_and_touches_no_other(
    pipe: Any, queue: Any, tmp_path: Path
) -> None:
    jobs = queue.submit(
        [
            _incoming(tmp_path, "blank.txt", "   \n\n   \n"),  # passes the checks, refused by the ingest
            _incoming(tmp_path, "tool.exe", "MZ"),  # refused at once
            _incoming(tmp_path, "good.md", SMALL),
        ]
    )
    blank, tool, good = jobs
    assert tool.state == "done" and tool.outcome.kind == "refused" and "not a supported file type" in tool.line()
    assert queue.wait([j.id for j in jobs], timeout=120)
    assert blank.outcome.kind == "refused" and blank.outcome.message == "no text in the file"
    assert good.outcome.kind == "added"
    assert queue.results([j.id for j in jobs]).summary() == "1 added · 2 refused"
    assert sorted(p.name for p in (tmp_path / "data" / "uploads").iterdir()) == ["good.md"]  # refused ones deleted
    assert [i.source for i in pipe.sources()] == ["good.md"]


def test_the_same_file_twice_is_ingested_once(pipe: Any, queue: Any, tmp_path: Path) -> None:
    first, second = queue.submit([_incoming(tmp_path, "notes.txt", SMALL), _incoming(tmp_path, "notes.txt", SMALL)])
    assert queue.wait([first.id, second.id], timeout=120)
    assert (first.outcome.kind, second.outcome.kind) == ("added", "unchanged")
    assert [i.source for i in pipe.sources()] == ["notes.txt"]
