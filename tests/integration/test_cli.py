"""The ``rag`` command as a user runs it: a fresh process, a fresh store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_STORE_PATH"] = str(cwd / ".rag" / "chroma")
    env["RAG_INGEST_SEEDS_PATH"] = str(ROOT / "seeds")
    return subprocess.run(
        [str(Path(sys.executable).parent / "rag"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_ask_on_empty_store_ingests_then_answers_json(tmp_path: Path) -> None:
    r = _rag("ask", "Why does ISKP oppose the Taliban?", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ingesting" in r.stderr
    d = json.loads(r.stdout)
    assert d["mode"] == "extractive" and not d["abstained"] and len(d["citations"]) >= 2

    r2 = _rag("ask", "Who won the 2022 FIFA World Cup?", cwd=tmp_path)
    assert r2.returncode == 0 and "could not find" in r2.stdout and "ingesting" not in r2.stderr

    r3 = _rag("sources", cwd=tmp_path)
    assert r3.returncode == 0 and "5 documents" in r3.stdout

    r4 = _rag("ingest", cwd=tmp_path)
    assert r4.returncode == 0 and "5 unchanged" in r4.stdout


def test_empty_question_is_a_clear_error(tmp_path: Path) -> None:
    r = _rag("ask", "  ", cwd=tmp_path)
    assert r.returncode == 2
    assert "question is empty" in r.stderr and "Traceback" not in r.stderr


def test_help_lists_commands(tmp_path: Path) -> None:
    r = _rag("--help", cwd=tmp_path)
    assert r.returncode == 0 and "ingest" in r.stdout and "ask" in r.stdout and "examples" in r.stdout


def test_ingest_reports_failures_in_exit_code(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("The Taliban and ISIS-K have clashed in Nangarhar province for years now.\n")
    (docs / "bad.txt").write_bytes(b"\x00\x01\x02" * 100)
    r = _rag("ingest", str(docs), "-q", cwd=tmp_path)
    assert r.returncode == 1
    assert "1 added" in r.stdout and "1 failed" in r.stdout and "bad.txt" in r.stderr
