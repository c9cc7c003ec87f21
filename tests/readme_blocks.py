"""The README's ``$ rag …`` output blocks, checked against (or rewritten from) the real command.

``python tests/readme_blocks.py --write`` reruns every command of the README's ``text`` blocks on a
fresh store of the seeds and writes what they print; the test suite checks that nothing drifted.
Only the timing line ``(extractive, 12 ms)`` is left out, since it differs on every run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["README", "commands_and_outputs", "render"]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"```text\n(\$ rag .*?)```", re.S)
_TIMING = re.compile(r"^\(\w+, \d+ ms\)$")


def _blocks(text: str) -> list[re.Match[str]]:
    return list(_BLOCK.finditer(text))


def commands_and_outputs(block: str) -> list[tuple[str, str]]:
    """``[(command, output)]`` of one block."""
    out: list[tuple[str, str]] = []
    for part in re.split(r"^(?=\$ rag )", block, flags=re.M):
        if part.strip():
            cmd, _, body = part.partition("\n")
            out.append((cmd[2:], body.strip("\n")))
    return out


def run(command: str, store: Path) -> str:
    """What ``command`` prints on stdout, without its timing line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_STORE_PATH=str(store), RAG_INGEST_SEEDS_PATH=str(ROOT / "seeds"), COLUMNS="100")
    rag = str(Path(sys.executable).parent / "rag")
    args = shlex.split(command)
    proc = subprocess.run([rag, *args[1:]], env=env, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {proc.stderr.strip()}")
    lines = [ln for ln in proc.stdout.rstrip("\n").split("\n") if not _TIMING.match(ln)]
    return "\n".join(lines).strip("\n")


def render(readme: str, store: Path) -> str:
    """The README with every ``$ rag …`` block's output replaced by what the command prints now."""
    for m in reversed(_blocks(readme)):
        parts = [f"$ {cmd}\n{run(cmd, store)}\n" for cmd, _ in commands_and_outputs(m[1])]
        readme = readme[: m.start(1)] + "\n".join(parts) + readme[m.end(1) :]
    return readme


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        new = render(README.read_text(encoding="utf-8"), Path(tmp) / "store")
    if "--write" in sys.argv:
        README.write_text(new, encoding="utf-8")
    else:
        sys.stdout.write(new)
