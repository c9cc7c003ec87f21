"""The eval runner end to end: `rag eval --json --compare` on a tiny question set, and the llama-index baseline.

(Scoring, aggregation, reports and the gate with known answers: tests/unit/test_scoring.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SEEDS

from eval.runner import METRICS

#: Every metric but the mean answer length, which is undefined when every answer abstains, and the
#: injection metric, defined only on questions over planted instructions.
REQUIRED = set(METRICS) - {"answer_words", "injection_clean"}


# -- the command, end to end ----------------------------------------------------------------------
def _tiny_questions(path: Path) -> Path:
    wanted = {"q001", "q069", "q080"}  # factoid, followup (with history), unanswerable
    lines = [
        line
        for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] in wanted
    ]
    assert len(lines) == 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rag_eval_json_compare(tmp_path: Path) -> None:
    questions = _tiny_questions(tmp_path / "tiny.jsonl")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_STORE_PATH"] = str(tmp_path / ".rag" / "chroma")
    env["RAG_INGEST_SEEDS_PATH"] = str(SEEDS)
    args = ["eval", "--json", "--compare", "--mode", "extractive", "--questions", str(questions)]
    args += ["--report-dir", str(tmp_path / "reports"), "-q"]
    r = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d["metrics"]) >= REQUIRED and set(d["baseline"]) >= REQUIRED
    assert all(isinstance(d["metrics"][k], float) for k in REQUIRED)
    assert set(d["by_type"]) == {"factoid", "followup", "unanswerable"}
    assert d["questions"]["n"] == 3 and d["mode"] == "extractive" and len(d["settings_hash"]) == 12
    assert d["baseline"]["abstention_recall"] == 0.0  # the baseline never abstains
    assert {"rag-cited", "llama-index-core", "chromadb", "onnxruntime"} <= set(d["versions"])
    assert Path(d["report"]["json"]).is_file() and Path(d["report"]["md"]).is_file()
    assert not (tmp_path / ".rag").exists()  # a fresh temporary store, not the configured one


def _rag(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_STORE_PATH"] = str(tmp_path / ".rag" / "chroma")
    env["RAG_INGEST_SEEDS_PATH"] = str(SEEDS)
    rag = str(Path(sys.executable).parent / "rag")
    return subprocess.run([rag, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _count(path: Path, qtype: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(1 for line in lines if line.strip() and json.loads(line)["type"] == qtype)


def test_rag_eval_dev_runs_the_development_sets(tmp_path: Path) -> None:
    r = _rag(
        ["eval", "--dev", "--json", "--mode", "extractive", "--type", "unanswerable", "--no-report", "-q"], tmp_path
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    dev, licences = ROOT / "eval" / "dev.jsonl", ROOT / "eval" / "corpora" / "licenses" / "dev.jsonl"
    assert d["questions"] == {"path": str(dev), "n": _count(dev, "unanswerable")}
    got = d["corpora"]["licenses"]["questions"]
    assert got == {"path": str(licences), "n": _count(licences, "unanswerable")}
    assert set(d["by_type"]) == {"unanswerable"} and d["metrics"]["abstention_recall"] is not None


def test_rag_eval_dev_refuses_the_gate_and_another_question_file(tmp_path: Path) -> None:
    r = _rag(["eval", "--dev", "--check", "-q"], tmp_path)
    assert r.returncode == 2 and "held-out" in r.stderr and "--dev" in r.stderr
    r = _rag(["eval", "--dev", "--questions", str(ROOT / "eval" / "questions.jsonl.missing"), "-q"], tmp_path)
    assert r.returncode == 2 and "leave out --questions" in r.stderr


def test_baseline_cites_top_node_and_never_abstains(tmp_path: Path) -> None:
    from eval.baseline import Baseline

    base = Baseline(SEEDS, workdir=tmp_path / "baseline")
    try:
        assert base.nodes >= 5
        for q in ("Why does ISKP oppose the Taliban?", "Who won the 2022 FIFA World Cup?"):
            a = base.ask(q)
            assert not a.abstained and a.mode == "baseline"
            assert a.text.endswith(" [1]") and [c.n for c in a.citations] == [1]
            assert 1 <= len(a.retrieved) <= 2
            c = a.citations[0]
            assert c.quote == a.retrieved[0].text.strip() and c.source == a.retrieved[0].source
            assert c.quote in base.source_text(c.source)
    finally:
        base.close()
