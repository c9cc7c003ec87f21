"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused by reciprocal rank."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np

from rag.aliases import Aliases
from rag.embed import Embedder
from rag.lexical import LexicalIndex, lexical_tokens
from rag.settings import RetrieveSettings
from rag.types import Chunk, ScoredChunk, Source
from store import Hit, VectorStore

__all__ = ["HybridRetriever", "Query", "chunk_from_hit", "decode_vectors", "encode_vectors"]


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
    )


def _fuse(dense: list[Hit], lexical: list[tuple[str, float]], cfg: RetrieveSettings) -> dict[str, float]:
    """Combine the two rankings into one score per chunk id."""
    fused: dict[str, float] = {}
    if cfg.fusion == "rrf":
        for rank, h in enumerate(dense):
            fused[h.id] = fused.get(h.id, 0.0) + cfg.dense_weight / (cfg.rrf_k + rank + 1)
        for rank, (cid, _) in enumerate(lexical):
            fused[cid] = fused.get(cid, 0.0) + cfg.lexical_weight / (cfg.rrf_k + rank + 1)
        return fused
    # Convex combination (Bruch et al. 2023): cosine is already on a fixed scale; BM25 is
    # divided by the best BM25 score of this query.
    top_lex = max((s for _, s in lexical), default=0.0)
    for h in dense:
        fused[h.id] = cfg.dense_weight * max(h.score, 0.0)
    for cid, s in lexical:
        fused[cid] = fused.get(cid, 0.0) + (cfg.lexical_weight * s / top_lex if top_lex > 0 else 0.0)
    return fused


@dataclass(frozen=True)
class Query:
    """A question prepared for retrieval: dense text, lexical tokens and its vector."""

    text: str
    dense_text: str
    tokens: tuple[str, ...]
    vector: np.ndarray


class HybridRetriever:
    """Dense top-N from the store plus BM25 top-N, fused with weighted reciprocal rank fusion."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        aliases: Aliases,
        settings: RetrieveSettings,
        lexical: Callable[[], LexicalIndex],
        committed: Callable[[], Collection[str]],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.aliases = aliases
        self.settings = settings
        self._lexical = lexical
        self._committed = committed

    def prepare(self, question: str) -> Query:
        """Normalise name variants and embed the question."""
        dense_text = self.aliases.dense_query(question)
        broader = " ".join(self.aliases.expansion_terms(question))
        tokens = lexical_tokens(question, self.aliases) + lexical_tokens(broader, self.aliases)
        return Query(question, dense_text, tuple(tokens), self.embedder.embed_query(dense_text))

    def retrieve(self, query: Query, top_k: int | None = None) -> list[ScoredChunk]:
        """The top-k chunks for a prepared query, best first."""
        cfg = self.settings
        k = top_k or cfg.top_k
        n = max(cfg.candidates, k)
        committed = self._committed()
        # Chunks of a document whose ingest has not finished are invisible.
        dense = [h for h in self.store.query(query.vector, n) if h.metadata.get("doc_id") in committed]
        lexical = self._lexical().search(query.tokens, n)
        fused = _fuse(dense, lexical, cfg)
        best = sorted(fused, key=lambda c: -fused[c])[:k]
        hits = {h.id: h for h in dense}
        missing = [c for c in best if c not in hits]
        for h in self.store.get(missing):
            if h.metadata.get("doc_id") in committed:
                hits[h.id] = h
        dense_scores = {h.id: h.score for h in dense}
        lex_scores = dict(lexical)
        out: list[ScoredChunk] = []
        for cid in best:
            if cid not in hits:
                continue
            chunk = chunk_from_hit(hits[cid], self.embedder.dim)
            out.append(
                ScoredChunk(
                    chunk=chunk,
                    score=fused[cid],
                    rank=len(out) + 1,
                    dense_score=dense_scores.get(cid),
                    lexical_score=lex_scores.get(cid),
                )
            )
        return out
