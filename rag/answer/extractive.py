"""The grounded extractive answerer: pick the few retrieved sentences that best answer the question."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.lru import LRU
from rag.retrieve.aliases import Aliases
from rag.retrieve.hybrid import Query
from rag.retrieve.lexical import lexical_tokens
from rag.text import is_answer_sentence, words
from rag.types import Chunk, ScoredChunk
from rag.verify.cite import CitedSentence

__all__ = ["Candidate", "ExtractiveAnswerer", "Selection"]

# Weights of the sentence score: semantic similarity of the sentence (pooled from its chunk's
# token vectors, so it carries context) and idf-weighted coverage of the question's terms.
W_SEMANTIC = 0.65
W_LEXICAL = 0.35
# A later sentence must score at least this share of the best one to join the answer.
RELATIVE_CUTOFF = 0.70
# Near-duplicates (the same fact told twice) are skipped.
DUPLICATE_COSINE = 0.90
DUPLICATE_JACCARD = 0.6
# Small nudge towards covering more than one source.
SOURCE_REPEAT_PENALTY = 0.02
# Answer-type cues: a "why" question wants a reason, "when" a date, "how many" a number.
W_CUE = 0.06
_CUES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(r"^\s*(why|what (is|are|was|were) the reasons?|how come)\b", re.I),
        re.compile(
            r"\b(because|since|due to|as a result|in order to|so that|reasons?|therefore|aims?|goals?|accus\w*|"
            r"against|views?|sees?|considers?|regards?|oppos\w*)\b",
            re.I,
        ),
    ),
    (
        re.compile(r"^\s*(when|what (year|date|month|day)|in what year|since when)\b", re.I),
        re.compile(
            r"\b(1[89]\d\d|20\d\d|january|february|march|april|may|june|july|august|september|october|"
            r"november|december)\b",
            re.I,
        ),
    ),
    (re.compile(r"^\s*how (many|much)\b|\bnumber of\b", re.I), re.compile(r"\d")),
]
_ANAPHORA = re.compile(r"^(This|These|That|Those|It|Its|They|Their|He|She|His|Her|Such)\b")
# A chosen sentence's follower that opens with a demonstrative ("This goes against …") continues
# its thought; it joins the answer when it scores at least this share of the best sentence.
_CONTINUATION = re.compile(r"^(This|These|That|Such)\b")
CONTINUATION_SHARE = 0.6


@dataclass
class Candidate:
    """A sentence of a retrieved chunk with its scores."""

    text: str
    start: int
    end: int
    item: ScoredChunk
    vector: np.ndarray | None
    semantic: float
    lexical: float
    score: float
    word_set: frozenset[str] = field(default=frozenset())  # the sentence's words, for near-duplicate checks


@dataclass(frozen=True)
class _Sentence:
    """What scoring needs of a chunk's sentence that does not depend on the question."""

    index: int
    start: int
    end: int
    text: str
    terms: frozenset[str]
    words: frozenset[str]


@dataclass(frozen=True)
class Selection:
    """The chosen sentences (in reading order) and the evidence score that decides abstention."""

    sentences: list[CitedSentence]
    evidence: float
    candidates: list[Candidate]


