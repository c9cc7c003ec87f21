"""The grounded extractive answerer: pick the few retrieved sentences that best answer the question."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer.evidence import EvidenceModel, load_evidence_model
from rag.lru import LRU
from rag.retrieve.aliases import Aliases
from rag.retrieve.hybrid import Query
from rag.retrieve.lexical import lexical_tokens
from rag.text import is_answer_sentence, words
from rag.types import Chunk, ScoredChunk
from rag.verify.cite import CitedSentence
from rag.verify.constraints import (
    Constraints,
    TypedAnswer,
    about_words,
    asked_names,
    counted_terms,
    extract,
    has_answer_type,
    predicate_coverage,
    predicate_terms,
    verb_head,
    years,
)

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
# A sentence naming the question's rare name verbatim ("Jennifer Cafarella") is strong evidence
# even when MiniLM scores it low: it gains this much.
W_NAME = 0.10
# A name is rare when its rarest word is in at most this share of the chunks.
RARE_NAME_SHARE = 0.05
# Answer-type cues: a "why" question wants a reason, "when" a date, "how many" a number.
W_CUE = 0.06
# A companion sentence's gain per idf share of the question terms no chosen sentence holds yet: the
# facets of a question that asks more than one thing ("What did each side do to the other's leaders?";
# calibrated on the dev sets).
W_FACET = 0.15
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
# A sentence that opens a quotation says who speaks in the sentence before it ("General McKenzie said …").
_QUOTATION = re.compile(r"^[“\"]")
# A chosen sentence's follower that opens with a demonstrative ("This goes against …") continues
# its thought; it joins the answer when it scores at least this share of the best sentence.
_CONTINUATION = re.compile(r"^(This|These|That|Such)\b")
CONTINUATION_SHARE = 0.6
# Why nothing was chosen when no sentence holds all of the question's numbers and names.
_NO_ANCHOR = "no sentence holds the question's numbers and names"
_NO_PART = "no sentence answers any part of the question on its own"
# How many of a document's first sentences are its front matter (title, version, date lines).
FRONT_MATTER = 3


def _about(chunk: Chunk) -> str:
    """What names the chunk's document: its title, file name and date."""
    return f"{chunk.title} {chunk.source} {chunk.meta.date or ''}"


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
    anchor: bool = True  # meets the question's constraints (numbers, rare names, no other year)
    supporting: bool = True  # may stand beside an anchor (dates itself to no other year)
    typed: bool = True  # carries the answer type the question asks for
    name_bonus: float = 0.0  # part of ``score`` earned by naming the question's rare name verbatim
    terms: frozenset[str] = field(default=frozenset())  # the sentence's lexical terms
    dated_by_previous: bool = False  # the question's year is in the sentence before it, which it then brings


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
    evidence: float  # 0 when the question's constraints ruled every sentence out
    candidates: list[Candidate]
    #: Why nothing was chosen although sentences scored (a name the documents never mention, …).
    unmet: str | None = None
    #: The anchor sentence's features the evidence model scored (None when no sentence was an anchor).
    features: dict[str, float] | None = None
    #: The parts of a compound question no sentence answers (the other parts are answered).
    unanswered: list[str] = field(default_factory=list)


