"""The CLI's plugin commands (the eval suite's `eval` and `bench`) are listed, but never loaded for a built-in one."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import contextlib, io, sys
from rag import cli
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    cli.main({argv!r})
loaded = sorted(m for m in sys.modules if m == "eval" or m.startswith("eval."))
print("LOADED", loaded)
print(out.getvalue())
"""


def _run(argv: list[str]) -> str:
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_top_level_help_lists_the_plugin_commands() -> None:
    out = _run(["--help"])
    assert "bench" in out and "eval" in out and "ask" in out


def test_a_built_in_command_does_not_load_the_eval_suite() -> None:
    out = _run(["ask", "--help"])
    assert "LOADED []" in out and "--top-k" in out
    assert "LOADED []" not in _run(["bench", "--help"])
