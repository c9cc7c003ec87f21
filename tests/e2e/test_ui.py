"""The chat UI: rendering and upload rules (fast), then the running app in headless Debian chromium
and through the official gradio_client (slow)."""

from __future__ import annotations

import itertools
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SEEDS

from rag.errors import RagError
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Quote, ScoredChunk, Source, StreamEvent

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "tests" / "screenshots" / "chat.png"
HEADLINE = "Why does ISKP oppose the Taliban?"
FOLLOW_UP = "And what did the Taliban do about them?"
TIMEOUT_MS = 20_000

# A made-up document: nothing in the seeds can answer questions about it, and its text carries
# markup that must be shown as text, never run.
UPLOAD_TEXT = """The Varnholt Lighthouse

The Varnholt lighthouse was built in 1873 by the engineer Mara Quillfeather on the island of Sket.
Its lamp burned whale oil until 1911, when the keepers switched to paraffin.
The keeper's log of 1902 contains the line <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>.
The lighthouse was decommissioned in 1987 and is now a museum of coastal navigation.
"""


# -- fast tests: rendering, escaping, uploads, error handling -----------------------------------


def _chunk(text: str, start: int = 0, source: str = "doc.txt", doc_id: str = "d1") -> Chunk:
    return Chunk(
        chunk_id=f"{doc_id}-0000",
        doc_id=doc_id,
        source=source,
        text=text,
        start=start,
        end=start + len(text),
        index=0,
        meta=Source(title="A <b>title</b>", publisher="Pub & Co", date="2021-08"),
    )


def _answer(text: str, quote: str, passage: str, unverified: list[int] | None = None) -> Answer:
    chunk = _chunk(passage, start=100)
    at = passage.index(quote)
    q = Quote(text=quote, start=100 + at, end=100 + at + len(quote), chunk_id=chunk.chunk_id, score=0.9)
    citation = Citation(
        n=1,
        source=chunk.source,
        title="A <b>title</b>",
        quote=quote,
        chunk_id=chunk.chunk_id,
        score=0.9,
        start=q.start,
        end=q.end,
        publisher="Pub & Co",
        date="2021-08",
        doc_id="d1",
        quotes=(q,),
    )
    return Answer(
        question="q",
        text=text,
        citations=[citation],
        retrieved=[ScoredChunk(chunk=chunk, score=0.8, rank=1, dense_score=0.7, lexical_score=0.5)],
        abstained=False,
        unverified=unverified or [],
    )


def test_answer_and_evidence_html_escape_document_text() -> None:
    from rag.ui import app as ui

    evil = 'The keeper wrote <img src=x onerror="alert(1)"> in the log.'
    passage = "Before it. " + evil + " After it."
    answer = _answer(evil + " [1]", evil, passage)
    chat = ui._Chat([ui._Turn(question="<script>alert(2)</script>?", answer=answer)])
    page = ui._render_chat(chat) + ui._render_evidence(chat, pipeline=None)  # type: ignore[arg-type]
    assert "<img" not in page and "<script" not in page and "<b>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "Pub &amp; Co" in page
    # the chip links to its evidence entry, and the quote is marked inside its passage
    assert 'href="#ev-0-1"' in page and 'id="ev-0-1"' in page
    assert "<mark>The keeper wrote &lt;img" in page
    assert "Before it." in page and "After it." in page


def test_unverified_sentences_are_marked_and_unknown_markers_are_not_links() -> None:
    from rag.ui import app as ui

    passage = "Alpha is first. Beta is second."
    answer = _answer("Alpha is first. [1] Beta is second. [1] Gamma is made up. [3]", "Alpha is first.", passage, [2])
    html = ui._answer_body(answer, 0)
    assert html.count('class="unverified"') == 1
    assert re.search(r'class="unverified"[^>]*>Gamma is made up\.</span><span class="badge-unverified">', html)
    assert 'class="chip missing"' in html and 'href="#ev-0-3"' not in html
    assert html.count('href="#ev-0-1"') == 2