class ExtractiveAnswerer:
    """Scores, de-duplicates and orders sentences; abstains when the best evidence is weak."""

    def __init__(
        self,
        aliases: Aliases,
        idf: Callable[[str], float],
        max_sentences: int = 4,
        min_evidence: float = 0.4,
        cache_size: int = 2048,
        *,
        df: Callable[[str], int] | None = None,
        n_chunks: int = 0,
        model: EvidenceModel | None = None,
        min_probability: float | None = None,
        documents: Callable[[], Iterable[str]] | None = None,
        unseen: Callable[[str], bool] | None = None,
    ) -> None:
        self.aliases = aliases
        self.idf = idf
        # Without document frequencies every name counts as known and rare.
        self.df: Callable[[str], int] = df or (lambda _t: 1)
        self.n_chunks = n_chunks
        self.max_sentences = max_sentences
        self.min_evidence = min_evidence
        self.model = model or load_evidence_model()
        # When set, abstention follows the evidence model's probability instead of the score.
        self.min_probability = min_probability
        #: What names every document of the corpus (title, file name, date): a name the retrieved
        #: chunks lack may still be a document's ("BSD" is only the file name of bsd.txt).
        self.documents: Callable[[], Iterable[str]] = documents or (lambda: ())
        #: Tells a rare word no chunk uses in any form (``rare_unseen_word``); None: only names count.
        self.unseen = unseen
        #: Compute the anchor's features even when abstaining on the score (calibration reads them).
        self.collect_features = False
        self._cache: LRU[list[_Sentence]] = LRU(cache_size)
        self._terms: LRU[frozenset[str]] = LRU(cache_size)

    def _sentences(self, chunk: Chunk) -> list[_Sentence]:
        """The chunk's answer-worthy sentences with their terms, cached by chunk id."""
        cached = self._cache.get(chunk.chunk_id)
        if cached is not None:
            return cached
        # A sentence addressed to an assistant (flagged at ingest) is never evidence.
        out = [
            self._sentence(chunk, j)
            for j in range(len(chunk.sentences))
            if j not in chunk.flagged and is_answer_sentence(self._text(chunk, j))
        ]
        self._cache.set(chunk.chunk_id, out)
        return out

    @staticmethod
    def _text(chunk: Chunk, j: int) -> str:
        a, b = chunk.sentences[j]
        return chunk.text[a - chunk.start : b - chunk.start]

    def _sentence(self, chunk: Chunk, j: int) -> _Sentence:
        """The chunk's ``j``-th sentence with its lexical terms and words."""
        a, b = chunk.sentences[j]
        text = self._text(chunk, j)
        return _Sentence(j, a, b, text, frozenset(lexical_tokens(text, self.aliases)), frozenset(words(text)))

    def _front_matter(self, chunk: Chunk) -> list[_Sentence]:
        """The dated lines among a document's first sentences ("Version 2.0, January 2004"): headings
        that no other question may quote, but that say when the document came out."""
        if chunk.start != 0:
            return []
        return [
            self._sentence(chunk, j)
            for j in range(min(FRONT_MATTER, len(chunk.sentences)))
            if j not in chunk.flagged
            and not is_answer_sentence(text := self._text(chunk, j))
            and has_answer_type(text, "date")
        ]

    def constraints(self, question: str) -> Constraints:
        """The numbers, rare names and answer type ``question`` demands of its evidence."""
        return extract(question, self.aliases, self.df, self.unseen)

    def _chunk_terms(self, chunk: Chunk) -> frozenset[str]:
        """The chunk's lexical terms (all of its text, headings included), cached by chunk id."""
        cached = self._terms.get(chunk.chunk_id)
        if cached is None:
            cached = frozenset(lexical_tokens(chunk.text, self.aliases))
            self._terms.set(chunk.chunk_id, cached)
        return cached

    def candidates(
        self, query: Query, retrieved: Sequence[ScoredChunk], cons: Constraints | None = None
    ) -> list[Candidate]:
        """Every answer-worthy sentence of the retrieved chunks, scored, best first."""
        cons = cons if cons is not None else self.constraints(query.text)
        rare = [n for n in cons.names if n.rare(self.n_chunks, RARE_NAME_SHARE)]
        q_idf = {t: self.idf(t) for t in query.tokens}
        q_terms = q_idf.keys()
        q_weight = sum(q_idf.values())
        seen: set[tuple[str, int]] = set()
        cue = next((c for q, c in _CUES if q.search(query.text)), None)
        # A typed question ("When was X born?") is answered by a sentence that carries the type *and*
        # says something of what is asked: a date in a sentence that never mentions a birth is not one.
        rule = self.typed_answer(query, cons)
        out: list[Candidate] = []
        for item in retrieved:
            chunk = item.chunk
            vecs = chunk.sentence_vectors
            sentences = self._sentences(chunk)
            front = self._front_matter(chunk) if rule is not None and rule.dates_document else []
            if front:
                sentences = [*front, *sentences]
            about = _about(chunk)
            names_ok = cons.names_ok(self._chunk_terms(chunk), about, self.n_chunks, RARE_NAME_SHARE)
            # A name the document's own title holds ("… under the Apache License" in apache-2.0.txt) says
            # which document is meant; a sentence repeating it is no better evidence than the rest.
            titled = about_words(about)
            named = [n for n in rare if not n.in_text(titled)]
            # One product per chunk rather than one per sentence.
            sims = vecs @ query.vector if vecs is not None and len(vecs) else None
            prev: _Sentence | None = None
            for s in sentences:
                before, prev = prev, s
                key = (chunk.doc_id, s.start)
                if key in seen:  # overlapping chunks repeat a sentence
                    continue
                seen.add(key)
                vec, semantic = None, 0.0
                if sims is not None and s.index < len(sims):
                    vec, semantic = vecs[s.index], float(sims[s.index])
                lexical = sum(q_idf[t] for t in q_terms & s.terms) / q_weight if q_weight else 0.0
                score = W_SEMANTIC * semantic + W_LEXICAL * lexical + (W_CUE if cue and cue.search(s.text) else 0.0)
                bonus = W_NAME if any(n.exact_in(s.text) for n in named) else 0.0
                score += bonus
                other_year = cons.years_conflict(s.text)
                own = cons.numbers_ok(s.text, about)
                # The sentence before it in its paragraph dates it when it names no year itself ("In
                # 2016 the city closed the bridge … The repairs cost 1.3 million euros.").
                dated = bool(
                    not own
                    and cons.years
                    and before is not None
                    and before.end + 1 == s.start
                    and not years(s.text)
                    and cons.numbers_ok(s.text, about, before.text)
                )
                anchor = names_ok and not other_year and (own or dated)
                typed = rule is None or s in front or rule.held_by(s.text, s.terms)
                out.append(
                    Candidate(
                        s.text,
                        s.start,
                        s.end,
                        item,
                        vec,
                        semantic,
                        lexical,
                        score,
                        s.words,
                        anchor=anchor,
                        supporting=names_ok and not other_year,
                        typed=typed,
                        name_bonus=bonus,
                        terms=s.terms,
                        dated_by_previous=dated,
                    )
                )
        out.sort(key=lambda c: -c.score)
        return out

    def select(self, query: Query, retrieved: Sequence[ScoredChunk]) -> Selection:
        """Choose up to ``max_sentences`` sentences; empty when no sentence meets the question's
        constraints or the best that does scores below the threshold.

        A compound question (``query.parts``: "Who is X, and what did she predict?") that the whole
        question's evidence answers is then answered part by part, each part with its own constraints,
        anchor and share of the sentences; a part nothing answers is named in ``Selection.unanswered``.

        The anchor is the best sentence holding the question's numbers and rare names (and no other
        year); companions are chosen best sentence per further source first, then second sentences,
        all within ``RELATIVE_CUTOFF`` of the anchor; at least one chosen sentence must carry the
        answer type ("when" → a date, "how many" → a number, "who" → a name, "where" → a place).
        """
        whole, chosen = self._select(query, retrieved, self.max_sentences)
        # Whether to answer at all is the whole question's (calibrated) decision, and its parts choose
        # what to say; but the parts' names need not meet in one sentence ("… Castemar, and … Valdora?").
        if query.parts and (chosen or whole.unmet == _NO_ANCHOR):
            parts = self._select_parts(query.parts, retrieved, whole)
            if parts is not None:
                return parts
            if chosen:
                # The whole question's words met in sentences that answer none of its parts (a mayor
                # asked of one city, a lighthouse of another): nothing is answered.
                return Selection([], 0.0, whole.candidates, unmet=_NO_PART, features=whole.features)
        return whole

    def _select_parts(
        self, parts: Sequence[Query], retrieved: Sequence[ScoredChunk], whole: Selection
    ) -> Selection | None:
        """Each part's own selection, merged (a sentence two parts chose is cited once), with the whole
        question's evidence; None when no part is answered on its own."""
        # The parts share the answer's sentence limit (two parts: two sentences each).
        limit = max(1, self.max_sentences // len(parts))
        # A part asks one thing: its second sentence is its next best, not the best of another source.
        results = [self._select(p, retrieved, limit, spread=False) for p in parts]
        chosen: list[Candidate] = []
        for _, picks in results:
            chosen.extend(c for c in picks if not self._duplicate(c, chosen))
        chosen = chosen[: self.max_sentences]
        if not chosen:
            return None
        cands = sorted((c for sel, _ in results for c in sel.candidates), key=lambda c: -c.score)
        unanswered = [p.text for p, (_, picks) in zip(parts, results, strict=True) if not picks]
        evidence = whole.evidence if whole.sentences else min(sel.evidence for sel, picks in results if picks)
        return Selection(self._order(chosen), evidence, cands, features=whole.features, unanswered=unanswered)

    def _select(
        self, query: Query, retrieved: Sequence[ScoredChunk], limit: int, *, spread: bool = True
    ) -> tuple[Selection, list[Candidate]]:
        """One question's selection of up to ``limit`` sentences, with the chosen candidates by rank."""
        cons = self.constraints(query.text)
        cands = self.candidates(query, retrieved, cons)
        if not cands:
            return Selection([], 0.0, []), []
        unknown = cons.unknown_names([_about(r.chunk) for r in retrieved])
        if unknown:
            # Rarely reached: only then is every document's title and file name consulted.
            unknown = cons.unknown_names([*(_about(r.chunk) for r in retrieved), *self.documents()])
        if unknown:
            name = " ".join(unknown[0].words)
            return Selection([], 0.0, cands, unmet=f"the documents never mention {name!r}"), []
        anchors = [c for c in cands if c.anchor]
        if not anchors:
            return Selection([], 0.0, cands, unmet=_NO_ANCHOR), []
        best = anchors[0]
        # The features cost more than the rest of the decision: computed only when they are used.
        use_model = self.min_probability is not None
        features = self.features(query, cons, best) if use_model or self.collect_features else None
        if features is not None and self.min_probability is not None:
            evidence, threshold = self.model.probability(features), self.min_probability
        else:
            evidence, threshold = best.score, self.min_evidence
        if evidence < threshold:
            return Selection([], evidence, cands, features=features), []
        # Companions are measured against the anchor's own merit: its name bonus decides that the
        # question is answered, not how far below it another sentence may fall.
        base = best.score - best.name_bonus
        floor = RELATIVE_CUTOFF * base
        pool = [c for c in cands if c is not best and c.supporting and c.score >= floor]
        chosen = self._companions(best, pool, query, limit, spread=spread)
        if not any(c.typed and c.anchor for c in chosen):
            typed = next((c for c in anchors if c.typed and c.score >= floor and c not in chosen), None)
            if typed is None:
                unmet = "no sentence gives the kind of answer asked for together with what is asked"
                return Selection([], 0.0, cands, unmet=unmet), []
            chosen = [*chosen[: limit - 1], typed]
        chosen = self._add_neighbours(chosen, cands, CONTINUATION_SHARE * base, limit)
        return Selection(self._order(chosen), evidence, cands, features=features), chosen

    def typed_answer(self, query: Query, cons: Constraints | None = None) -> TypedAnswer | None:
        """What a typed question asks of the sentence answering it (None: the question has no answer type)."""
        cons = cons if cons is not None else self.constraints(query.text)
        if cons.answer_type is None:
            return None
        pred = self.predicate(query, cons)
        head = verb_head(query.text)
        if head is not None:
            verb = [t for t in lexical_tokens(head, self.aliases) if t in pred]
            # The verb, when it is a predicate term of its own (not a framing word like "happen").
            if verb and len(pred) > len(verb):
                pred = tuple(verb)
        return TypedAnswer(
            cons.answer_type,
            pred,
            self.aliases,
            counted_terms(query.text),
            asked_names(query.text, self.aliases) if cons.answer_type == "person" else frozenset(),
        )

    def predicate(self, query: Query, cons: Constraints) -> tuple[str, ...]:
        """The question's predicate terms: its content terms beyond its names and entities."""
        entities = " ".join([*cons.entities, *self.aliases.expansion_terms(query.text)])
        return predicate_terms(query.tokens, cons, frozenset(lexical_tokens(entities, self.aliases)))

    def features(self, query: Query, cons: Constraints, c: Candidate) -> dict[str, float]:
        """What the evidence model scores of a candidate answering ``query`` (see ``rag.answer.evidence``)."""
        pred = self.predicate(query, cons)
        sentence_terms = frozenset(lexical_tokens(c.text, self.aliases))
        return {
            "score": c.score,
            "semantic": c.semantic,
            "lexical": c.lexical,
            "predicate_sentence": predicate_coverage(pred, sentence_terms, self.idf),
            "predicate_chunk": predicate_coverage(pred, self._chunk_terms(c.item.chunk), self.idf),
            "typed": float(c.typed),
        }

    def _companions(
        self, best: Candidate, pool: list[Candidate], query: Query, limit: int, *, spread: bool = True
    ) -> list[Candidate]:
        """The anchor plus up to ``limit - 1`` others: first the best sentence of each
        further source (multi-document questions need their facets), then the best of the rest;
        a sentence holding question terms the chosen ones lack gains ``W_FACET`` times their idf share."""
        weight = {t: self.idf(t) for t in query.tokens}
        gain = W_FACET / (sum(weight.values()) or 1.0)
        chosen = [best]
        covered = best.terms & weight.keys()
        # A sentence found to repeat a chosen one repeats it for good: it leaves the pool.
        live = [(c, c.terms & weight.keys()) for c in pool]
        for first_per_source in (True, False) if spread else (False,):
            while len(chosen) < limit and live:
                sources = {o.item.chunk.doc_id for o in chosen}
                ranked = sorted(
                    (
                        (c.score + gain * sum(weight[t] for t in terms - covered), i)
                        for i, (c, terms) in enumerate(live)
                        if not (first_per_source and c.item.chunk.doc_id in sources)
                    ),
                    key=lambda vi: -vi[0],
                )
                # Everything looked at leaves the pool: the pick, and the repeats ranked above it.
                dropped: set[int] = set()
                pick = None
                for _, i in ranked:
                    dropped.add(i)
                    if not self._duplicate(live[i][0], chosen):
                        pick = live[i]
                        break
                live = [x for i, x in enumerate(live) if i not in dropped]
                if pick is None:
                    break
                chosen.append(pick[0])
                covered = covered | pick[1]
        return chosen

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
    def _add_neighbours(
        chosen: list[Candidate], cands: Sequence[Candidate], floor: float, limit: int
    ) -> list[Candidate]:
        """Keep references readable: a chosen sentence opening with 'This …' or a quotation brings the
        sentence before it (in place of the last companion when the answer is full); a chosen sentence
        followed by a relevant 'This …' sentence brings that one too (never past ``limit`` sentences in all)."""
        by_end = {(c.item.chunk.doc_id, c.end): c for c in cands}
        by_start = {(c.item.chunk.doc_id, c.start): c for c in cands}
        out = list(chosen)
        for c in chosen:
            if c not in out:
                continue
            doc = c.item.chunk.doc_id
            # Neighbours are a space or a newline or two apart.
            if _ANAPHORA.match(c.text) or _QUOTATION.match(c.text) or c.dated_by_previous:
                prev = next((by_end[(doc, c.start - g)] for g in range(1, 4) if (doc, c.start - g) in by_end), None)
                if prev is not None and prev not in out:
                    if len(out) >= limit:
                        # The sentence a quotation or a "This …" depends on outranks the last companion
                        # (never the one sentence that carries the answer type).
                        last = next(
                            (
                                o
                                for o in reversed(out[1:])
                                if o is not c and (prev.typed or any(x.typed for x in out if x is not o))
                            ),
                            None,
                        )
                        if last is None:
                            continue
                        out.remove(last)
                    out.append(prev)
            nxt = next((by_start[(doc, c.end + g)] for g in range(1, 4) if (doc, c.end + g) in by_start), None)
            if (
                nxt is not None
                and nxt not in out
                and _CONTINUATION.match(nxt.text)
                and nxt.score >= floor
                and len(out) < limit
            ):
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
