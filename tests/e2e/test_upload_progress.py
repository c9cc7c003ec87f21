"""Background uploads in headless Debian chromium: a small file's result appears while a large one
is still ingesting, the large one's progress counts up in a live status box, nothing breaks."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS

from rag.settings import Settings

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SMALL = "The Varnholt lighthouse was built in 1873 by the engineer Mara Quillfeather on the island of Sket.\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The app over a new store that writes slices of 4 passages (so a long file takes seconds)."""
    from rag.pipeline import Pipeline
    from rag.ui import app as ui

    # One embedding thread: the large file takes seconds on an idle machine too, not only on a busy one.
    settings = Settings(
        store={"path": tmp_path / "data" / "store"},
        ingest={"seeds_path": SEEDS, "batch_chunks": 4},
        embed={"threads": 1},
    )
    pipe = Pipeline.from_settings(settings).warm()
    demo = ui.build_app(pipe)
    port = _free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **ui.launch_options(settings)
    )
    try:
        yield f"http://127.0.0.1:{port}/", pipe
    finally:
        demo.close()
        pipe.close()


@pytest.fixture
def page(served: tuple[str, Any]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (tests/run.sh installs it when run as root)")
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            pg = browser.new_page(viewport={"width": 1360, "height": 900})
            pg.set_default_timeout(30_000)
            errors: list[str] = []
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.goto(served[0], wait_until="load")
            pg.locator("#question textarea").wait_for()
            yield pg
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()


def _long_text(paragraphs: int) -> str:
    texts = [p for s in sorted(SEEDS.glob("*.txt")) for p in s.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return "\n\n".join(f"Part {i}. {texts[i % len(texts)]}" for i in range(paragraphs))


def _serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [v["id"] for v in violations if v["impact"] in ("serious", "critical")]


def _lines(page: Any) -> dict[str, str]:
    """The status box's line per file name."""
    out = {}
    for text in page.locator("#upload-status li").all_inner_texts():
        name, _, rest = text.partition(":")
        out[name.strip("✓✗=… ").strip()] = rest.strip()
    return out


def test_a_small_upload_shows_its_result_while_a_large_one_ingests(
    page: Any, served: tuple[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    large = tmp_path / "large.txt"
    large.write_text(_long_text(800), encoding="utf-8")  # ~330 passages
    small = tmp_path / "small.txt"
    small.write_text(SMALL, encoding="utf-8")
    page.get_by_role("tab", name="Sources").click()
    expect(page.get_by_role("status", name="Uploads")).to_have_attribute("aria-live", "polite")  # heard as it changes
    upload = page.locator("#upload input[type=file]")
    upload.set_input_files([str(large)])
    expect(page.get_by_role("status", name="Uploads")).to_contain_text("large.txt", timeout=30_000)
    upload.set_input_files([str(small)])  # another upload while the first is being ingested

    progress: list[tuple[int, int]] = []
    snapshot: dict[str, str] = {}
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        lines = _lines(page)
        m = re.fullmatch(r"ingesting: ([\d,]+) of ([\d,]+) passages", lines.get("large.txt", ""))
        if m:
            progress.append((int(m[1].replace(",", "")), int(m[2].replace(",", ""))))
        if not snapshot and lines.get("small.txt", "").startswith("added"):
            snapshot = lines
            expect(page.locator("#header")).to_contain_text("1 document")  # the small one is in the store already
            serious = _serious_violations(page)  # the status box with a progress bar in it
        if lines.get("large.txt", "").startswith("added"):
            break
        time.sleep(0.2)
    assert snapshot, f"the small upload's result never appeared: {lines}"
    assert snapshot["small.txt"] == "added as small.txt (1 passage)"
    assert snapshot["large.txt"].startswith("ingesting"), snapshot  # its result came while the large one ran
    assert not serious, serious
    assert lines["large.txt"].startswith("added as large.txt"), lines
    totals = {t for _, t in progress}
    assert len(totals) == 1 and len({w for w, _ in progress}) >= 2, progress  # the count went up as slices landed
    # Seen part-way (the last slice may show "339 of 339" while the document's record is committed).
    total = totals.pop()
    assert min(w for w, _ in progress) < total and max(w for w, _ in progress) <= total, progress
    expect(page.locator("#header")).to_contain_text("2 documents")
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error" not in body
