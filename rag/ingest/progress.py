"""Ingest progress counted in chunks: a bar on a terminal, plain lines otherwise, and a listener."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Ingest progress counted in chunks: a bar on a terminal, plain lines otherwise."""

    def __init__(self, files: int, show: bool, listener: Callable[[int, int], None] | None = None) -> None:
        self.listener = listener
        self.files, self.files_done = files, 0
        self.chunks, self.chunks_done = 0, 0
        self.name = ""
        self.bar: Any = None
        self.plain = show and not sys.stderr.isatty()
        self._said = 0.0
        if show and not self.plain:
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="chunk", desc="ingest", leave=False, dynamic_ncols=True)

    def file(self, name: str) -> None:
        self.name = name

    def found(self, chunks: int) -> None:
        self.chunks += chunks
        if self.bar is not None:
            self.bar.total = self.chunks
            self.bar.refresh()
        if self.listener is not None:
            self.listener(self.chunks_done, self.chunks)

    def wrote(self, chunks: int) -> None:
        self.chunks_done += chunks
        if self.bar is not None:
            self.bar.update(chunks)
        self._say()
        if self.listener is not None:
            self.listener(self.chunks_done, self.chunks)

    def file_done(self) -> None:
        self.files_done += 1
        self._say()

    def _say(self, force: bool = False) -> None:
        status = f"{self.files_done}/{self.files} files, {self.chunks_done}/{self.chunks} chunks"
        if self.bar is not None:
            self.bar.set_description_str(f"ingest {status.split(',')[0]}", refresh=False)
            self.bar.set_postfix_str(_printable(self.name)[-30:], refresh=True)
        elif self.plain and (force or time.monotonic() - self._said >= 1.0):
            self._said = time.monotonic()
            print(f"ingest: {status}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.plain and self.files:
            self._say(force=True)


def _printable(name: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in name)
