"""Extra evaluation corpora beside the seed articles: each a folder with its documents (in ``docs/`` or
beside the question files), ``questions.jsonl`` (held-out, for measuring), optionally ``dev.jsonl``
(for calibration only), and a note naming its sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CORPORA", "Corpus"]

ROOT = Path(__file__).parent


@dataclass(frozen=True)
class Corpus:
    """One extra corpus: its documents and its two question sets."""

    name: str
    folder: Path

    @property
    def docs(self) -> Path:
        """The documents, ingested beside the seeds: ``docs/``, or the folder itself when it has none."""
        sub = self.folder / "docs"
        return sub if sub.is_dir() else self.folder

    @property
    def questions(self) -> Path:
        """Held-out questions: measured by ``rag eval``, never calibrated on."""
        return self.folder / "questions.jsonl"

    @property
    def dev(self) -> Path:
        """Development questions: ``python -m eval.calibrate`` fits thresholds on these."""
        return self.folder / "dev.jsonl"


CORPORA: dict[str, Corpus] = {
    p.name: Corpus(p.name, p) for p in sorted(ROOT.iterdir()) if p.is_dir() and (p / "questions.jsonl").is_file()
}