class ExtractiveAnswerer:
    """Scores, de-duplicates and orders sentences; abstains when the best evidence is weak."""

    def __init__(
        self,
        aliases: Aliases,
        idf: Callable[[str], float],
        max_sentences: int = 4,
        min_evidence: float = 0.4,
        cache_size: int = 2048,
    ) -> None:
        self.aliases = aliases
        self.idf = idf
        self.max_sentences = max_sentences
        self.min_evidence = min_evidence
        self._cache: LRU[list[_Sentence]] = LRU(cache_size)

    def _sentences(self, chunk: Chunk) -> list[_Sentence]:
        """The chunk's answer-worthy sentences with their terms, cached by chunk id."""
        cached = self._cache.get(chunk.chunk_id)
        if cached is not None:
            return cached
        out = []
        for j, (a, b) in enumerate(chunk.sentences):
            text = chunk.text[a - chunk.start : b - chunk.start]
            # A sentence addressed to an assistant (flagged at ingest) is never evidence.
            if is_answer_sentence(text) and j not in chunk.flagged:
                terms = frozenset(lexical_tokens(text, self.aliases))
                out.append(_Sentence(j, a, b, text, terms, frozenset(words(text))))
        self._cache.set(chunk.chunk_id, out)
        return out

    def candidates(self, query: Query, retrieved: Sequence[ScoredChunk]) -> list[Candidate]:
        """Every answer-worthy sentence of the retrieved chunks, scored, best first."""
        q_terms = set(query.tokens)
        q_weight = sum(self.idf(t) for t in q_terms)
        seen: set[tuple[str, int]] = set()
        cue = next((c for q, c in _CUES if q.search(query.text)), None)
        out: list[Candidate] = []
        for item in retrieved:
            chunk = item.chunk
            vecs = chunk.sentence_vectors
            for s in self._sentences(chunk):
                key = (chunk.doc_id, s.start)
                if key in seen:  # overlapping chunks repeat a sentence
                    continue
                seen.add(key)
                vec = vecs[s.index] if vecs is not None and s.index < len(vecs) else None
                semantic = float(vec @ query.vector) if vec is not None else 0.0
                lexical = sum(self.idf(t) for t in q_terms & s.terms) / q_weight if q_weight else 0.0
                score = W_SEMANTIC * semantic + W_LEXICAL * lexical + (W_CUE if cue and cue.search(s.text) else 0.0)
                out.append(Candidate(s.text, s.start, s.end, item, vec, semantic, lexical, score, s.words))
        out.sort(key=lambda c: -c.score)
        return out

    def select(self, query: Query, retrieved: Sequence[ScoredChunk]) -> Selection:
        """Choose up to ``max_sentences`` sentences; empty when the evidence is below the threshold."""
        cands = self.candidates(query, retrieved)
        if not cands:
            return Selection([], 0.0, [])
        best = cands[0]
        evidence = best.score
        if evidence < self.min_evidence:
            return Selection([], evidence, cands)
        chosen: list[Candidate] = [best]
        pool = cands[1:]
        while pool and len(chosen) < self.max_sentences:
            used = {c.item.chunk.doc_id for c in chosen}
            scored = []
            for c in pool:
                if self._duplicate(c, chosen):
                    continue
                adj = c.score - (SOURCE_REPEAT_PENALTY if c.item.chunk.doc_id in used else 0.0)
                scored.append((adj, c))
            if not scored:
                break
            adj, nxt = max(scored, key=lambda t: t[0])
            if adj < RELATIVE_CUTOFF * best.score:
                break
            chosen.append(nxt)
            pool = [c for c in pool if c is not nxt]
        chosen = self._add_neighbours(chosen, cands, floor=CONTINUATION_SHARE * best.score)
        return Selection(self._order(chosen), evidence, cands)

    @staticmethod
    def _duplicate(c: Candidate, chosen: Sequence[Candidate]) -> bool:
        cw = c.word_set
        for o in chosen:
            # Neighbouring sentences share context in their pooled vectors: compare vectors across documents only.
            same_doc = c.item.chunk.doc_id == o.item.chunk.doc_id
            if (
                not same_doc
                and c.vector is not None
                and o.vector is not None
                and float(c.vector @ o.vector) > DUPLICATE_COSINE
            ):
                return True
            ow = o.word_set
            if cw and ow and len(cw & ow) / len(cw | ow) > DUPLICATE_JACCARD:
                return True
        return False

    @staticmethod
    def _add_neighbours(chosen: list[Candidate], cands: Sequence[Candidate], floor: float) -> list[Candidate]:
        """Keep references readable: a chosen sentence opening with 'This …' brings the sentence before
        it; a chosen sentence followed by a relevant 'This …' sentence brings that one too."""
        by_end = {(c.item.chunk.doc_id, c.end): c for c in cands}
        by_start = {(c.item.chunk.doc_id, c.start): c for c in cands}
        out = list(chosen)
        for c in chosen:
            doc = c.item.chunk.doc_id
            # Neighbours are a space or a newline or two apart.
            if _ANAPHORA.match(c.text):
                prev = next((by_end[(doc, c.start - g)] for g in range(1, 4) if (doc, c.start - g) in by_end), None)
                if prev is not None and prev not in out:
                    out.append(prev)
            nxt = next((by_start[(doc, c.end + g)] for g in range(1, 4) if (doc, c.end + g) in by_start), None)
            if nxt is not None and nxt not in out and _CONTINUATION.match(nxt.text) and nxt.score >= floor:
                out.append(nxt)
        return out

    @staticmethod
    def _order(chosen: Sequence[Candidate]) -> list[CitedSentence]:
        """Group by source (best source first), and keep document order within a source."""
        first_rank: dict[str, int] = {}
        for i, c in enumerate(chosen):
            first_rank.setdefault(c.item.chunk.doc_id, i)
        ordered = sorted(chosen, key=lambda c: (first_rank[c.item.chunk.doc_id], c.start))
        return [CitedSentence(c.text, c.item.chunk, c.start, c.end, c.score) for c in ordered]
