"""Discovery: the files to ingest under the paths named, with the symlink rule and hidden files skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.errors import IngestError
from rag.settings import Settings

__all__ = ["SYMLINK_RULE", "discover", "discover_files"]


SYMLINK_RULE = (
    "a symlink, named directly or found in a folder, is followed only when it points inside "
    "the files and folders named (--follow-symlinks, RAG_INGEST_FOLLOW_SYMLINKS=1: follow all)"
)


def _root(path: Path) -> Path:
    """A named path with its folders resolved but not its own name (a named symlink stays a symlink)."""
    absolute = Path(os.path.abspath(path))
    return absolute.parent.resolve() / absolute.name


def _outside(target: Path, roots: Sequence[Path]) -> bool:
    return not any(target == r or target.is_relative_to(r) for r in roots)


def discover(paths: Sequence[Path], settings: Settings) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest under ``paths`` and the ones refused (with reasons)."""
    files, failed, _ = discover_files(paths, settings)
    return files, failed


def discover_files(paths: Sequence[Path], settings: Settings) -> tuple[list[Path], list[tuple[str, str]], list[str]]:
    """Files to ingest under ``paths``, the ones refused (with reasons) and hidden ones skipped."""
    exts = {e.lower() for e in settings.ingest.extensions}
    follow = settings.ingest.follow_symlinks
    files: list[Path] = []
    failed: list[tuple[str, str]] = []
    hidden: list[str] = []
    seen: set[Path] = set()
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise IngestError(f"no such file or folder: {', '.join(missing)}; nothing was ingested (check the path)")
    roots = [_root(p) for p in paths]
    for root in paths:
        target = _link_target(root, roots, follow, failed)
        if target is None:
            continue
        if target.is_file():
            if root.suffix.lower() not in exts:
                failed.append((str(root), f"unsupported type {root.suffix or '(none)'}; use {', '.join(sorted(exts))}"))
            elif target not in seen:
                seen.add(target)
                files.append(root)
            continue
        for f in _walk(root, roots, follow, failed, hidden):
            if f.suffix.lower() in exts:
                real = f.resolve()
                if real not in seen:
                    seen.add(real)
                    files.append(f)
    return sorted(files, key=lambda p: p.as_posix()), failed, hidden


def _link_target(path: Path, roots: Sequence[Path], follow: bool, failed: list[tuple[str, str]]) -> Path | None:
    """Where ``path`` leads, or None (with the reason in ``failed``) when the symlink rule refuses it."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        failed.append((str(path), "broken or looping symlink; skipped"))
        return None
    if not follow and _outside(target, roots):
        failed.append(
            (
                str(path),
                f"symlink to {target}, outside the paths named; skipped "
                "(use --follow-symlinks or RAG_INGEST_FOLLOW_SYMLINKS=1 to follow it)",
            )
        )
        return None
    return target


def _walk(
    root: Path, roots: Sequence[Path], follow: bool, failed: list[tuple[str, str]], hidden: list[str]
) -> Iterator[Path]:
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(
        root, followlinks=follow, onerror=lambda e: failed.append((str(e.filename), e.strerror or str(e)))
    ):
        d = Path(dirpath)
        try:
            st = d.stat()
        except OSError as exc:
            failed.append((str(d), exc.strerror or str(exc)))
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:  # a symlink loop
            failed.append((str(d), "symlink loop; skipped"))
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        keep = []
        for n in sorted(dirnames):
            sub = d / n
            if n.startswith("."):
                hidden.append(str(sub))
            elif follow or not sub.is_symlink():
                keep.append(n)
            else:
                # Not descended into: refused when it leads outside, else reached by its real path.
                _link_target(sub, roots, follow, failed)
        dirnames[:] = keep
        for name in sorted(filenames):
            f = d / name
            if name.startswith("."):
                hidden.append(str(f))
                continue
            if f.is_symlink() and _link_target(f, roots, follow, failed) is None:
                continue
            yield f
