"""A streamed completion that carries its own usage and timings: one object per call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

__all__ = ["StreamedCompletion"]


class StreamedCompletion:
    """A :class:`rag.protocols.Completion` over a source of text pieces.

    ``source(self)`` is a generator of text pieces; it may set :attr:`prompt_tokens`,
    :attr:`completion_tokens` and :attr:`finish_reason` on the completion it is given as it
    learns them. Iterating records the text, first-token and total times; iterate only once.
    """

    def __init__(self, source: Callable[[StreamedCompletion], Iterable[str]]) -> None:
        self._source = source
        self._started = False
        self.text = ""
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.first_token_ms: float | None = None
        self.total_ms = 0.0
        self.finish_reason: str | None = None

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a completion streams once; call stream() again for another")
        self._started = True
        t0 = time.perf_counter()
        source = self._source(self)
        try:
            for piece in source:
                if not piece:
                    continue
                if self.first_token_ms is None:
                    self.first_token_ms = (time.perf_counter() - t0) * 1000
                self.text += piece
                yield piece
        finally:
            # A consumer that stops early closes the source now (an HTTP stream ends the server's generation).
            close = getattr(source, "close", None)
            if close is not None:
                close()
            self.total_ms = (time.perf_counter() - t0) * 1000
