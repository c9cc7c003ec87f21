"""Read .txt / .md / .html / .pdf files into text, refusing binary, huge or unreadable files clearly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import IngestError
from rag.types import Source

__all__ = ["Loaded", "load_file"]


@dataclass(frozen=True)
class Loaded:
    """Raw text of a file, metadata the format itself carries, and notes on how it was read."""

    text: str
    meta: Source = field(default_factory=Source)
    notes: tuple[str, ...] = ()


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        # UTF-16 text has NULs too; it announces itself with a BOM.
        return not head.startswith((b"\xff\xfe", b"\xfe\xff"))
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls > max(8, len(head) // 50)


def decode_bytes(data: bytes, name: str) -> tuple[str, tuple[str, ...]]:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 by BOM, else the detected charset."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), ("decoded as UTF-16 (byte-order mark)",)
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        return str(best), (f"not UTF-8: decoded as {best.encoding} (detected)",)
    return data.decode("utf-8", errors="replace"), ("not UTF-8 and no charset detected: undecodable bytes replaced",)


def _read_html(data: bytes, name: str) -> Loaded:
    from bs4 import BeautifulSoup

    raw, notes = decode_bytes(data, name)
    soup = BeautifulSoup(raw, "html.parser")
    title = None
    og = soup.find("meta", attrs={"property": "og:title"})
    if og is not None and og.get("content"):
        title = str(og.get("content")).strip()
    elif soup.title and soup.title.string:
        title = soup.title.string.strip()
    author = soup.find("meta", attrs={"name": "author"})
    date = soup.find("meta", attrs={"property": "article:published_time"})
    site = soup.find("meta", attrs={"property": "og:site_name"})
    # Page furniture and code never carry article text.
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg"]):
        tag.decompose()
    body = soup.body or soup
    text = body.get_text("\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    meta = Source(
        title=title,
        author=str(author.get("content")).strip() if author is not None and author.get("content") else None,
        date=str(date.get("content"))[:10] if date is not None and date.get("content") else None,
        publisher=str(site.get("content")).strip() if site is not None and site.get("content") else None,
    )
    return Loaded(text=text, meta=meta, notes=notes)


def _read_pdf(path: Path) -> Loaded:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise IngestError(f"{path}: the PDF has no extractable text (scanned images need OCR first)")
    meta = Source(
        title=(info.title or None) if info else None,
        author=(info.author or None) if info else None,
    )
    return Loaded(text=text, meta=meta)


def load_file(path: Path, max_bytes: int) -> Loaded:
    """Read one file into text; raise IngestError with a one-line reason when it cannot be used."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if size > max_bytes:
        raise IngestError(
            f"{path}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit (raise RAG_INGEST_MAX_FILE_MB)"
        )
    if size == 0:
        raise IngestError(f"{path}: empty file")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if _looks_binary(data):
        raise IngestError(f"{path}: looks like binary data, not {suffix or 'text'}; skipped")
    if suffix in (".html", ".htm"):
        loaded = _read_html(data, path.name)
    else:
        text, notes = decode_bytes(data, path.name)
        loaded = Loaded(text=text, notes=notes)
    if not loaded.text.strip():
        raise IngestError(f"{path}: no text in the file")
    return loaded
