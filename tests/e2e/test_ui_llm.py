"""The chat UI in LLM mode against the real local llama.cpp server (SmolLM2-135M): Stop closes the
LLM stream within a second and leaves the partial answer marked as stopped."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, free_port

from rag.settings import Settings

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")


def _generating(url: str) -> bool:
    """True while the server is generating for some request (llama.cpp's /slots)."""
    with urllib.request.urlopen(f"{url}/slots", timeout=2) as r:
        return any(slot.get("is_processing") for slot in json.load(r))


@pytest.fixture
def llm_app(seeded_store: Path, llm_url: str) -> Iterator[tuple[str, Any]]:
    from rag.pipeline import Pipeline
    from rag.ui import app as ui

    settings = Settings(
        store={"path": seeded_store},
        ingest={"seeds_path": SEEDS},
        answer={"mode": "llm"},
        # Two sources: the model starts writing sooner (its prompt is most of the wait), and Stop is what is tested.
        retrieve={"top_k": 2},
        llm={"base_url": llm_url, "api_key": "none", "max_tokens": 1500, "timeout": 120},
    )
    pipe = Pipeline.from_settings(settings).warm()
    demo = ui.build_app(pipe)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **ui.launch_options(settings))  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/", pipe
    finally:
        demo.close()
        pipe.close()


def test_stop_closes_the_llm_stream_within_a_second(llm_app: tuple[str, Any], llm_server_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(llm_app[0], wait_until="load")
            # Typed before Gradio has mounted its components, a question is wiped and never sent.
            page.locator("#answer").wait_for()
            box = page.locator("#question textarea")
            question = "Tell me everything the documents say about ISKP and the Taliban, in detail."
            box.fill(question)
            expect(box).to_have_value(question)
            box.press("Enter")
            progress = page.locator("#answer .turn .progress")
            expect(progress).to_contain_text("waiting for the LLM", timeout=30_000)
            expect(progress).to_contain_text("writing (LLM)", timeout=120_000)  # the first words arrived
            assert _generating(llm_server_url), "the model finished before Stop could be tested"
            t0 = time.perf_counter()
            page.locator("#stop").click()
            while _generating(llm_server_url) and time.perf_counter() - t0 < 5:
                time.sleep(0.02)
            closed_s = time.perf_counter() - t0
            print(f"\nStop → LLM stream closed in {closed_s:.3f} s")
            assert closed_s < 1.0 and not _generating(llm_server_url)
            turn = page.locator("#answer .turn").first
            expect(turn.locator(".stopped")).to_contain_text("Stopped", timeout=1_000)
            expect(page.locator("#stop")).to_be_disabled()
            # The session goes on: the next question starts (and can be stopped too).
            box.fill("Why does ISKP oppose the Taliban?")
            box.press("Enter")
            second = page.locator("#answer .turn").nth(1)
            expect(second.locator(".progress")).to_be_visible(timeout=10_000)
            expect(page.locator("#stop")).to_be_enabled()
            page.locator("#stop").click()
            expect(second.locator(".stopped")).to_contain_text("Stopped", timeout=2_000)
        finally:
            browser.close()
