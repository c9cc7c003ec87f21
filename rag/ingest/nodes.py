"""Our Chroma collection as a llama-index store: migrate older chunk records, adopt nodes llama-index inserted.

Chunks are written in llama-index's node format (:func:`rag.records.node_fields`), so
``VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=...))`` reads them. The
other way round, ``index.insert(Document(...))`` writes nodes with no document record of ours;
:func:`adopt_foreign_nodes` gives them one (and their sentence spans and vectors), so ``rag``
lists and answers from them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rag.embed import Embedder
from rag.records import NODE_CONTENT, NODE_FORMAT, encode_vectors, hit_node_fields
from rag.text import split_sentences
from store import DocRecord, Hit, StoreError, VectorStore
from store.types import Scalar

__all__ = ["ORIGIN_LLAMA_INDEX", "AdoptReport", "adopt_foreign_nodes", "ensure_node_format", "foreign_nodes"]

log = logging.getLogger("rag")

#: ``origin`` of a document record made for nodes inserted through llama-index.
ORIGIN_LLAMA_INDEX = "llama-index"
_MARKER = "node_format"


def ensure_node_format(store: VectorStore) -> str | None:
    """Give every chunk of an older store the llama-index node fields; returns what was done, or None.

    Metadata only: no text, vector or id changes, nothing re-embedded. A store that cannot be
    written is left as it is (rag reads both formats) with a message naming the fix.
    """
    if store.marker(_MARKER) == NODE_FORMAT:
        return None
    if store.count() == 0:
        with contextlib.suppress(StoreError):  # a read-only empty store has nothing to migrate
            store.set_marker(_MARKER, NODE_FORMAT)
        return None
    try:
        ids: list[str] = []
        metas: list[dict[str, str]] = []
        n = 0
        for hit in store.iter_chunks():
            if NODE_CONTENT in hit.metadata or "embed_model" not in hit.metadata:
                continue  # already a node, or not ours (see adopt_foreign_nodes)
            ids.append(hit.id)
            metas.append(hit_node_fields(hit))
            if len(ids) >= 1000:
                store.update_metadata(ids, metas)
                n, ids, metas = n + len(ids), [], []
        if ids:
            store.update_metadata(ids, metas)
            n += len(ids)
        store.set_marker(_MARKER, NODE_FORMAT)
    except StoreError as exc:
        msg = (
            f"the store at {store.location} predates llama-index's node format and could not be migrated "
            f"({exc}); rag still reads it, llama-index's ChromaVectorStore cannot until `rag ingest --rebuild`"
        )
        log.warning("rag: %s", msg)
        return msg
    if not n:
        return None
    msg = (
        f"migrated the store at {store.location} to llama-index's node format on open: {n} chunks "
        "(metadata only, nothing re-embedded)"
    )
    log.warning("rag: %s", msg)
    return msg


def _node(hit: Hit) -> dict[str, Any]:
    try:
        data = json.loads(str(hit.metadata.get(NODE_CONTENT, "{}")))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def foreign_nodes(store: VectorStore, committed: Sequence[str]) -> dict[str, list[Hit]]:
    """Nodes llama-index wrote into our collection, by their document id (our unfinished ingests excluded)."""
    out: dict[str, list[Hit]] = {}
    for hit in store.chunks_outside(committed):
        m = hit.metadata
        if NODE_CONTENT in m and "embed_model" not in m:
            out.setdefault(str(m.get("ref_doc_id") or hit.doc_id or hit.id), []).append(hit)
    return out


@dataclass
class AdoptReport:
    """What :func:`adopt_foreign_nodes` did."""

    adopted: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0


def _text_of(hits: list[tuple[Hit, dict[str, Any]]]) -> tuple[str, list[tuple[int, int]]]:
    """The document text the nodes came from, and each node's span in it.

    llama-index's splitters record where each node starts in its document; when the nodes agree
    with those offsets the text is rebuilt from them, else the nodes are joined by blank lines.
    """
    given = [(n.get("start_char_idx"), n.get("end_char_idx")) for _, n in hits]
    if all(isinstance(a, int) and isinstance(b, int) for a, b in given):
        spans = [(int(a), int(b)) for a, b in given]  # type: ignore[arg-type]
        buf = [" "] * max(b for _, b in spans)
        ok = True
        for (hit, _), (a, b) in zip(hits, spans, strict=True):
            if b - a != len(hit.text):
                ok = False
                break
            for i, ch in enumerate(hit.text):
                if buf[a + i] not in (" ", ch):
                    ok = False
                buf[a + i] = ch
        if ok:
            return "".join(buf), spans
    text, out = "", []
    for hit, _ in hits:
        if text:
            text += "\n\n"
        out.append((len(text), len(text) + len(hit.text)))
        text += hit.text
    return text, out


def adopt_foreign_nodes(
    store: VectorStore, embedder: Embedder, committed: Sequence[str], *, signature: str
) -> AdoptReport:
    """Give nodes inserted through llama-index a document record, sentence spans and sentence vectors.

    Their text, vectors and ids are kept as llama-index wrote them. Nodes without text are refused
    (reported, left in place).
    """
    report = AdoptReport()
    for doc_id, group in foreign_nodes(store, committed).items():
        nodes = [(h, _node(h)) for h in group]
        if not all(h.text.strip() for h, _ in nodes):
            report.refused.append((doc_id, "a node without text (only text nodes can be cited)"))
            continue
        nodes.sort(key=lambda p: (p[1].get("start_char_idx") or 0, p[0].id))
        text, spans = _text_of(nodes)
        meta0: Mapping[str, Any] = nodes[0][1].get("metadata") or {}
        source = str(meta0.get("file_name") or f"llama-index-{doc_id[:12]}")
        info = {
            "source": source,
            "path": str(meta0.get("file_path") or f"llama-index:{doc_id}"),
            "title": meta0.get("title") or meta0.get("file_name"),
            "publisher": meta0.get("publisher"),
            "author": meta0.get("author"),
            "date": meta0.get("date"),
        }
        shown = {k: str(v) for k, v in info.items() if v not in (None, "")}
        rel = [[(a - s, b - s) for a, b in split_sentences(text, s, e)] for s, e in spans]
        vecs, sent_vecs = embedder.embed_with_spans([h.text for h, _ in nodes], rel)
        content_hash = hashlib.sha256(text.encode()).hexdigest()
        updates: list[dict[str, Scalar]] = [
            {
                **shown,
                "doc_id": doc_id,
                "start": s,
                "end": e,
                "index": i,
                "content_hash": content_hash,
                "embed_model": embedder.model_id,
                "sents": json.dumps(r, separators=(",", ":")),
                "svec": encode_vectors(sv),
            }
            for i, ((s, e), r, sv) in enumerate(zip(spans, rel, sent_vecs, strict=True))
        ]
        store.update_metadata([h.id for h, _ in nodes], updates)
        mean = vecs.mean(axis=0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-9)
        doc_meta: dict[str, Any] = {
            **shown,
            "content_hash": content_hash,
            "signature": signature,
            "embed_model": embedder.model_id,
            "n_chunks": len(nodes),
            "chars": len(text),
            "removed": "[]",
            "notes": json.dumps(["inserted through llama-index (index.insert); adopted by rag"]),
            "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "origin": ORIGIN_LLAMA_INDEX,
        }
        store.put_documents([DocRecord(id=doc_id, vector=mean.astype(np.float32), text=text, metadata=doc_meta)])
        report.adopted.append(source)
        report.chunks += len(nodes)
    return report
