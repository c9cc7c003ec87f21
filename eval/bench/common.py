"""What every benchmark shares: timing summaries, interleaved runs, the machine, settings, child processes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = [
    "COLD_QUESTION",
    "HERE",
    "PHASES",
    "QUESTIONS_PATH",
    "REPORTS_DIR",
    "bench_questions",
    "bench_settings",
    "child_env",
    "code_version",
    "du_mb",
    "interleaved",
    "load_avg",
    "machine",
    "rag_command",
    "ratio_interval",
    "reset_peak",
    "rss_mb",
    "say",
    "summarize",
]

HERE = Path(__file__).resolve().parents[1]
QUESTIONS_PATH = HERE / "questions.jsonl"
REPORTS_DIR = HERE / "reports"
COLD_QUESTION = "Why does ISKP oppose the Taliban?"
PHASES = ("embed", "retrieve", "answer")


def summarize(ms: Sequence[float]) -> dict[str, float]:
    """Median, p95, mean, min and max of a list of timings (ms), with their count."""
    from eval.metrics import percentile

    if not ms:
        raise ValueError("no timings to summarize")
    return {
        "n": float(len(ms)),
        "median_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": sum(ms) / len(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def ratio_interval(
    a: Sequence[float], b: Sequence[float], *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A paired bootstrap interval for median(a) / median(b): ``a[i]`` and ``b[i]`` were timed on the
    same question in the same round, so rounds are resampled whole."""
    from eval.metrics import percentile

    if not a or len(a) != len(b):
        raise ValueError("paired timings of equal, non-zero length are needed")
    rng = random.Random(seed)
    n = len(a)
    ratios = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median(a[i] for i in idx) / statistics.median(b[i] for i in idx))
    tail = (1.0 - level) / 2 * 100
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


def interleaved(
    systems: Mapping[str, Callable[[str], object]], questions: Sequence[str], repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Time each system on the same questions, alternating which goes first; warm-ups untimed."""
    names = list(systems)
    for i in range(warmup):
        for name in names:
            systems[name](questions[i % len(questions)])
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        q = questions[i % len(questions)]
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            t = time.perf_counter()
            systems[name](q)
            out[name].append((time.perf_counter() - t) * 1000)
    return out


def load_avg() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, platform and Python of this machine."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def code_version() -> dict[str, Any]:
    """The checkout's commit and its uncommitted changes under rag/, store/ and eval/ (read-only git)."""
    root = HERE.parent

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return ""
        return proc.stdout.rstrip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip()
    changed = [line[3:] for line in git("status", "--porcelain", "--", "rag", "store", "eval").splitlines()]
    return {"commit": commit or "unknown", "changed": changed}


def rss_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MB; 0 when unavailable."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    m = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux ≥ 4.0), so each phase reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def du_mb(path: Path) -> float:
    """The size on disk of every file under ``path``, in MB."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / f).stat().st_size
    return total / 1024 / 1024


def bench_questions(path: Path = QUESTIONS_PATH) -> list[str]:
    """The eval questions the bench times: those without a conversation history."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            # A follow-up question needs its history; the bench times single questions.
            if not item.get("history"):
                out.append(str(item["question"]))
    return out


def bench_settings(store: Path, seeds: Path) -> Settings:
    """The environment's settings with our store, the seeds and extractive answers."""
    from rag.settings import Settings

    s = Settings()
    s.store.path = store
    s.store.cache_dir = None
    s.ingest.seeds_path = seeds
    s.answer.mode = "extractive"
    return s


def child_env(store: Path | None = None) -> dict[str, str]:
    """The environment of a child process: ours, extractive answers, unbuffered, optionally a store."""
    env = dict(os.environ)
    env["ANONYMIZED_TELEMETRY"] = "False"
    env["RAG_ANSWER_MODE"] = "extractive"
    env["PYTHONUNBUFFERED"] = "1"
    if store is not None:
        env["RAG_STORE_PATH"] = str(store)
    return env


def rag_command() -> list[str]:
    """The ``rag`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]


def say(msg: str, quiet: bool) -> None:
    """A progress line on stderr (none when ``quiet``)."""
    if not quiet:
        print(f"bench: {msg}", file=sys.stderr, flush=True)
