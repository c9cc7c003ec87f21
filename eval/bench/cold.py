"""(c) Cold start: ``rag ask`` as a fresh process on an existing store, its imports and phases, ``rag --help``."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.bench.common import COLD_QUESTION, child_env, load_avg, rag_command

__all__ = ["bench_cold", "parse_importtime", "time_process"]

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

_COLD_PHASES = """\
import json, sys, time
t0 = time.perf_counter()
from rag.cli import _parser
_parser()
t1 = time.perf_counter()
from rag.pipeline import Pipeline
from rag.settings import Settings
t2 = time.perf_counter()
pipe = Pipeline.from_settings(Settings())
t3 = time.perf_counter()
pipe.embedder.embed_query("warm up")
t4 = time.perf_counter()
pipe.warm()
t5 = time.perf_counter()
a = pipe.ask(sys.argv[1])
t6 = time.perf_counter()
print(json.dumps({"import rag.cli + parser": t1 - t0, "import rag.pipeline": t2 - t1,
    "open store": t3 - t2, "load model + first embedding": t4 - t3, "lexical index (cache)": t5 - t4,
    "first ask": t6 - t5}))
"""


def parse_importtime(stderr: str) -> dict[str, Any]:
    """Where a ``-X importtime`` log's time goes.

    ``top_modules``: the ten largest cumulative times (a chain of parents and children);
    ``top_packages``: per top-level package, the cumulative time of the imports that entered it
    from another package, and which module did (what removing that import would save).
    """
    rows = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append((int(m[1]), int(m[2]), len(m[3]), m[4]))
    entered: dict[str, int] = {}
    via: dict[str, tuple[int, str]] = {}
    stack: list[tuple[int, str]] = []
    # The log lists children before their parent: walk it backwards to see parents first.
    for _, cumulative, depth, name in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        stack.append((depth, name))
        root = name.split(".")[0]
        if parent.split(".")[0] != root:
            entered[root] = entered.get(root, 0) + cumulative
            if cumulative > via.get(root, (-1, ""))[0]:
                via[root] = (cumulative, parent or "(top level)")
    names = {r[3] for r in rows}
    return {
        "total_ms": sum(r[0] for r in rows) / 1000,
        "modules": len(rows),
        "top_modules": [
            {"module": r[3], "cumulative_ms": r[1] / 1000, "self_ms": r[0] / 1000}
            for r in sorted(rows, key=lambda r: -r[1])[:10]
        ],
        "top_packages": [
            {"package": k, "cumulative_ms": v / 1000, "via": via[k][1]}
            for k, v in sorted(entered.items(), key=lambda kv: -kv[1])[:10]
        ],
        "gradio_imported": any(n == "gradio" or n.startswith("gradio.") for n in names),
        "llama_index_imported": any(n.startswith("llama_index") for n in names),
        "chromadb_imported": any(n == "chromadb" or n.startswith("chromadb.") for n in names),
    }


def time_process(cmd: Sequence[str], env: Mapping[str, str], timeout: float = 300) -> tuple[float, str, str]:
    t = time.perf_counter()
    proc = subprocess.run(list(cmd), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} … exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return wall, proc.stdout, proc.stderr


def bench_cold(store: Path, runs: int, question: str = COLD_QUESTION) -> dict[str, Any]:
    """``rag ask`` as a fresh process on an existing store: wall times, import costs, phases."""
    env = child_env(store)
    cmd = [*rag_command(), "ask", question]
    load_before = load_avg()
    time_process(cmd, env)  # one untimed run: the OS file cache, as after any earlier use
    walls = []
    stdout = ""
    for _ in range(runs):
        wall, stdout, _ = time_process(cmd, env)
        walls.append(wall)
    help_walls = [time_process([*rag_command(), "--help"], env)[0] for _ in range(max(1, min(runs, 3)))]
    code = "import sys; from rag.cli import main; sys.exit(main(['ask', sys.argv[1]]))"
    _, _, imp_err = time_process([sys.executable, "-X", "importtime", "-c", code, question], env)
    _, phase_out, _ = time_process([sys.executable, "-c", _COLD_PHASES, question], env)
    phases = json.loads(phase_out.strip().splitlines()[-1])
    walls_sorted = sorted(walls)
    return {
        "command": f"rag ask {question!r}",
        "runs": runs,
        "walls_s": walls,
        "median_s": statistics.median(walls),
        "min_s": walls_sorted[0],
        "max_s": walls_sorted[-1],
        "answered": "[1]" in stdout,
        "help_median_s": statistics.median(help_walls),
        "imports": parse_importtime(imp_err),
        "phases_s": phases,
        "load": {"before": load_before, "after": load_avg()},
    }
