"""An empty store left by an interrupted first seed ingest resumes seeding; a user's empty store is an error."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import SEEDS

from rag.pipeline import Pipeline
from rag.settings import Settings

RAG = str(Path(sys.executable).parent / "rag")


def _env(cwd: Path, seeds: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_STORE_PATH=str(cwd / ".rag" / "chroma"), RAG_INGEST_SEEDS_PATH=str(seeds), **extra)
    return env


def _big_seeds(folder: Path) -> Path:
    """A seeds folder with one document long enough to be killed half-way."""
    folder.mkdir()
    texts = [p for s in sorted(SEEDS.glob("*.txt")) for p in s.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    (folder / "long.txt").write_text("\n\n".join(f"Part {i}. {texts[i % len(texts)]}" for i in range(160)), "utf-8")
    return folder


def _kill_mid_document(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, int]:
    """Run ``cmd``, SIGKILL it once a third of its first document's chunks are written; (written, total)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    written = total = 0
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(rb"0/1 files, (\d+)/(\d+) chunks", line)
            if m and int(m[1]) >= int(m[2]) // 3 > 0:
                written, total = int(m[1]), int(m[2])
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert 0 < written < total, "the ingest was not caught half-way"
    return written, total


def _ask(cwd: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    cmd = [RAG, "ask", "Why does ISKP oppose the Taliban?", *flags]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_an_interrupted_first_seed_ingest_resumes_seeding(tmp_path: Path) -> None:
    seeds = _big_seeds(tmp_path / "seeds")
    env = _env(tmp_path, seeds, RAG_INGEST_BATCH_CHUNKS="8")
    written, total = _kill_mid_document([RAG, "ask", "Why does ISKP oppose the Taliban?"], tmp_path, env)
    with Pipeline.from_settings(Settings(store={"path": tmp_path / ".rag" / "chroma"})) as pipe:
        assert pipe.sources() == [] and pipe.store.count() >= written  # empty, with slices written
    r = _ask(tmp_path, env, "--json")
    assert r.returncode == 0, r.stderr
    assert "first ingest of the seeds was interrupted; resuming" in r.stderr and "Traceback" not in r.stderr
    reused = int(re.search(r"(\d+) already stored, reused", r.stderr)[1])  # type: ignore[index]
    assert reused >= written and f"{total - reused} chunks embedded" in r.stderr
    assert json.loads(r.stdout)["citations"]
    with Pipeline.from_settings(Settings(store={"path": tmp_path / ".rag" / "chroma"})) as pipe:
        assert [i.chunks for i in pipe.sources()] == [total]
        assert pipe.store.marker("auto_seed") == "done"


def test_a_users_interrupted_first_ingest_is_still_an_error(tmp_path: Path) -> None:
    docs = _big_seeds(tmp_path / "mine")
    env = _env(tmp_path, SEEDS, RAG_INGEST_BATCH_CHUNKS="8")
    _kill_mid_document([RAG, "ingest", str(docs)], tmp_path, env)  # the user's own ingest: no seed marker
    r = _ask(tmp_path, env)
    assert r.returncode == 1 and "exists but holds no documents" in r.stderr, r.stderr
    assert "ingesting" not in r.stderr and "resuming" not in r.stderr
    with Pipeline.from_settings(Settings(store={"path": tmp_path / ".rag" / "chroma"})) as pipe:
        assert pipe.sources() == []  # nothing seeded into it