def test_abstention_renders_as_text_without_evidence() -> None:
    from rag.ui import app as ui
    from rag.verify.cite import CANNOT_ANSWER

    answer = Answer(question="q", text=CANNOT_ANSWER, citations=[], retrieved=[], abstained=True)
    chat = ui._Chat([ui._Turn(question="Who won the 2022 FIFA World Cup?", answer=answer)])
    assert CANNOT_ANSWER in ui._render_chat(chat)
    assert "No passage in the documents supports an answer" in ui._render_evidence(chat, pipeline=None)  # type: ignore[arg-type]


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
    from rag.ui.app import safe_filename

    assert safe_filename(name) == expected


class _FakeReport:
    def __init__(self, added: list[str]) -> None:
        self.added, self.updated, self.skipped, self.failed, self.chunks = added, [], [], [], 2


class _FakePipeline:
    """Records ingests; raises from ask_stream when told to."""

    def __init__(self, settings: Settings, error: Exception | None = None) -> None:
        self.settings = settings
        self.error = error
        self.ingested: list[Path] = []

    def ingest(self, paths: list[Path]) -> _FakeReport:
        self.ingested.extend(paths)
        return _FakeReport([str(p) for p in paths])

    def ask_stream(self, question: str, **kwargs: Any) -> Iterator[StreamEvent]:
        yield StreamEvent(kind="delta", text="Half an answer")
        assert self.error is not None
        raise self.error


def test_upload_rules_reject_per_file_and_copy_safely(tmp_path: Path) -> None:
    from rag.ui import app as ui

    settings = Settings(store={"path": tmp_path / "data" / "store"}, ui={"max_upload_mb": 0.001})
    pipe = _FakePipeline(settings)
    files = tmp_path / "incoming"
    files.mkdir()
    (files / "good.txt").write_text("fine")
    (files / "bad.exe").write_bytes(b"MZ")
    (files / "big.md").write_text("x" * 5000)
    (files / "empty.html").write_text("")

    class Upload(str):
        orig_name: str

    def up(name: str, orig: str) -> Upload:
        u = Upload(str(files / name))
        u.orig_name = orig
        return u

    status = ui._ingest_uploads(
        pipe,  # type: ignore[arg-type]
        [up("good.txt", "../My good <notes>.txt"), up("bad.exe", "bad.exe"), up("big.md", "big.md"),
         up("empty.html", "empty.html")],
        lambda *a, **k: None,  # type: ignore[arg-type]
    )  # fmt: skip
    assert pipe.ingested == [tmp_path / "data" / "uploads" / "My_good_notes.txt"]
    assert pipe.ingested[0].read_text() == "fine"
    assert "1 of 4 files ingested" in status
    assert "bad.exe</b>: not a supported file type" in status
    assert "big.md</b>: too large" in status and "limit is 0.001 MB" in status
    assert "empty.html</b>: the file is empty" in status
    assert "&lt;notes&gt;" in status and "<notes>" not in status


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RagError("the store at /x cannot be opened: check RAG_STORE_PATH"), "the store at /x cannot be opened"),
        (ZeroDivisionError("secret internals"), "Something went wrong while answering"),
    ],
)
def test_errors_are_readable_messages(tmp_path: Path, error: Exception, message: str) -> None:
    from rag.ui import app as ui

    pipe = _FakePipeline(Settings(store={"path": tmp_path / "store"}), error=error)
    *_, (transcript, _evidence, box, chat) = ui._respond(pipe, "Anything?", ui._Chat(), 5, "extractive", False)  # type: ignore[arg-type]
    assert message in transcript
    assert "Traceback" not in transcript and "secret internals" not in transcript and "ZeroDivision" not in transcript
    assert box == "" and chat.turns[0].error is not None
    assert chat.history() == []  # a failed turn is not context for follow-ups


