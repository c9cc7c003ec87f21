"""Read .txt / .md / .html / .pdf files into text, refusing binary, huge or unreadable files clearly."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import IngestError
from rag.types import Source

__all__ = ["Loaded", "load_file", "split_front_matter"]


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


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)


def _iso_date(value: object) -> str | None:
    """YYYY-MM-DD from a date, a datetime or a string that starts with one."""
    if isinstance(value, dt.date):  # datetime is a date too
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and (m := _ISO_DATE.match(value.strip())):
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    if isinstance(value, str):
        from rag.ingest.metadata import parse_date

        return parse_date(value)
    return None


def _text_value(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):  # authors: [A, B]
        names = [str(v).strip() for v in value if isinstance(v, str | int | float) and str(v).strip()]
        return ", ".join(names) or None
    if isinstance(value, dict):  # {"name": …}, as JSON-LD writes authors and publishers
        return _text_value(value.get("name"))
    return None


def split_front_matter(text: str) -> tuple[str, Source, tuple[str, ...]]:
    """Remove a leading YAML front-matter block; return the rest, its title/author/date and notes."""
    m = _FRONT_MATTER.match(text)
    if m is None:
        return text, Source(), ()
    import yaml

    try:
        data = yaml.safe_load(m[1])
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        return text, Source(), (f"the front matter is not valid YAML{line}; kept as text",)
    if not isinstance(data, dict):
        return text, Source(), ("the front matter is not a YAML mapping; kept as text",)
    meta = Source(
        title=_text_value(data.get("title")),
        author=_text_value(data.get("author") or data.get("authors")),
        date=_iso_date(data.get("date")),
        publisher=_text_value(data.get("publisher")),
    )
    return text[m.end() :], meta, ()


def _json_ld(soup: Any) -> dict[str, Any]:
    """The first JSON-LD object on the page that names an article's date (looking inside @graph)."""
    for tag in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            data = json.loads(tag.string or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            if item.get("datePublished"):
                return item
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack.extend(graph)
    return {}


def _meta_content(soup: Any, *attrs: tuple[str, str]) -> str | None:
    for key, value in attrs:
        tag = soup.find("meta", attrs={key: value})
        if tag is not None and str(tag.get("content") or "").strip():
            return str(tag.get("content")).strip()
    return None


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
    ld = _json_ld(soup)  # read before scripts are removed
    author = _meta_content(soup, ("name", "author")) or _text_value(ld.get("author"))
    date = _iso_date(
        _meta_content(
            soup,
            ("property", "article:published_time"),
            ("name", "article:published_time"),
            ("name", "date"),
            ("name", "DC.date"),
            ("name", "dcterms.date"),
            ("itemprop", "datePublished"),
        )
        or ld.get("datePublished")
    )
    site = _meta_content(soup, ("property", "og:site_name")) or _text_value(ld.get("publisher"))
    # Page furniture and code never carry article text.
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg"]):
        tag.decompose()
    body = soup.body or soup
    text = body.get_text("\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    meta = Source(title=title, author=author, date=date, publisher=site)
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
        meta = Source()
        if suffix == ".md":
            text, meta, fm_notes = split_front_matter(text)
            notes += fm_notes
        loaded = Loaded(text=text, meta=meta, notes=notes)
    if not loaded.text.strip():
        raise IngestError(f"{path}: no text in the file")
    return loaded
