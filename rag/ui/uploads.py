"""Upload storage: checks per file, collision-free names, and what each upload came to.

Two uploads never overwrite each other: a file whose content is already stored is "unchanged"; a
different file whose name sanitises to one already taken is stored beside it under a name with
its content hash, unless the user explicitly asked to replace. Refused uploads are deleted.
No gradio here: the app hands over (original name, temporary path) pairs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.errors import RagError

__all__ = [
    "Accepted",
    "UploadOutcome",
    "UploadResults",
    "accept_upload",
    "ingest_accepted",
    "ingest_uploads",
    "safe_filename",
    "store_upload",
    "uploads_dir",
]

log = logging.getLogger(__name__)

_HASH_CHARS = 10  # hex digits of the content hash in a collision name (40 bits: no accidental clash)
_lock = threading.Lock()  # one writer at a time picks names in the uploads folder of this process

Kind = Literal["added", "updated", "unchanged", "refused"]


def safe_filename(name: str) -> str:
    """A file name safe to write anywhere: no folders, no leading dots, only ``[A-Za-z0-9._-]``."""
    base = Path(name.replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "document"
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext).lower()[:10]
    return f"{stem}.{ext}" if ext else stem


def uploads_dir(store_path: Path) -> Path:
    """Where uploaded files are kept: ``uploads/`` beside the store folder."""
    return store_path.parent / "uploads"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _candidates(folder: Path, base: str) -> list[Path]:
    """Stored files that share the display name ``base`` (itself, then its hash-suffixed twins)."""
    stem, ext = os.path.splitext(base)
    pattern = re.compile(re.escape(stem) + r"-[0-9a-f]{" + str(_HASH_CHARS) + "}" + re.escape(ext) + "$")
    twins = sorted(p for p in folder.glob(f"{stem}-*{ext}") if pattern.fullmatch(p.name))
    plain = folder / base
    return ([plain] if plain.is_file() else []) + twins


def _copy_new(src: Path, dest: Path) -> bool:
    """Copy ``src`` to ``dest`` only if ``dest`` does not exist yet (False when it does)."""
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out, src.open("rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
    return True


def _replace(src: Path, dest: Path) -> None:
    """Write ``src`` over ``dest`` atomically (a reader sees the old file or the new one, never half)."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def store_upload(folder: Path, orig_name: str, src: Path, *, replace: bool = False) -> tuple[Path, bool]:
    """Store ``src`` under a name derived from ``orig_name``; returns (path, created).

    ``created`` is False when the same content is already stored (that file's path is returned).
    With ``replace`` a different file of the same display name is overwritten in place.
    """
    base = safe_filename(orig_name)
    suffix = Path(orig_name).suffix.lower()
    if suffix and not base.lower().endswith(suffix):
        base = str(Path(base).with_suffix(suffix))
    digest = _sha256(src)
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        existing = _candidates(folder, base)
        for path in existing:
            if _sha256(path) == digest:
                return path, False
        plain = folder / base
        if replace and plain.is_file():
            _replace(src, plain)
            return plain, True
        if _copy_new(src, plain):
            return plain, True
        stem, ext = os.path.splitext(base)
        twin = folder / f"{stem}-{digest[:_HASH_CHARS]}{ext}"
        if not _copy_new(src, twin):  # a twin with this hash prefix holds other content: use the whole hash
            twin = folder / f"{stem}-{digest}{ext}"
            _replace(src, twin)
        return twin, True


@dataclass(frozen=True)
class UploadOutcome:
    """What became of one uploaded file."""

    name: str
    kind: Kind
    message: str
    stored_as: str | None = None


