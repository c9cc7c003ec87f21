"""A bounded load test: 20 concurrent clients ask through the UI's `ask` API for 20 s while an ingest runs.

RAG_LOAD_SECONDS sets a longer run (e.g. 60).

Loopback only; it stops by itself. Figures are printed and written to tests/artifacts/load.json
(latency is recorded, never asserted).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SEEDS, make_corpus

from rag.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.load]

CLIENTS = 20
SECONDS = float(os.environ.get("RAG_LOAD_SECONDS", "20"))
QUESTIONS = [
    "Why does ISKP oppose the Taliban?",
    "What is the difference between the Taliban and ISIS?",
    "Who won the 2022 FIFA World Cup?",
    "When did the Islamic State form its Khorasan province?",
    "What did the Taliban promise in the Doha agreement?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_twenty_clients_asking_while_an_ingest_runs(tmp_path: Path) -> None:
    from gradio_client import Client

    from rag.pipeline import Pipeline
    from rag.ui import app as ui

    settings = Settings(store={"path": tmp_path / "store"}, ingest={"seeds_path": SEEDS})
    pipe = Pipeline.from_settings(settings)
    pipe.ingest()
    pipe.warm()
    demo = ui.build_app(pipe)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    latencies: list[float] = []
    answered_at: list[float] = []  # monotonic time each answer arrived
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client(i: int) -> None:
        c = Client(url, verbose=False)
        n = 0
        while time.monotonic() < deadline:
            q = QUESTIONS[(i + n) % len(QUESTIONS)]
            t = time.perf_counter()
            try:
                out: Any = c.predict(q, api_name="/ask")
                ok = isinstance(out, str) and ("[1]" in out or "could not find" in out)
                if not ok:
                    raise AssertionError(f"unexpected answer: {out!r:.200}")
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)
                answered_at.append(time.monotonic())
            n += 1
        c.close()

    extra = tmp_path / "extra"
    make_corpus(extra, 12)
    ingest_report: dict[str, Any] = {}

    def ingester() -> None:
        time.sleep(min(10.0, SECONDS / 4))
        t = time.perf_counter()
        start = time.monotonic()
        report = pipe.ingest([extra])
        ingest_report.update(added=len(report.added), seconds=time.perf_counter() - t, window=(start, time.monotonic()))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=ingester))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 300)
    finally:
        demo.close()
    assert not errors, errors[:3]
    assert ingest_report.get("added") == 12
    # The clients were answered while the ingest ran, not only before or after it.
    start, end = ingest_report.pop("window")
    assert any(start < at < end for at in answered_at)
    # The ingested documents are now answerable through the same app's pipeline.
    assert len(pipe.sources()) == 17
    lat = sorted(latencies)
    figures = {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "requests": len(lat),
        "errors": len(errors),
        "throughput_rps": round(len(lat) / SECONDS, 2),
        "p50_ms": round(statistics.median(lat), 1),
        "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
        "max_ms": round(lat[-1], 1),
        "ingest_during_load": ingest_report,
        "load_average": os.getloadavg(),
    }
    out_dir = ROOT / "tests" / "artifacts"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "load.json").write_text(json.dumps(figures, indent=2))
    print("\nload test:", json.dumps(figures))
    assert len(lat) >= CLIENTS
