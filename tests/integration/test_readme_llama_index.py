"""The README's "Use it from llama-index" section, run as written: every python block, in order, in one namespace."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def _blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Use it from llama-index\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.timeout(1800)  # a few LLM answers from a 135M model on one thread
def test_the_readme_section_runs(
    seeded_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("llm_url")
    blocks = _blocks()
    assert len(blocks) == 4
    shutil.copytree(seeded_store, tmp_path / ".rag" / "chroma")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAG_STORE_PATH")  # the default, .rag/chroma, as a reader's would be
    # A reader's settings, from the first block on (its pipeline answers the tool's call in the second,
    # once the endpoint is there; these alone bring in no LLM): short LLM answers (the blocks print them;
    # only `a`'s mode is checked) from two sources, where no block names its own top_k (shorter prompts).
    monkeypatch.setenv("RAG_LLM_MAX_TOKENS", "32")
    monkeypatch.setenv("RAG_LLM_TIMEOUT", "600")
    monkeypatch.setenv("RAG_RETRIEVE_TOP_K", "2")
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, block in enumerate(blocks):
            if i == 1:
                # The section brings in an LLM here ("With llama-index's own machinery and an LLM"):
                # the first block runs as a reader without one would, so the LLM answers only the
                # blocks that are about it (each LLM call costs seconds of prompt processing).
                monkeypatch.setenv("OPENAI_BASE_URL", url)
                monkeypatch.setenv("OPENAI_API_KEY", "none")
            exec(compile(block, "README.md", "exec"), namespace)
    printed = out.getvalue()
    assert "[1]" in str(namespace["response"]) and "chunk_id" in printed
    assert namespace["answer"].mode == "extractive"  # type: ignore[attr-defined]  # the first block: no LLM yet
    a = namespace["a"]
    # 'extractive' only as the never-worse fallback: nothing the model wrote verified.
    assert a.mode == "llm" or "showing the extractive answer" in (a.notice or "")  # type: ignore[attr-defined]
    assert "'qala.txt'" in printed.splitlines()[-1]
