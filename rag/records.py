"""The one codec between rag's ``Chunk``/``Document`` and the store's records.

Ingest writes records only through :func:`chunk_record` and :func:`doc_record`; everything that
reads them back (retrieval, ``rag sources``, the corpus signature, the bench) goes through the
decoders here. The metadata keys in :class:`Key` are the stored format: existing stores hold
them, so a key is never renamed, only added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

import numpy as np

from rag.types import Chunk, Document, DocumentInfo, Flagged, RemovedLine, Source
from store import DocRecord, Hit, Record, Scalar

__all__ = [
    "META_FIELDS",
    "NODE_CONTENT",
    "NODE_FORMAT",
    "NODE_METADATA",
    "NODE_TYPE",
    "Key",
    "chunk_from_hit",
    "chunk_meta",
    "chunk_record",
    "decode_flagged",
    "decode_vectors",
    "doc_record",
    "document_from_record",
    "document_info",
    "encode_vectors",
    "hit_node_fields",
    "node_fields",
    "relative_spans",
    "sentence_spans",
]


class Key:
    """Metadata keys of stored chunk and document records."""

    SOURCE = "source"
    PATH = "path"
    START = "start"
    END = "end"
    INDEX = "index"
    CONTENT_HASH = "content_hash"
    EMBED_MODEL = "embed_model"
    SENTENCES = "sents"
    SENTENCE_VECTORS = "svec"
    FLAGGED = "flagged"
    TITLE = "title"
    PUBLISHER = "publisher"
    AUTHOR = "author"
    DATE = "date"
    LANGUAGE = "language"
    SIGNATURE = "signature"
    N_CHUNKS = "n_chunks"
    CHARS = "chars"
    REMOVED = "removed"
    NOTES = "notes"
    INGESTED_AT = "ingested_at"
    #: Set on documents rag adopted from nodes inserted through llama-index (they have no file of ours).
    ORIGIN = "origin"


#: The bibliographic fields of :class:`rag.types.Source` that records carry, each under its own name.
META_FIELDS = (Key.TITLE, Key.PUBLISHER, Key.AUTHOR, Key.DATE, Key.LANGUAGE)


def encode_vectors(vecs: np.ndarray) -> str:
    """Sentence vectors as compact int8 base64 (Chroma metadata holds only scalars)."""
    q = np.clip(np.round(vecs * 127.0), -127, 127).astype(np.int8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def decode_vectors(data: str, dim: int) -> np.ndarray:
    """Inverse of :func:`encode_vectors`, re-normalised."""
    q = np.frombuffer(base64.b64decode(data), dtype=np.int8).astype(np.float32).reshape(-1, dim)
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    return q / np.maximum(norms, 1e-9)


def relative_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The chunk's sentence spans relative to the chunk text (as stored and as embedded)."""
    return [(a - chunk.start, b - chunk.start) for a, b in chunk.sentences]


def _source_meta(meta: Source) -> dict[str, str | None]:
    return {f: getattr(meta, f) for f in META_FIELDS}


def chunk_meta(doc: Document, chunk: Chunk, model_id: str) -> dict[str, Scalar | None]:
    """A chunk record's metadata without its sentence data and node fields (what decides whether a
    stored chunk is the one a rerun would write); None marks a field left out of the record."""
    meta: dict[str, object] = {
        Key.SOURCE: chunk.source,
        Key.PATH: doc.path,
        Key.START: chunk.start,
        Key.END: chunk.end,
        Key.INDEX: chunk.index,
        Key.CONTENT_HASH: doc.content_hash,
        Key.EMBED_MODEL: model_id,
        Key.FLAGGED: json.dumps(list(chunk.flagged), separators=(",", ":")) if chunk.flagged else None,
        **_source_meta(chunk.meta),
    }
    return {k: v if isinstance(v, str | int | float | bool) else None for k, v in meta.items()}


def chunk_record(
    doc: Document, chunk: Chunk, vector: np.ndarray, sentence_vectors: np.ndarray, model_id: str
) -> Record:
    """The store record of one chunk of ``doc`` (its sentence vectors quantised into the metadata)."""
    meta: dict[str, object] = {
        **chunk_meta(doc, chunk, model_id),
        Key.SENTENCES: json.dumps(relative_spans(chunk), separators=(",", ":")),
        Key.SENTENCE_VECTORS: encode_vectors(sentence_vectors),
    }
    meta.update(node_fields(chunk.chunk_id, chunk.doc_id, chunk.start, chunk.end, meta))
    return Record(id=chunk.chunk_id, vector=vector, text=chunk.text, doc_id=chunk.doc_id, metadata=_scalars(meta))


def doc_record(
    doc: Document, vector: np.ndarray, *, n_chunks: int, signature: str, model_id: str, ingested_at: str
) -> DocRecord:
    """The store record of a document: its commit mark, written after its chunks."""
    meta: dict[str, object] = {
        Key.SOURCE: doc.source,
        Key.PATH: doc.path,
        **_source_meta(doc.meta),
        Key.CONTENT_HASH: doc.content_hash,
        Key.SIGNATURE: signature,
        Key.EMBED_MODEL: model_id,
        Key.N_CHUNKS: n_chunks,
        Key.CHARS: len(doc.text),
        Key.REMOVED: json.dumps([[r.line, r.rule, r.text] for r in doc.removed], ensure_ascii=False),
        Key.NOTES: json.dumps(list(doc.notes), ensure_ascii=False),
        Key.FLAGGED: json.dumps([[f.start, f.end, f.rule] for f in doc.flagged]) if doc.flagged else None,
        Key.INGESTED_AT: ingested_at,
    }
    return DocRecord(id=doc.doc_id, vector=vector, text=doc.text, metadata=_scalars(meta))