def test_chat_streams_sentence_by_sentence_then_shows_evidence(pipeline: Any) -> None:
    from rag.ui import app as ui

    steps = list(ui._respond(pipeline, HEADLINE, ui._Chat(), 5, "extractive", False))
    expected = pipeline.ask(HEADLINE)
    sentences = len(ui.cited_sentences(expected.text))
    assert len(steps) == 1 + sentences + 1  # the question, one step per sentence, the final answer
    transcripts = [t for t, _, _, _ in steps]
    assert "Searching the documents" in transcripts[0]
    assert all(len(a) < len(b) for a, b in itertools.pairwise(transcripts[1 : sentences + 1]))
    assert 'id="ev-0-1"' not in steps[-2][1] and 'id="ev-0-1"' in steps[-1][1]
    chat = steps[-1][3]
    assert chat.history() == [HEADLINE] and chat.turns[0].answer.text == expected.text


class _ScriptedPipeline:
    """Replays stream events and records what ask_stream was called with."""

    def __init__(self, events: list[StreamEvent]) -> None:
        self.events = events
        self.calls: list[dict[str, Any]] = []

    def ask_stream(self, question: str, *, top_k: int, history: list[str], mode: str | None = None) -> Any:
        self.calls.append({"question": question, "top_k": top_k, "history": history, "mode": mode})
        return iter(self.events)


def test_llm_draft_tokens_show_greyed_without_chips_and_settings_pass_through() -> None:
    from rag.ui import app as ui

    final = _answer("Alpha is first. [1]", "Alpha is first.", "Alpha is first.")
    pipe = _ScriptedPipeline(
        [
            StreamEvent(kind="token", text="Alpha is "),
            StreamEvent(kind="token", text="first [1]. Be"),
            StreamEvent(kind="delta", text="Alpha is first. [1]"),
            StreamEvent(kind="token", text="ta <i>is</i>"),
            StreamEvent(kind="answer", text=final.text, answer=final),
        ]
    )
    earlier = ui._Chat([ui._Turn(question="Earlier?", answer=final), ui._Turn(question="Failed?", error="x")])
    steps = list(ui._respond(pipe, "  Next   one? ", earlier, 7.0, "llm", True))  # type: ignore[arg-type]
    assert pipe.calls == [{"question": "  Next   one? ", "top_k": 7, "history": ["Earlier?"], "mode": "llm"}]
    first_draft = steps[1][0].split('<div class="turn" data-turn="2">')[1]
    assert '<span class="draft"' in first_draft and "Alpha is" in first_draft and "chip" not in first_draft
    assert "first." in steps[2][0].split('<div class="turn" data-turn="2">')[1]  # markers stripped from the draft
    last_partial = steps[4][0].split('<div class="turn" data-turn="2">')[1]
    assert 'href="#ev-2-1"' in last_partial and "ta &lt;i&gt;is&lt;/i&gt;" in last_partial
    final_turn = steps[-1][0].split('<div class="turn" data-turn="2">')[1]
    assert "draft" not in final_turn and "Next one?" in final_turn
    assert "Retrieved chunks (1)" in steps[-1][1]


def test_rag_package_does_not_import_gradio() -> None:
    code = "import sys, rag, rag.cli, rag.pipeline; sys.exit(1 if 'gradio' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0


def test_launch_wires_loopback_login_and_page_options(
    seeded_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gradio as gr

    from rag.ui import app as ui

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: calls.append(kw))
    settings = Settings(
        store={"path": seeded_store},
        ingest={"seeds_path": SEEDS},
        ui={"username": "ana", "password": "s3cret"},
    )
    assert ui.launch(settings=settings) == 0
    (kw,) = calls
    assert kw["server_name"] == "127.0.0.1" and kw["server_port"] == 7860 and kw["share"] is False
    assert kw["auth"] == ("ana", "s3cret") and kw["inbrowser"] is False
    assert kw["css"] and kw["theme"] is not None and kw["max_file_size"]
    assert "ingesting" not in capsys.readouterr().err  # a seeded store is used as it is


