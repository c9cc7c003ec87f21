"""The one codec between rag's ``Chunk``/``Document`` and the store's records."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

import numpy as np

from rag.types import Chunk, Flagged, Source
from store import Hit

__all__ = ["chunk_from_hit", "decode_flagged", "decode_vectors", "encode_vectors"]


def encode_vectors(vecs: np.ndarray) -> str:
    """Sentence vectors as compact int8 base64 (Chroma metadata holds only scalars)."""
    q = np.clip(np.round(vecs * 127.0), -127, 127).astype(np.int8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def decode_vectors(data: str, dim: int) -> np.ndarray:
    """Inverse of :func:`encode_vectors`, re-normalised."""
    q = np.frombuffer(base64.b64decode(data), dtype=np.int8).astype(np.float32).reshape(-1, dim)
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    return q / np.maximum(norms, 1e-9)


def _opt(meta: Mapping[str, object], key: str) -> str | None:
    v = meta.get(key)
    return str(v) if v not in (None, "") else None


def chunk_from_hit(hit: Hit, dim: int) -> Chunk:
    """Rebuild a :class:`Chunk` (with its sentence spans and vectors) from a stored record."""
    m = hit.metadata
    start = int(m.get("start", 0))
    rel = json.loads(str(m.get("sents", "[]")))
    vecs = decode_vectors(str(m["svec"]), dim) if m.get("svec") else None
    return Chunk(
        chunk_id=hit.id,
        doc_id=str(m.get("doc_id", "")),
        source=str(m.get("source", "")),
        text=hit.text,
        start=start,
        end=int(m.get("end", start + len(hit.text))),
        index=int(m.get("index", 0)),
        sentences=tuple((start + a, start + b) for a, b in rel),
        meta=Source(
            title=_opt(m, "title"),
            publisher=_opt(m, "publisher"),
            author=_opt(m, "author"),
            date=_opt(m, "date"),
            language=_opt(m, "language"),
        ),
        sentence_vectors=vecs,
        flagged=tuple(int(i) for i in json.loads(str(m.get("flagged") or "[]"))),
    )


def decode_flagged(meta: Mapping[str, object], text: str | None = None) -> tuple[Flagged, ...]:
    """A document record's flagged spans (with their text when the document text is given)."""
    spans = json.loads(str(meta.get("flagged") or "[]"))
    return tuple(
        Flagged(start=int(a), end=int(b), rule=str(rule), text=text[int(a) : int(b)] if text is not None else "")
        for a, b, rule in spans
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
    start = int(m.get("start", 0))
    return node_fields(hit.id, str(m.get("doc_id", "")), start, int(m.get("end", start + len(hit.text))), m)
