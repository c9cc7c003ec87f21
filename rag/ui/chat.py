"""The conversation of one browser session: its turns and what came of each (no gradio)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.types import Answer

__all__ = ["Chat", "Turn"]


@dataclass
class Turn:
    """One question of the conversation and what came of it."""

    question: str
    answer: Answer | None = None
    raw: str = ""  # the question as typed (the pipeline applies its own limit and says so)
    error: str | None = None
    #: queued → running → done | stopped (an answer or error sets done)
    status: str = "done"
    text: str = ""  # verified sentences so far, with their markers
    draft: str = ""  # raw LLM text not verified yet: shown greyed, never as chips
    progress: str = ""
    elapsed_s: float = 0.0
    chars: int = 0  # the question's length as typed (before the pipeline's limit)
    top_k: int = 5
    mode: str | None = None

    @property
    def finished(self) -> bool:
        """True when nothing more will happen to this turn."""
        return self.status in ("done", "stopped")


@dataclass
class Chat:
    """The conversation of one browser session."""

    turns: list[Turn] = field(default_factory=list)

    def history(self) -> list[str]:
        """Earlier user turns that got an answer, oldest first (what ``ask_stream(history=)`` takes)."""
        return [t.question for t in self.turns if t.answer is not None]