# -- the running app ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The chat app over its own freshly seeded store (the upload test writes to it)."""
    from rag.pipeline import Pipeline
    from rag.ui import app as ui

    base = tmp_path_factory.mktemp("ui")
    settings = Settings(store={"path": base / "store"}, ingest={"seeds_path": SEEDS})
    pipe = Pipeline.from_settings(settings)
    pipe.ingest()
    pipe.warm()
    demo = ui.build_app(pipe)
    port = _free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **ui.launch_options(settings),
    )
    try:
        yield f"http://127.0.0.1:{port}/", pipe
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (tests/run.sh installs it when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(app: tuple[str, Any], browser: Any) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(app[0], wait_until="load")  # Gradio keeps a heartbeat stream open: never "networkidle"
    pg.locator("#answer").wait_for()
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _ask(page: Any, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


@pytest.mark.slow
def test_page_opens_on_empty_chat_with_corpus_line_and_examples(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#header")).to_contain_text("5 documents")
    expect(page.locator("#header")).to_contain_text("Taliban")
    expect(page.locator("#answer")).to_contain_text("Ask a question about the documents")
    assert page.locator("#answer .turn").count() == 0
    examples = page.locator("#examples button")
    assert 4 <= examples.count() <= 6
    expect(examples.first).to_have_text(HEADLINE)
    expect(page.locator("#settings")).to_be_visible()


@pytest.mark.slow
def test_headline_answer_chips_open_their_evidence(page: Any, app: tuple[str, Any]) -> None:
    from playwright.sync_api import expect

    expected = app[1].ask(HEADLINE)
    assert len(expected.citations) >= 2
    _ask(page, HEADLINE)
    answer = page.locator("#answer")
    expect(answer.locator(".turn .meta")).to_contain_text("extractive")  # the final answer has arrived
    expect(answer.locator("a.chip[data-n='1']").first).to_be_visible()
    first_sentence = expected.text.split(" [")[0]
    expect(answer).to_contain_text(first_sentence)
    expect(page.locator("#question textarea")).to_have_value("")

    # Each source is listed with its metadata and the quoted sentence highlighted in its passage.
    for c in expected.citations:
        entry = page.locator(f"#ev-0-{c.n}")
        expect(entry).to_contain_text(c.title)
        expect(entry).to_contain_text(c.source)
        expect(entry.locator("mark").first).to_contain_text(c.quotes[0].text[:60])

    # Clicking the last chip brings its evidence into view, opened and highlighted.
    last = expected.citations[-1]
    page.locator(f"#ev-0-{last.n}").evaluate("el => { el.open = false; }")
    page.locator(f"#answer a.chip[data-n='{last.n}']").first.click()
    entry = page.locator(f"#ev-0-{last.n}")
    expect(entry).to_have_attribute("open", "")
    expect(entry).to_have_class(re.compile(r"\bev-focus\b"))
    expect(entry.locator("mark").first).to_be_in_viewport()
    expect(entry.locator("mark").first).to_contain_text(last.quote[:60])

    # Back to [1] for the README screenshot: answer and evidence side by side.
    page.locator("#answer a.chip[data-n='1']").first.click()
    expect(page.locator("#ev-0-1 mark").first).to_be_in_viewport()
    page.wait_for_timeout(600)  # let the smooth scroll settle
    page.locator("#evidence").evaluate("el => { el.scrollTop = 0; }")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.mouse.move(5, 5)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 20_000


@pytest.mark.slow
def test_follow_up_uses_the_conversation(page: Any, app: tuple[str, Any]) -> None:
    from playwright.sync_api import expect

    expected = app[1].ask(FOLLOW_UP, history=[HEADLINE])
    assert expected.standalone_question  # the pipeline made the follow-up standalone
    page.locator("#examples button", has_text=HEADLINE).click()  # an example question asks at once
    turns = page.locator("#answer .turn")
    expect(turns.nth(0).locator(".meta")).to_be_visible()
    _ask(page, FOLLOW_UP)
    expect(turns).to_have_count(2)
    second = turns.nth(1)
    expect(second.locator(".meta")).to_contain_text("searched as")
    expect(second).to_contain_text(expected.text.split(" [")[0])
    expect(second.locator("a.chip").first).to_be_visible()
    # The evidence panel shows the latest answer; a chip of the first answer brings back its evidence.
    expect(page.locator("#ev-1-1")).to_be_visible()
    expect(page.locator("#ev-0-1")).to_be_hidden()
    turns.nth(0).locator("a.chip[data-n='1']").first.click()
    expect(page.locator("#ev-0-1 mark").first).to_be_in_viewport()
    expect(page.locator("#ev-1-1")).to_be_hidden()
    # "Clear" starts a new conversation.
    page.locator("#clear").click()
    expect(turns).to_have_count(0)


@pytest.mark.slow
def test_upload_a_document_and_ask_about_it(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    doc = tmp_path / "varnholt lighthouse.txt"
    doc.write_text(UPLOAD_TEXT)
    bad = tmp_path / "table.csv"
    bad.write_text("a,b\n1,2\n")
    page.get_by_role("tab", name="Sources").click()
    expect(page.locator("#sources-table")).to_contain_text("001_8ce81ff0f6d118bf.txt")
    page.locator("#upload input[type=file]").set_input_files([str(doc), str(bad)])
    status = page.locator("#upload-status")
    expect(status).to_contain_text("varnholt lighthouse.txt", timeout=60_000)
    expect(status).to_contain_text("added as varnholt_lighthouse.txt")
    expect(status).to_contain_text("table.csv: not a supported file type")
    expect(page.locator("#sources-table")).to_contain_text("varnholt_lighthouse.txt")
    expect(page.locator("#header")).to_contain_text("6 documents")
    expect(page.locator("#header")).to_contain_text("plus 1 added document")

    # Open it: the cleaned text is shown as text; its markup is never rendered or run.
    page.locator("#sources-table").get_by_text("varnholt_lighthouse.txt").click()
    view = page.locator("#doc-view")
    expect(view).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert view.locator("img, script").count() == 0

    page.get_by_role("tab", name="Chat").click()
    _ask(page, "Who built the Varnholt lighthouse?")
    answer = page.locator("#answer")
    expect(answer.locator(".turn .meta")).to_be_visible()
    expect(answer).to_contain_text("Mara Quillfeather")
    expect(answer.locator("a.chip").first).to_be_visible()
    expect(page.locator("#evidence")).to_contain_text("varnholt_lighthouse.txt")
    assert page.evaluate("window.__pwned") is None


@pytest.mark.slow
def test_gradio_client_ask_returns_cited_answer(app: tuple[str, Any]) -> None:
    from gradio_client import Client

    client = Client(app[0], verbose=False)
    assert "/ask" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    text = client.predict(HEADLINE, api_name="/ask")
    assert isinstance(text, str) and "[1]" in text
    assert text == app[1].ask(HEADLINE).text


@pytest.mark.slow
def test_rag_chat_command_serves_the_seeds(tmp_path: Path) -> None:
    """The README's first command: `rag chat` on an empty store ingests the seeds and serves the chat."""
    import signal
    import time
    import urllib.request

    from gradio_client import Client

    port = _free_port()
    rag = Path(sys.executable).with_name("rag")
    cmd = [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]
    log = tmp_path / "chat.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*cmd, "chat", "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "rag chat did not serve its page within 120 s"
                time.sleep(0.3)
            assert "[1]" in Client(url, verbose=False).predict(HEADLINE, api_name="/ask")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
    text = log.read_text()
    assert rc == 0, text
    assert "is empty; ingesting" in text and "5 added" in text
    assert f"http://127.0.0.1:{port}" in text


def test_screenshot_is_committed_for_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "tests/screenshots/chat.png" in readme
    assert SCREENSHOT.exists()