def _scalars(meta: Mapping[str, object]) -> dict[str, Scalar]:
    # Unknown fields are left out rather than stored empty (Chroma refuses None).
    return {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}


def _opt(meta: Mapping[str, object], key: str) -> str | None:
    v = meta.get(key)
    return str(v) if v not in (None, "") else None


def _source(meta: Mapping[str, object]) -> Source:
    return Source(**{f: _opt(meta, f) for f in META_FIELDS})


def sentence_spans(hit: Hit) -> list[tuple[int, int]]:
    """A stored chunk's sentence spans, relative to its text."""
    return [(int(a), int(b)) for a, b in json.loads(str(hit.metadata.get(Key.SENTENCES, "[]")))]


def chunk_from_hit(hit: Hit, dim: int) -> Chunk:
    """Rebuild a :class:`Chunk` (with its sentence spans and vectors) from a stored record."""
    m = hit.metadata
    start = int(m.get(Key.START, 0))
    svec = m.get(Key.SENTENCE_VECTORS)
    return Chunk(
        chunk_id=hit.id,
        doc_id=hit.doc_id,
        source=str(m.get(Key.SOURCE, "")),
        text=hit.text,
        start=start,
        end=int(m.get(Key.END, start + len(hit.text))),
        index=int(m.get(Key.INDEX, 0)),
        sentences=tuple((start + a, start + b) for a, b in sentence_spans(hit)),
        meta=_source(m),
        sentence_vectors=decode_vectors(str(svec), dim) if svec else None,
        flagged=tuple(int(i) for i in json.loads(str(m.get(Key.FLAGGED) or "[]"))),
    )


def decode_flagged(meta: Mapping[str, object], text: str | None = None) -> tuple[Flagged, ...]:
    """A document record's flagged spans (with their text when the document text is given)."""
    spans = json.loads(str(meta.get(Key.FLAGGED) or "[]"))
    return tuple(
        Flagged(start=int(a), end=int(b), rule=str(rule), text=text[int(a) : int(b)] if text is not None else "")
        for a, b, rule in spans
    )


def document_info(doc_id: str, meta: Mapping[str, object]) -> DocumentInfo:
    """A document record's metadata as :class:`DocumentInfo`."""
    removed: Sequence[Sequence[object]] = json.loads(str(meta.get(Key.REMOVED, "[]")))
    return DocumentInfo(
        doc_id=doc_id,
        source=str(meta.get(Key.SOURCE, "")),
        path=str(meta.get(Key.PATH, "")),
        meta=_source(meta),
        chunks=int(str(meta.get(Key.N_CHUNKS, 0))),
        chars=int(str(meta.get(Key.CHARS, 0))),
        ingested_at=str(meta.get(Key.INGESTED_AT, "")),
        removed=tuple(RemovedLine(line=int(str(a)), rule=str(b), text=str(c)) for a, b, c in removed),
        notes=tuple(json.loads(str(meta.get(Key.NOTES, "[]")))),
        flagged=decode_flagged(meta),
    )


def document_from_record(rec: DocRecord) -> Document:
    """A full document record (with its text) as :class:`Document`."""
    info = document_info(rec.id, rec.metadata)
    return Document(
        doc_id=rec.id,
        source=info.source,
        path=info.path,
        text=rec.text,
        content_hash=str(rec.metadata.get(Key.CONTENT_HASH, "")),
        meta=info.meta,
        removed=info.removed,
        notes=info.notes,
        flagged=decode_flagged(rec.metadata, rec.text),
    )


#: The chunk-metadata keys llama-index's ``ChromaVectorStore`` reads and writes.
NODE_CONTENT, NODE_TYPE = "_node_content", "_node_type"
#: Marker value of a store whose every chunk carries them (see ``store.marker("node_format")``).
NODE_FORMAT = "llama-index-textnode-1"
#: What a llama-index node of ours shows of its chunk: bibliographic fields, never sentence data.
NODE_METADATA = ("source", "title", "publisher", "author", "date")


def node_fields(chunk_id: str, doc_id: str, start: int, end: int, meta: Mapping[str, object]) -> dict[str, str]:
    """The metadata that makes a stored chunk a llama-index ``TextNode`` (as ``node_to_metadata_dict`` writes it).

    ``_node_content`` holds the node without its text (Chroma's document is the text), with only
    :data:`NODE_METADATA`; none of it is embedded (our vectors are of the text alone). The
    document id goes where llama-index looks for it (``document_id``, ``doc_id``, ``ref_doc_id``).
    """
    shown = {k: meta[k] for k in NODE_METADATA if meta.get(k) not in (None, "")}
    node = {
        "id_": chunk_id,
        "metadata": shown,
        "excluded_embed_metadata_keys": list(shown),
        "excluded_llm_metadata_keys": [],
        "relationships": {"1": {"node_id": doc_id, "node_type": "4"}},
        "text": "",
        "start_char_idx": start,
        "end_char_idx": end,
        "class_name": "TextNode",
    }
    return {
        NODE_CONTENT: json.dumps(node, ensure_ascii=False, separators=(",", ":")),
        NODE_TYPE: "TextNode",
        "document_id": doc_id,
        "doc_id": doc_id,
        "ref_doc_id": doc_id,
    }


def hit_node_fields(hit: Hit) -> dict[str, str]:
    """:func:`node_fields` for a chunk record already in the store (to migrate older stores)."""
    m = hit.metadata
    start = int(m.get(Key.START, 0))
    return node_fields(hit.id, hit.doc_id, start, int(m.get(Key.END, start + len(hit.text))), m)