@dataclass
class UploadResults:
    """Every file of one upload, counted by outcome."""

    outcomes: list[UploadOutcome] = field(default_factory=list)

    def count(self, kind: Kind) -> int:
        """How many files came to ``kind``."""
        return sum(1 for o in self.outcomes if o.kind == kind)

    def summary(self) -> str:
        """One line: "2 added · 1 unchanged · 1 refused" (kinds with no file left out)."""
        kinds: tuple[Kind, ...] = ("added", "updated", "unchanged", "refused")
        return " · ".join(f"{self.count(k)} {k}" for k in kinds if self.count(k)) or "no files"


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _check(orig: str, tmp: Path, exts: Sequence[str], limit_mb: float) -> str | None:
    """Why ``orig`` is refused before storing, or None."""
    if Path(orig).suffix.lower() not in exts:
        return f"not a supported file type; accepted: {' '.join(exts)}"
    try:
        size = tmp.stat().st_size
    except OSError:
        return "the upload could not be read; try again"
    if size > limit_mb * 1024 * 1024:
        return f"too large ({size / 1024 / 1024:.1f} MB; the limit is {limit_mb:g} MB)"
    if size == 0:
        return "the file is empty"
    return None


@dataclass(frozen=True)
class Accepted:
    """An upload that passed the checks and is stored, waiting to be ingested."""

    name: str
    path: Path
    created: bool
    replace: bool
    size: int


def accept_upload(settings: Any, orig: str, tmp: Path, *, replace: bool = False) -> Accepted | UploadOutcome:
    """Check and store one uploaded file: what to ingest, or the outcome of a refused one (deleted)."""
    exts = sorted({e.lower() for e in settings.ingest.extensions})
    reason = _check(orig, tmp, exts, settings.ui.max_upload_mb)
    if reason is None:
        try:
            size = tmp.stat().st_size
            dest, created = store_upload(uploads_dir(settings.store.path), orig, tmp, replace=replace)
        except OSError:
            log.exception("storing upload %s failed", orig)
            reason = "could not be stored; the details are in the server log"
        else:
            return Accepted(orig, dest, created, replace, size)
    _discard(tmp)
    return UploadOutcome(orig, "refused", reason)


def _plural(n: int) -> str:
    return f"{n} passage{'s' if n != 1 else ''}"


def ingest_accepted(item: Accepted, ingest: Callable[[Path], Any]) -> UploadOutcome:
    """Ingest one stored upload with ``ingest(path)`` (returns an ``IngestReport``); never raises.

    A failed ingest deletes the file it stored (unless it replaced one), so nothing refused stays.
    """
    orig, dest = item.name, item.path
    drop = item.created and not item.replace
    try:
        report = ingest(dest)
    except RagError as exc:
        if drop:
            _discard(dest)
        return UploadOutcome(orig, "refused", str(exc))
    except Exception:
        log.exception("ingesting upload %s failed", orig)
        if drop:
            _discard(dest)
        return UploadOutcome(orig, "refused", "could not be ingested; the details are in the server log")
    if report.failed:
        if drop:
            _discard(dest)
        return UploadOutcome(orig, "refused", "; ".join(r for _, r in report.failed))
    if report.added:
        return UploadOutcome(orig, "added", f"added as {dest.name} ({_plural(report.chunks)})", dest.name)
    if report.updated:
        return UploadOutcome(orig, "updated", f"replaced {dest.name} ({_plural(report.chunks)})", dest.name)
    same = "" if dest.name == safe_filename(orig) else f" as {dest.name}"
    return UploadOutcome(orig, "unchanged", f"already in the store{same}, unchanged", dest.name)


def ingest_uploads(
    pipeline: Any,
    files: Sequence[tuple[str, Path]],
    *,
    replace: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> UploadResults:
    """Check, store and ingest uploaded (original name, temporary path) pairs, one outcome each, in the foreground.

    ``pipeline`` needs ``settings`` and ``ingest(paths)`` (a :class:`rag.Pipeline`). The UI uses
    :class:`rag.ui.jobs.UploadQueue` instead, which ingests in the background.
    """
    results = UploadResults()
    accepted: list[Accepted] = []
    for orig, tmp in files:
        item = accept_upload(pipeline.settings, orig, tmp, replace=replace)
        if isinstance(item, UploadOutcome):
            results.outcomes.append(item)
        else:
            accepted.append(item)
    for k, item in enumerate(accepted):
        if progress is not None:
            progress(k, len(accepted), item.name)
        results.outcomes.append(ingest_accepted(item, lambda p: pipeline.ingest([p])))
    if progress is not None:
        progress(len(accepted), len(accepted), "")
    return results
