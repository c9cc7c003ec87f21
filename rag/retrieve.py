"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused into one ranking."""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from rag.aliases import Aliases
from rag.embed import Embedder
from rag.lexical import LexicalIndex, lexical_tokens
from rag.settings import RetrieveSettings
from rag.types import Chunk, ScoredChunk, Source
from store import Hit, VectorStore

__all__ = ["LRU", "ChunkCache", "HybridRetriever", "Query", "chunk_from_hit", "decode_vectors", "encode_vectors"]


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


V = TypeVar("V")


class LRU(Generic[V]):
    """A bounded, thread-safe least-recently-used map from str keys; size 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        """The cached value, marked as recently used, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: str, value: V) -> None:
        """Keep a value, evicting the least recently used beyond the size."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


class ChunkCache(LRU[Chunk]):
    """Decoded chunks by id.

    Chunk ids hash the document id and the chunk text, so an entry never goes stale on its own;
    the pipeline clears the cache whenever the corpus changes (metadata can change with a re-ingest).
    """

    def put(self, chunk: Chunk) -> None:
        """Keep a chunk under its id."""
        self.set(chunk.chunk_id, chunk)


def _fuse(dense: list[tuple[str, float]], lexical: list[tuple[str, float]], cfg: RetrieveSettings) -> dict[str, float]:
    """Combine the two rankings into one score per chunk id."""
    fused: dict[str, float] = {}
    if cfg.fusion == "rrf":
        for rank, (cid, _) in enumerate(dense):
            fused[cid] = fused.get(cid, 0.0) + cfg.dense_weight / (cfg.rrf_k + rank + 1)
        for rank, (cid, _) in enumerate(lexical):
            fused[cid] = fused.get(cid, 0.0) + cfg.lexical_weight / (cfg.rrf_k + rank + 1)
        return fused
    # Convex combination (Bruch et al. 2023): cosine is already on a fixed scale; BM25 is
    # divided by the best BM25 score of this query.
    top_lex = max((s for _, s in lexical), default=0.0)
    for cid, score in dense:
        fused[cid] = cfg.dense_weight * max(score, 0.0)
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
    """Dense top-N from the store plus BM25 top-N, fused (convex combination or reciprocal rank)."""

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
        self.cache = ChunkCache(settings.chunk_cache)

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
        # Ranking needs only ids and scores; payloads are read for the few chunks kept.
        dense = self.store.nearest(query.vector, n)
        lexical = self._lexical().search(query.tokens, n)
        fused = _fuse(dense, lexical, cfg)
        ranking = sorted(fused, key=lambda c: -fused[c])
        dense_scores = dict(dense)
        lex_scores = dict(lexical)
        out: list[ScoredChunk] = []
        for chunk in self._chunks(ranking, k):
            cid = chunk.chunk_id
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

    def _chunks(self, ranking: Sequence[str], k: int) -> list[Chunk]:
        """The first k chunks of ``ranking`` that belong to committed documents, in order."""
        # Chunks of a document whose ingest has not finished are invisible. Skipping them here
        # rather than before fusion gives the same top k under convex fusion (each id is scored on
        # its own); under RRF they still hold a rank, a small shift only while an ingest runs.
        committed = self._committed()
        out: list[Chunk] = []
        pos = 0
        while len(out) < k and pos < len(ranking):
            window = ranking[pos : pos + k - len(out)]
            pos += len(window)
            found = {cid: c for cid in window if (c := self.cache.get(cid)) is not None}
            missing = [cid for cid in window if cid not in found]
            for hit in self.store.get(missing):
                chunk = chunk_from_hit(hit, self.embedder.dim)
                self.cache.put(chunk)
                found[hit.id] = chunk
            out.extend(c for cid in window if (c := found.get(cid)) is not None and c.doc_id in committed)
        return out
