"""Background ingest of uploads: one job per file, a worker thread, progress counted in passages.

An upload is checked and stored at once (:func:`rag.ui.uploads.accept_upload`) and queued; one
worker ingests the queue in order, and the store's write lock keeps it the only writer. So that a
small file does not wait behind a large one, after every slice of a document the worker first
ingests whole any queued upload smaller than what is left of it (those are not interrupted in
turn). A failed upload ends its own job only. No gradio here.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.ui.uploads import Accepted, UploadOutcome, UploadResults, accept_upload, ingest_accepted

__all__ = ["UploadJob", "UploadQueue"]

log = logging.getLogger(__name__)

State = Literal["queued", "ingesting", "done"]


@dataclass
class UploadJob:
    """One uploaded file: queued, ingesting (with passage counts) or done (with its outcome)."""

    id: int
    name: str
    item: Accepted | None
    state: State = "queued"
    written: int = 0
    total: int = 0
    outcome: UploadOutcome | None = None

    @property
    def size(self) -> int:
        """Bytes of the stored file (0 for a refused one)."""
        return self.item.size if self.item is not None else 0

    def left(self) -> float:
        """Bytes not yet ingested, estimated from the passages written."""
        if self.state != "ingesting" or not self.total:
            return float(self.size)
        return self.size * (1 - self.written / self.total)

    def line(self) -> str:
        """What the job's status line says."""
        if self.outcome is not None:
            return self.outcome.message
        if self.state == "queued":
            return "queued"
        if not self.total:
            return "ingesting: reading the file …"
        return f"ingesting: {self.written:,} of {self.total:,} passages"


class UploadQueue:
    """Uploads ingested one at a time by a background thread, each with its own status."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self._ids = itertools.count(1)
        self._jobs: dict[int, UploadJob] = {}
        self._queued: list[UploadJob] = []
        self._cond = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None
        #: Called from the worker when a job ends, before :meth:`wait` returns for it.
        self.on_done: list[Callable[[UploadJob], None]] = []

    # -- submitting and reading ------------------------------------------------------------------
    def submit(self, files: Sequence[tuple[str, Path]], *, replace: bool = False) -> list[UploadJob]:
        """Check and store (original name, temporary path) pairs now; queue the accepted ones."""
        jobs: list[UploadJob] = []
        for orig, tmp in files:
            item = accept_upload(self.pipeline.settings, orig, tmp, replace=replace)
            if isinstance(item, UploadOutcome):
                job = UploadJob(next(self._ids), orig, None, "done", outcome=item)
            else:
                job = UploadJob(next(self._ids), orig, item)
            jobs.append(job)
        with self._cond:
            for job in jobs:
                self._jobs[job.id] = job
                if job.state == "queued":
                    self._queued.append(job)
            self._start()
            self._cond.notify_all()
        return jobs

    def jobs(self, ids: Sequence[int]) -> list[UploadJob]:
        """The jobs with these ids (unknown ids left out), in the order given."""
        with self._cond:
            return [self._jobs[i] for i in ids if i in self._jobs]

    def results(self, ids: Sequence[int]) -> UploadResults:
        """The outcomes of the finished jobs among ``ids``."""
        return UploadResults([j.outcome for j in self.jobs(ids) if j.outcome is not None])

    def wait(self, ids: Sequence[int], timeout: float) -> bool:
        """Wait until every job in ``ids`` is done; False if ``timeout`` seconds pass first."""
        with self._cond:
            return self._cond.wait_for(lambda: all(j.state == "done" for j in self.jobs(ids)), timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker after the job it is on (queued jobs stay queued, their files stored)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    # -- the worker ------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._worker is None and not self._closed:
            self._worker = threading.Thread(target=self._run, name="rag-uploads", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or bool(self._queued))
                if self._closed:
                    return
                job = self._queued.pop(0)
            self._ingest(job, self._ingest_queued(job))

    def _ingest_queued(self, job: UploadJob) -> Callable[[Path], Any]:
        """Ingest through the pipeline (its locks), running smaller uploads between slices."""

        def heard(written: int, total: int) -> None:
            with self._cond:
                job.written, job.total = written, total
            self._run_smaller(job)

        return lambda path: self.pipeline.ingest([path], on_progress=heard)

    def _ingest(self, job: UploadJob, ingest: Callable[[Path], Any]) -> None:
        assert job.item is not None
        with self._cond:
            job.state = "ingesting"
        outcome = ingest_accepted(job.item, ingest)
        with self._cond:
            job.outcome, job.state = outcome, "done"
        for callback in self.on_done:
            try:
                callback(job)
            except Exception:
                log.exception("upload callback failed")
        with self._cond:
            self._cond.notify_all()  # after the callbacks: a waiter finds them run

    def _run_smaller(self, current: UploadJob) -> None:
        """Between two slices of ``current``: ingest whole the queued uploads smaller than what is left of it."""
        while True:
            with self._cond:
                if self._closed:
                    return
                left = current.left()
                small = [
                    j
                    for j in self._queued
                    if j.size < left and j.item is not None and current.item is not None
                    and j.item.path != current.item.path
                ]  # fmt: skip
                if not small:
                    return
                job = min(small, key=lambda j: j.size)
                self._queued.remove(job)
            self._ingest(job, self._ingest_inline(job))

    def _ingest_inline(self, job: UploadJob) -> Callable[[Path], Any]:
        """Ingest from within the current job's progress callback (the pipeline writes it between slices)."""

        def progress(written: int, total: int) -> None:
            with self._cond:
                job.written, job.total = written, total

        return lambda path: self.pipeline.ingest([path], on_progress=progress)
