"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused into one ranking."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Sequence

import numpy as np

from rag.embed import Embedder
from rag.lru import LRU
from rag.records import chunk_from_hit
from rag.retrieve.aliases import Aliases
from rag.retrieve.lexical import LexicalIndex, lexical_tokens, number_tokens
from rag.settings import RetrieveSettings
from rag.types import Chunk, Query, ScoredChunk
from store import VectorStore

__all__ = ["ALIAS_VECTOR_WEIGHT", "ChunkCache", "HybridRetriever", "Query", "mix_alias_vectors", "searched_text"]

#: How much of each named entity's display-form vector ("ISIS-K (Islamic State Khorasan Province)")
#: is added to the question's vector, so name variants match without lengthening the encoded query.
#: Fitted on the dev questions to reproduce the spelled-out query's vector: ``python -m eval.calibrate``.
ALIAS_VECTOR_WEIGHT = 0.25

# "… according to the articles", "in these documents": the question pointing at the corpus itself,
# which says nothing of what it asks (searched, "according to" finds every "According to Politico").
_ABOUT_THE_CORPUS = re.compile(
    r",?\s*\b(?:according to|as (?:described|reported|stated|said) (?:in|by)|based on|in|from)\s+"
    r"(?:the|these|this|those|your|my|our)\s+(?:articles?|documents?|texts?|sources?|reports?|files?|passages?|"
    r"corpus|docs)\b(?!\s+(?:of|on|about)\b|['’])",
    re.I,
)


def searched_text(question: str) -> str:
    """What of the question is searched: without a phrase that only points at the documents."""
    out = _ABOUT_THE_CORPUS.sub("", question).strip(" ,;:")
    if not re.search(r"\w", out):
        return question
    return out[0].upper() + out[1:] if question[:1].isupper() else out


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
    # A BM25 hit outside the dense top-N still has a cosine, at most the N-th best: impute that
    # bound rather than 0, so an exact rare term ("note 1234") is not outvoted by N near-duplicates.
    floor = cfg.dense_weight * max(min((s for _, s in dense), default=0.0), 0.0)
    for cid, _ in lexical:
        fused.setdefault(cid, floor)
    for cid, s in lexical:
        fused[cid] = fused.get(cid, 0.0) + (cfg.lexical_weight * s / top_lex if top_lex > 0 else 0.0)
    return fused


def mix_alias_vectors(question: np.ndarray, displays: Sequence[np.ndarray], weight: float) -> np.ndarray:
    """The question's vector plus ``weight`` × each entity's display-form vector, L2-normalised."""
    if not displays or weight <= 0:
        return question
    mixed = question + weight * np.sum(displays, axis=0)
    norm = float(np.linalg.norm(mixed))
    return (mixed / norm).astype(question.dtype) if norm > 0 else question


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
        self.alias_weight = ALIAS_VECTOR_WEIGHT
        self._display_vectors: dict[str, np.ndarray] = {}

    def display_vector(self, canonical: str) -> np.ndarray:
        """The embedding of an entity's display form, computed once per process."""
        vec = self._display_vectors.get(canonical)
        if vec is None:
            vec = self.embedder.embed_query(self.aliases.display(canonical))
            self._display_vectors[canonical] = vec
        return vec

    def prepare(self, question: str) -> Query:
        """Normalise name variants and embed the question.

        The question is encoded as written, less a phrase pointing at the documents (``searched_text``);
        each entity it names adds its precomputed display-form vector, so "ISKP" finds "Islamic State
        Khorasan Province" at no extra model time.
        """
        searched = searched_text(question)
        broader = " ".join(self.aliases.expansion_terms(searched))
        tokens = lexical_tokens(searched, self.aliases) + lexical_tokens(broader, self.aliases)
        displays = [self.display_vector(c) for c in self.aliases.entities(searched)]
        vector = mix_alias_vectors(self.embedder.embed_query(searched), displays, self.alias_weight)
        return Query(question, searched, tuple(tokens), vector)

    def retrieve(self, query: Query, top_k: int | None = None) -> list[ScoredChunk]:
        """The top-k chunks for a prepared query, best first; a compound query's parts add their own
        top-k chunks after those (each part is answered from chunks that speak of it)."""
        out = self._retrieve_one(query, top_k)
        seen = {r.chunk.chunk_id for r in out}
        for part in query.parts:
            for r in self._retrieve_one(part, top_k):
                if r.chunk.chunk_id not in seen:
                    seen.add(r.chunk.chunk_id)
                    out.append(dataclasses.replace(r, rank=len(out) + 1))
        return out

    def _retrieve_one(self, query: Query, top_k: int | None) -> list[ScoredChunk]:
        cfg = self.settings
        k = top_k or cfg.top_k
        n = max(cfg.candidates, k)
        # Ranking needs only ids and scores; payloads are read for the few chunks kept.
        dense = self.store.nearest(query.vector, n)
        lexical = self._lexical().search(query.tokens + tuple(number_tokens(query.text)), n)
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
