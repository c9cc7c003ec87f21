"""The answering loop of one browser session: questions queued in order, one answer at a time, Stop.

No gradio here: the page (rag.ui.app) redraws whenever :func:`answer_turn` yields.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.types import StreamEvent
from rag.ui.chat import Chat, Turn

__all__ = ["GENERIC_ERROR", "TOP_K_RANGE", "Session", "answer_turn", "clamp_top_k"]

log = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong while answering; the details are in the server log."
TOP_K_RANGE = (1, 20)
_TICK_S = 0.25  # how often a waiting answer checks for Stop and refreshes its elapsed time


class Session:
    """One browser session: its conversation, the questions waiting, and the Stop signal."""

    def __init__(self) -> None:
        self.chat = Chat()
        self.lock = threading.Lock()
        self.running = False
        self.stop = threading.Event()

    def __deepcopy__(self, memo: dict[int, Any]) -> Session:
        # gr.State deep-copies its initial value for each new browser session: start fresh.
        return Session()

    def enqueue(self, question: str, top_k: int, mode: str | None, limit: int) -> Turn | None:
        """Add a question to the end of the queue (None for a blank one)."""
        shown = " ".join(question.split()) if isinstance(question, str) else ""
        if not shown:
            return None
        turn = Turn(question=shown[:limit], status="queued", chars=len(shown), top_k=top_k, mode=mode)
        with self.lock:
            self.chat.turns.append(turn)
        return turn

    def claim(self) -> bool:
        """Become the one loop that answers this session's queue (False when another one runs)."""
        with self.lock:
            if self.running:
                return False
            self.running = True
            return True

    def next_turn(self) -> tuple[int, Turn] | None:
        """The oldest queued turn, now running; or None, releasing the claim in the same step."""
        with self.lock:
            for i, t in enumerate(self.chat.turns):
                if t.status == "queued":
                    t.status = "running"
                    self.stop.clear()
                    return i, t
            self.running = False
            return None

    def release(self) -> None:
        """Give up the claim (the answering loop ended early)."""
        with self.lock:
            self.running = False

    def clear(self) -> None:
        """A new conversation: the running answer stops and queued questions are dropped by the user's choice."""
        with self.lock:
            self.chat = Chat()
            self.stop.set()


def clamp_top_k(value: Any) -> int:
    """``value`` as a whole number of passages inside :data:`TOP_K_RANGE` (5 when it is not a number)."""
    lo, hi = TOP_K_RANGE
    try:
        k = round(float(value))
    except (TypeError, ValueError):
        return 5
    return max(lo, min(hi, k))


def _progress(mode: str | None, seen_tokens: bool, sentences: int) -> str:
    """What the answer is doing now, in plain words (from the events seen so far)."""
    if mode == "llm":
        if not seen_tokens:
            return "retrieving passages, then waiting for the LLM's first words…"
        return f"writing (LLM) · verifying sentence {sentences + 1}…"
    return "retrieving and checking passages…" if sentences == 0 else f"verifying sentence {sentences + 1}…"


_DONE = object()


def answer_turn(
    pipeline: Pipeline, session: Session, index: int, turn: Turn, raw: str, model: str | None
) -> Iterator[None]:
    """Run one turn, updating it in place; yields whenever the page should be redrawn."""
    events: queue.Queue[Any] = queue.Queue()
    # Earlier answers, not just questions: the pipeline then knows what each was searched as, and which abstained.
    history = [t.answer for t in session.chat.turns[:index] if t.answer is not None]
    stop = session.stop
    mode = turn.mode

    def work() -> None:
        stream: Iterator[StreamEvent] | None = None
        try:
            stream = pipeline.ask_stream(raw, history=history, top_k=turn.top_k, mode=mode)
            for event in stream:
                events.put(event)
                if stop.is_set():
                    break
        except BaseException as exc:
            events.put(exc)
        finally:
            # Closing the generator closes the LLM's HTTP stream, so the server stops generating.
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            events.put(_DONE)

    t0 = time.monotonic()
    worker = threading.Thread(target=work, name="rag-answer", daemon=True)
    worker.start()
    seen_tokens = False
    sentences = 0
    last_draw = 0.0
    turn.progress = _progress(mode, False, 0)
    yield None
    while True:
        try:
            item = events.get(timeout=_TICK_S)
        except queue.Empty:
            item = None
        turn.elapsed_s = time.monotonic() - t0
        if stop.is_set() and turn.answer is None:
            turn.status = "stopped"
            yield None
            return
        if item is None:
            if turn.elapsed_s - last_draw >= 1.0:
                last_draw = turn.elapsed_s
                yield None
            continue
        if item is _DONE:
            break
        if isinstance(item, RagError):
            turn.error = str(item)
            break
        if isinstance(item, BaseException):
            log.error("answering %r failed", turn.question[:200], exc_info=item)
            turn.error = GENERIC_ERROR
            break
        if item.kind == "delta":
            turn.text += item.text
            turn.draft = ""
            sentences += 1
        elif item.kind == "token":
            turn.draft += item.text
            seen_tokens = True
        elif item.kind == "answer" and item.answer is not None:
            turn.answer = item.answer
            # What the pipeline searched: it cuts a long question at a word boundary, not at the limit.
            turn.question = item.answer.question or turn.question
            continue
        else:
            continue
        turn.progress = _progress(mode, seen_tokens, sentences)
        yield None
    if turn.answer is None and turn.error is None:
        turn.error = GENERIC_ERROR
    turn.status = "done"
    yield None
