"""The pipeline on its public seams, with the test doubles of rag.testing: no model file, no Chroma."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag.errors import DocumentNotFoundError, LLMError, LLMTimeoutError, RagError
from rag.pipeline import Pipeline
from rag.protocols import Answerer, ChatModel, Embedder, SupportJudge, VectorStore
from rag.settings import Settings
from rag.testing import HashEmbedder, InMemoryStore, ScriptedChat, WordOverlapJudge
from rag.verify.cite import CANNOT_ANSWER

DOCS = {
    "harbour.txt": (
        "The Old Harbour Report\n\n"
        "The harbour of Port Elland was dredged in 1998 to admit container ships. "
        "Its lighthouse was automated in 2004 and no keeper has lived there since. "
        "Fishing boats moved to the northern quay after the dredging."
    ),
    "orchard.txt": (
        "Notes on the Valley Orchards\n\n"
        "The valley orchards grow mostly apples and a few pears. "
        "A late frost in 2011 destroyed half of the apple blossom. "
        "Growers now cover the young trees with fleece in April."
    ),
}


def _docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(parents=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _pipe(tmp_path: Path, **parts: object) -> Pipeline:
    settings = Settings(store={"path": tmp_path / "store"}, ingest={"seeds_path": _docs(tmp_path)})
    return Pipeline(settings, embedder=HashEmbedder(), store=InMemoryStore(), **parts)  # type: ignore[arg-type]


def test_doubles_satisfy_the_protocols() -> None:
    embedder: Embedder = HashEmbedder()
    store: VectorStore = InMemoryStore()
    chat: ChatModel = ScriptedChat("x")
    judge: SupportJudge = WordOverlapJudge()
    assert isinstance(embedder, Embedder) and store.count() == 0 and chat.model and not judge.supports("a", [])


def test_ensure_corpus_ingests_once_and_answers_extractively(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path)
    said: list[str] = []
    report = pipe.ensure_corpus(notify=said.append)
    assert report is not None and len(report.added) == 2 and "empty" in said[0] and "2 added" in said[1]
    assert pipe.ensure_corpus() is None  # not empty any more: nothing happens
    a = pipe.ask("When did a late frost destroy the apple blossom?", mode="extractive")
    assert not a.abstained and [c.source for c in a.citations] == ["orchard.txt"]
    for c in a.citations:
        text = pipe.document(c.source).text
        assert all(text[q.start : q.end] == q.text for q in c.quotes)
    assert any("2011" in q.text for c in a.citations for q in c.quotes)


def test_document_not_found_is_a_lookup_error(tmp_path: Path) -> None:
    pipe = _pipe(tmp_path)
    pipe.ensure_corpus()
    with pytest.raises(DocumentNotFoundError, match="rag sources") as info:
        pipe.document("nowhere.txt")
    assert isinstance(info.value, LookupError) and isinstance(info.value, RagError)
    assert issubclass(LLMTimeoutError, LLMError)


def test_llm_answer_through_a_scripted_model_is_verified(tmp_path: Path) -> None:
    chat = ScriptedChat(
        "The lighthouse was automated in 2004 and no keeper has lived there since. [1] The moon is made of cheese. [2]"
    )
    pipe = _pipe(tmp_path, chat_model=chat, judge=WordOverlapJudge())
    pipe.ensure_corpus()
    a = pipe.ask("When was the lighthouse automated?")  # 'auto': a given chat model answers
    assert a.mode == "llm" and not a.abstained
    assert "2004" in a.text and a.unverified == [1]
    prompt_words = sum(len(m["content"].split()) for m in chat.prompts[0])
    assert a.usage["prompt_tokens"] == prompt_words and a.usage["completion_tokens"] > 0
    assert "llm" in a.timings_ms and "llm_first_token" in a.timings_ms


def test_llm_failure_falls_back_to_the_extractive_answer(tmp_path: Path) -> None:
    chat = ScriptedChat(error=LLMTimeoutError("the LLM endpoint did not answer within 1 s"))
    pipe = _pipe(tmp_path, chat_model=chat, judge=WordOverlapJudge())
    pipe.ensure_corpus()
    a = pipe.ask("When did a late frost destroy the apple blossom?")
    assert a.mode == "extractive" and a.citations and a.notice and "did not answer" in a.notice


def test_concurrent_llm_answers_keep_their_own_usage(tmp_path: Path) -> None:
    """Each answer's usage comes from its own completion, however the two streams interleave."""
    gate = threading.Barrier(2, timeout=10)

    class Interleaving(ScriptedChat):
        def reply(self, messages: list[dict[str, str]]) -> str:
            gate.wait()  # both calls are streaming at once
            return "The lighthouse was automated in 2004. [1]"

    questions = ["When was the lighthouse automated?", "When were the fishing boats moved to the northern quay?"]
    solo = ScriptedChat("The lighthouse was automated in 2004. [1]")
    pipe_solo = _pipe(tmp_path / "solo", chat_model=solo, judge=WordOverlapJudge())
    pipe_solo.ensure_corpus()
    expected = [pipe_solo.ask(q).usage["prompt_tokens"] for q in questions]
    assert expected[0] != expected[1]
    pipe = _pipe(tmp_path / "both", chat_model=Interleaving(), judge=WordOverlapJudge())
    pipe.ensure_corpus()
    got: dict[int, int] = {}

    def run(i: int) -> None:
        got[i] = pipe.ask(questions[i]).usage["prompt_tokens"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [got[0], got[1]] == expected


def test_an_injected_answerer_is_used(tmp_path: Path) -> None:
    class Nothing:
        def select(self, query, retrieved):  # type: ignore[no-untyped-def]
            from rag.answer.extractive import Selection

            return Selection([], 0.0, [])

    answerer: Answerer = Nothing()
    pipe = _pipe(tmp_path, answerer=answerer)
    pipe.ensure_corpus()
    a = pipe.ask("When was the lighthouse of Port Elland automated?", mode="extractive")
    assert a.abstained and a.text == CANNOT_ANSWER and pipe.answerer is answerer


def test_the_doubles_load_neither_onnxruntime_nor_chromadb(tmp_path: Path) -> None:
    code = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
import test_seams
test_seams.test_llm_answer_through_a_scripted_model_is_verified(Path({str(tmp_path)!r}))
heavy = [m for m in ("onnxruntime", "chromadb", "llama_index", "gradio") if m in sys.modules]
assert not heavy, heavy
print("light")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "light", r.stderr
