"""LLM mode against the real local llama.cpp server: never worse than extractive, never a cut sentence
cited, never an injected line cited, and the served model's name on the answer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SEEDS

from rag.verify.cite import cited_sentences

pytestmark = pytest.mark.slow

CORPUS = ROOT / "eval" / "corpora" / "injection"
QUESTIONS = [json.loads(line) for line in (CORPUS / "questions.jsonl").read_text().splitlines() if line.strip()]
SERVED = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Two sources per prompt: each injection question's planted document ranks first (asserted below), and
# a second source keeps a distractor in the prompt; the model's prompt processing is this file's cost.
TOP_K = 2


@pytest.fixture(scope="module")
def store(seeded_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds plus the injection corpus (a copy of the session's seeded store)."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    path = tmp_path_factory.mktemp("llm-inj") / "store"
    shutil.copytree(seeded_store, path)
    with Pipeline.from_settings(Settings(store={"path": path}, ingest={"seeds_path": SEEDS})) as pipe:
        assert not pipe.ingest([CORPUS / "docs"]).failed
    return path


def _pipeline(store: Path, url: str, max_tokens: int, **parts: Any) -> Any:
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    settings = Settings(
        store={"path": store},
        ingest={"seeds_path": SEEDS},
        retrieve={"top_k": TOP_K},
        llm={"base_url": url, "api_key": "none", "max_tokens": max_tokens, "timeout": 180},
    )
    return Pipeline.from_settings(settings, **parts)


@pytest.fixture(scope="module")
def pipe(store: Path, llm_url: str) -> Iterator[Any]:
    p = _pipeline(store, llm_url, 120)
    yield p
    p.close()


def _in_flagged(chunk: Any, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``chunk`` inside one of its flagged sentences."""
    at = chunk.text.lower().find(phrase)
    start = chunk.start + at
    return at >= 0 and any(a <= start and start + len(phrase) <= b for a, b in chunk.flagged_spans())


@pytest.mark.parametrize("item", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_injection_document_in_llm_mode(pipe: Any, item: dict[str, Any]) -> None:
    answer = pipe.ask(item["question"], mode="llm")
    # The model was shown the planted instructions: every injected phrase is inside a flagged sentence of a source.
    assert len(answer.retrieved) == TOP_K
    for phrase in item["injected"]:
        assert any(_in_flagged(r.chunk, phrase) for r in answer.retrieved), phrase
    flagged = {d.source: [(f.start, f.end) for f in pipe.document(d.source).flagged] for d in pipe.sources()}
    for phrase in item["injected"]:
        assert phrase not in answer.text.lower(), answer.text
    for c in answer.citations:
        for q in c.quotes:
            assert not any(a < q.end and q.start < b for a, b in flagged[c.source]), q.text
            assert all(p not in q.text.lower() for p in item["injected"]), q.text


def test_nothing_verified_falls_back_to_the_extractive_answer(store: Path, llm_url: str) -> None:
    # The real server answers, and a judge that accepts no sentence makes sure nothing verifies
    # (with the real judge, whether the model's few words hold depends on what it writes, which
    # varies with the server's prompt cache): the extractive answer must come back instead.
    from rag.testing import WordOverlapJudge

    with _pipeline(store, llm_url, 16, judge=WordOverlapJudge(min_overlap=1.01)) as p:
        question = "Why does ISKP oppose the Taliban?"
        extractive = p.ask(question, mode="extractive")
        events = list(p.ask_stream(question, mode="llm"))
    answer = events[-1].answer
    assert answer is not None and not extractive.abstained
    assert not answer.abstained
    assert answer.text == extractive.text and answer.mode == "extractive"
    assert answer.notice and "showing the extractive answer" in answer.notice
    assert answer.served_model == SERVED
    # The stream shows exactly the answer: nothing unverified was sent before the fallback.
    assert "".join(e.text for e in events if e.kind == "delta") == answer.text


def test_no_fallback_when_extractive_abstains_too(store: Path, llm_url: str) -> None:
    with _pipeline(store, llm_url, 16) as p:
        answer = p.ask("What is the boiling point of mercury on Jupiter?", mode="llm")
    assert answer.abstained and answer.citations == []


def test_a_sentence_cut_by_max_tokens_is_never_shown_cited(store: Path, llm_url: str) -> None:
    cut = 0
    with _pipeline(store, llm_url, 16) as p:
        for question in (
            "Why does ISKP oppose the Taliban?",
            "What is the Haqqani network?",
            "Who won the 2022 World Cup?",
        ):
            answer = p.ask(question, mode="llm")
            cut += answer.usage.get("sentences_cut", 0)  # kept on a fallback answer too
            if answer.mode != "llm":
                continue
            for sentence, numbers in cited_sentences(answer.text):
                if numbers:
                    assert sentence.rstrip()[-1] in ".!?…\"'”’»)", sentence
    assert cut >= 1  # 16 tokens cut at least one of the three answers


def test_served_model_is_shown(pipe: Any) -> None:
    from rag.cli import format_sources

    answer = pipe.ask("How long is the Tamsin river?", mode="llm")
    assert answer.served_model == SERVED
    assert answer.to_dict()["served_model"] == SERVED
    assert SERVED in format_sources(answer)
