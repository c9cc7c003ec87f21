"""Chroma server mode: a real `chroma run` server, and clear errors when it is down or hangs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEEDS, free_port, start_chroma_server

from rag.errors import StoreUnavailableError
from rag.pipeline import Pipeline
from rag.settings import Settings

pytestmark = pytest.mark.slow


_opened: list[Pipeline] = []


def request_close(pipe: Pipeline) -> None:
    """Close this pipeline's HTTP connections when the test ends."""
    _opened.append(pipe)


@pytest.fixture(autouse=True)
def _close_pipelines() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _server_settings(port: int, tmp_path: Path, collection: str = "rag") -> Settings:
    return Settings(
        chroma={"host": "127.0.0.1", "port": port, "timeout": 10},
        store={"path": tmp_path / "unused", "collection": collection, "cache_dir": tmp_path / "cache"},
        ingest={"seeds_path": SEEDS},
    )


def test_ingest_and_ask_through_a_chroma_server(chroma_server: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = chroma_server
    pipe = Pipeline.from_settings(_server_settings(port, tmp_path))
    request_close(pipe)
    report = pipe.ingest()
    assert len(report.added) == 5 and not report.failed
    assert pipe.store.location == f"http://127.0.0.1:{port}"
    a = pipe.ask("Why does ISKP oppose the Taliban?")
    assert len(a.citations) >= 2
    for c in a.citations:
        assert pipe.document(c.source).text[c.start : c.end] == c.quote
    # A second client (another machine, in real life) sees the same corpus and skips it all.
    other = Pipeline.from_settings(_server_settings(port, tmp_path / "other"))
    request_close(other)
    assert len(other.sources()) == 5
    assert len(other.ingest().skipped) == 5
    # Nothing was written to the local store path.
    assert not (tmp_path / "unused").exists()


def test_server_data_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    proc = start_chroma_server(tmp_path / "data", port)
    try:
        with Pipeline.from_settings(_server_settings(port, tmp_path)) as pipe:
            pipe.ingest()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    proc = start_chroma_server(tmp_path / "data", port)
    try:
        with Pipeline.from_settings(_server_settings(port, tmp_path)) as pipe:
            assert len(pipe.sources()) == 5
            assert pipe.ask("Who executed Omar Khorasani?").citations
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_server_down_is_a_clear_error_within_seconds(tmp_path: Path) -> None:
    port = free_port()  # nothing listens
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        Pipeline.from_settings(_server_settings(port, tmp_path))
    assert time.monotonic() - t0 < 5
    assert f"127.0.0.1:{port}" in str(info.value) and "chroma run" in str(info.value)


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    # A port that accepts connections and then says nothing: the Chroma client alone would hang forever.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=str(port)):
            Pipeline.from_settings(_server_settings(port, tmp_path))
        assert time.monotonic() - t0 < 10
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        listener.close()


def test_cli_names_the_unreachable_server(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_CHROMA_HOST="127.0.0.1", RAG_CHROMA_PORT=str(port))
    r = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "ask", "Why does ISKP oppose the Taliban?"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1
    assert f"127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr
