"""(d) The synthetic corpora of the scale benchmark: seed sentences shuffled across documents, with
entity names, years and months varied per document; deterministic for a given seed corpus and size."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.bench.common import bench_settings

__all__ = ["DOCS_PER_FOLDER", "GENERATOR_VERSION", "generate_corpus", "synthetic_document"]

#: Bump when the synthetic corpus generator changes (cached corpora are then regenerated).
GENERATOR_VERSION = "1"
DOCS_PER_FOLDER = 1000

#: Names in the seeds, by kind, and the fictional names a synthetic document may use instead.
_ENTITIES: dict[str, tuple[list[str], list[str]]] = {
    "group": (
        ["Islamic State", "Taliban", "ISKP", "ISIS-K", "IS-K", "Isis", "ISIS", "al-Qaeda", "Al Qaeda", "Haqqani"],
        ["Northern Vanguard", "Saffron Front", "Crescent Brigade", "Highland Movement", "Eastern Legion",
         "Valley Coalition", "Iron Banner", "Mountain Council", "Southern Alliance", "River Guard", "Desert Wolves",
         "Free Hills Army"],
    ),
    "place": (
        ["Afghanistan", "Kabul", "Nangarhar", "Kandahar", "Herat", "Kunduz", "Jalalabad", "Pakistan", "Syria", "Iraq",
         "Tajikistan", "Uzbekistan", "Russia", "Qatar", "Doha", "Washington", "Iran", "China", "Khorasan"],
        ["Varkesh", "Doruna", "Beltrava", "Kesmara", "Tirzan", "Maldovar", "Qalun", "Sereth", "Arvandia", "Zelmar",
         "Kuvessa", "Hartovia", "Nimrova", "Talvar", "Ostrel", "Pashar", "Rundel", "Yavestan"],
    ),
    "person": (
        ["Biden", "Trump", "Karzai", "Ghani", "Omar", "Mansour", "Baghdadi", "Zarqawi", "Bin Laden", "McKenzie"],
        ["Arman Velic", "Dara Kostin", "Samir Haddan", "Leena Morrow", "Tomas Renner", "Idris Kalan", "Mira Solberg",
         "Yusuf Tarek", "Elena Brask", "Karim Osdal", "Nadia Ferrin", "Jonas Ekholm"],
    ),
}  # fmt: skip
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]  # fmt: skip
_ENTITY_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(n) for n in sorted((n for ns, _ in _ENTITIES.values() for n in ns), key=len, reverse=True))
    + r")(?![\w-])"
)
_YEAR_RE = re.compile(r"(?<!\d)(19[4-9]\d|20[0-3]\d)(?!\d)")
_MONTH_RE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\b")
_TITLES = [
    "Field report {n}: {place} and the {group}",
    "Analysis {n}: why the {group} fights on in {place}",
    "{place} briefing {n}: {person} on the {group}",
    "Dispatch {n} from {place}",
    "Background {n}: the {group} after {year}",
]


def _seed_sentences(seeds: Path) -> list[str]:
    """Whole, answer-like sentences of the seed files (cleaned as ingest cleans them)."""
    from rag.ingest.clean import clean_text
    from rag.text import is_answer_sentence, split_sentences

    out: list[str] = []
    for path in sorted(seeds.glob("*.txt")):
        text = clean_text(path.read_text(encoding="utf-8")).text
        out.extend(text[a:b] for a, b in split_sentences(text) if is_answer_sentence(text[a:b]))
    return out


def synthetic_document(sentences: Sequence[str], n: int, n_sentences: int) -> str:
    """Document ``n`` of a synthetic corpus: shuffled seed sentences with varied names and years."""
    rng = random.Random(f"rag-bench-{GENERATOR_VERSION}-{n}")
    names: dict[str, str] = {}
    for kind, (originals, replacements) in _ENTITIES.items():
        for name in originals:
            # Some documents keep a real name, so questions about it meet many near-duplicates.
            names[name] = name if rng.random() < 0.35 else rng.choice(replacements)
        names[kind] = rng.choice(replacements)
    year_shift = rng.randint(-25, 6)
    month_shift = rng.randint(0, 11)

    def vary(text: str) -> str:
        text = _ENTITY_RE.sub(lambda m: names[m[1]], text)
        text = _YEAR_RE.sub(lambda m: str(min(2035, int(m[1]) + year_shift)), text)
        return _MONTH_RE.sub(lambda m: _MONTHS[(_MONTHS.index(m[1]) + month_shift) % 12], text)

    picked = rng.sample(list(sentences), min(n_sentences, len(sentences)))
    paragraphs: list[str] = []
    i = 0
    while i < len(picked):
        k = rng.randint(2, 5)
        paragraphs.append(" ".join(vary(s) for s in picked[i : i + k]))
        i += k
    title = rng.choice(_TITLES).format(
        n=n, place=names["place"], group=names["group"], person=names["person"], year=2000 + year_shift + 20
    )
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def _doc_path(root: Path, n: int) -> Path:
    return root / f"d{n // DOCS_PER_FOLDER:03d}" / f"syn-{n:06d}.txt"


def generate_corpus(seeds: Path, root: Path, size: int, sentences_per_doc: int = 26) -> dict[str, Any]:
    """Write a corpus of about ``size`` chunks under ``root``: the seeds plus synthetic documents.

    Deterministic: the same seeds and size always give the same files. The number of documents is
    calibrated by chunking the first ones exactly as ingest does. A corpus already there (same
    manifest) is reused.
    """
    from rag.embed import MiniLMOnnx
    from rag.ingest import prepare_document
    from rag.ingest.chunk import chunk_document
    from rag.ingest.metadata import load_sidecar

    seed_files = sorted(seeds.glob("*.txt"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in seed_files)).hexdigest()[:16]
    manifest_path = root / "manifest.json"
    with contextlib.suppress(OSError, ValueError):
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (manifest.get("version"), manifest.get("size"), manifest.get("seeds")) == (GENERATOR_VERSION, size, digest):
            return manifest
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    settings = bench_settings(root / "unused-store", seeds)
    counter = MiniLMOnnx(verify=False).count_tokens
    max_tokens, overlap = settings.chunk.max_tokens, settings.chunk.overlap_sentences

    def chunks_of(path: Path, sidecar: Mapping[str, Any] | None = None) -> int:
        doc = prepare_document(path, settings, dict(sidecar) if sidecar else None)
        return len(chunk_document(doc, counter, max_tokens, overlap))

    (root / "seeds").mkdir()
    for p in [*seed_files, seeds / "metadata.json"]:
        if p.is_file():
            shutil.copy2(p, root / "seeds" / p.name)
    sidecar = load_sidecar(root / "seeds")
    seed_chunks = sum(chunks_of(root / "seeds" / p.name, sidecar) for p in seed_files)
    sentences = _seed_sentences(seeds)
    calib = min(20, max(1, size // 10))
    counts = []
    for n in range(calib):
        path = _doc_path(root, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(synthetic_document(sentences, n, sentences_per_doc), encoding="utf-8")
        counts.append(chunks_of(path))
    per_doc = sum(counts) / len(counts)
    n_docs = max(calib, round(max(0, size - seed_chunks) / per_doc))
    for n in range(calib, n_docs):
        path = _doc_path(root, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(synthetic_document(sentences, n, sentences_per_doc), encoding="utf-8")
    manifest = {
        "version": GENERATOR_VERSION,
        "size": size,
        "seeds": digest,
        "documents": n_docs + len(seed_files),
        "synthetic_documents": n_docs,
        "chunks_per_synthetic_document": round(per_doc, 2),
        "estimated_chunks": round(seed_chunks + n_docs * per_doc),
        "bytes": sum(_doc_path(root, n).stat().st_size for n in range(n_docs)),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
