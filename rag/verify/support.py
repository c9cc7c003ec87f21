"""The support checker: does a passage support a statement?

It is the one judge of the project: the eval suite uses it for ALCE citation recall and
precision, and the LLM answer verifier uses it to check that each cited sentence is backed by
its source.

Method (deliberately simple, so its errors are easy to reason about):

1. Citation markers are stripped from the statement (:func:`rag.verify.cite.strip_markers`). A statement
   without a single content word (a stray quotation mark, "[1]") asserts nothing: never supported.
2. The passage is split into sentences (:func:`rag.text.split_sentences`); :meth:`SupportChecker.supports`
   also considers every window of two adjacent sentences of the joined passages, so a statement
   that fuses two neighbouring sentences can be supported.
3. For each candidate: ``similarity`` = cosine of the MiniLM embeddings of statement and candidate
   (both with entity name variants replaced by one canonical token, so "ISIS-K" and "ISKP" embed
   alike); ``overlap`` = share of the statement's content words (stemmed, stopwords dropped, name
   variants mapped by ``rag/data/aliases.json``) found in the candidate; ``verbatim`` = the
   statement occurs word for word in the candidate (case, quote style and spacing aside) — a
   clause lifted out of a long sentence embeds far from the whole sentence, yet is plainly supported.
4. A candidate supports the statement iff (``verbatim`` **or** ``similarity >= min_similarity``
   **and** ``overlap >= min_overlap``) **and** (``require_numbers``) every number written in digits
   in the statement ("2,200", "13", "2015") also occurs in the candidate **and** every name the
   statement asserts (capitalised words, name variants folded; :mod:`rag.verify.constraints`) occurs
   in the passage. The number rule catches wrong figures and dates that embeddings barely notice; the
   name rule catches a wrong person or place ("Biden" for "Trump") in an otherwise faithful sentence.

What it cannot see: swapped roles ("the Taliban views ISIS-K as apostates" against a passage
saying the reverse), negations and antonyms that keep the words ("clashes are rare" / "common"),
a clause quoted without the qualifier that made it true ("… played a decisive role" out of "it
has not been confirmed whether … played a decisive role"), numbers written as words. It is a
lexical-semantic judge, not an entailment model.

Calibration (``calibrate`` on the 77 hand-labelled pairs in ``rag/data/support_pairs.jsonl``,
37 supported / 40 unsupported, written from the seed articles: verbatim sentences, paraphrases,
clauses of long sentences, same-entity statements claiming something else, wrong numbers and
dates, dropped qualifiers, unrelated passages; reproduce with ``python -m rag.verify.support``):

* chosen thresholds: ``min_similarity = 0.70``, ``min_overlap = 0.55``, ``require_numbers = True``
  (the middle of the plateau of best accuracy on a 0.01 × 0.05 grid);
* accuracy on the pairs 0.870 (67/77): precision of "supported" 0.846 (33/39), recall 0.892
  (33/37); leave-one-out accuracy (thresholds re-fitted without the held-out pair) 0.844; before
  the name rule: 0.857, precision 0.810, leave-one-out 0.831;
* for comparison, best accuracy without the number and name rules 0.740; judging every run of
  clauses of a sentence as its own candidate was tried and rejected (short clauses let
  contradictions through).

The ten errors: six unsupported statements that keep the passage's words and entities but change
the claim (a swapped role, an antonym, "revealed" for "not revealed", "most … joined" for "many …
returned", "had made" for "had failed to make", a dropped "it has not been confirmed whether"),
and four loose paraphrases that fall short (one says "American" where the passage says "U.S."). So:
good at wrong figures, wrong names and unrelated passages, lenient with same-topic contradictions.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.ingest.instructions import instruction_rule
from rag.lru import LRU
from rag.retrieve.aliases import Aliases, load_aliases
from rag.text import STOPWORDS, content_words, normalize_text, split_sentences, stem
from rag.verify.cite import strip_markers
from rag.verify.constraints import bare, statement_names

if TYPE_CHECKING:
    from rag.embed import Embedder

__all__ = [
    "DEFAULT_THRESHOLDS",
    "PAIRS_PATH",
    "Calibration",
    "SupportChecker",
    "SupportPair",
    "SupportResult",
    "SupportThresholds",
    "accuracy",
    "calibrate",
    "load_pairs",
]

PAIRS_PATH = Path(__file__).parents[1] / "data" / "support_pairs.jsonl"


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Name words match on their first letters, so "Afghan" and "Afghanistan", "Salafi" and "Salafist" agree.
_PREFIX = 5


@dataclass(frozen=True)
class SupportThresholds:
    """When a candidate sentence counts as supporting a statement."""

    min_similarity: float
    min_overlap: float
    require_numbers: bool = True


#: Calibrated on ``rag/data/support_pairs.jsonl`` (see the module docstring); measured, not tuned to a test.
DEFAULT_THRESHOLDS = SupportThresholds(min_similarity=0.70, min_overlap=0.55, require_numbers=True)


@dataclass(frozen=True)
class SupportResult:
    """The best-supporting sentence of a passage for a statement, and whether it supports it.

    ``quote`` is ``passage[start:end]`` verbatim; ``score`` is the mean of ``similarity`` and
    ``overlap`` (used to rank sentences); ``supported`` applies the thresholds.
    """

    supported: bool
    score: float
    quote: str
    start: int
    end: int
    similarity: float
    overlap: float


@dataclass(frozen=True)
class SupportPair:
    """A hand-labelled (statement, passage, supported) example."""

    statement: str
    passage: str
    supported: bool


@dataclass(frozen=True)
class _Candidates:
    """Sentences (and optionally two-sentence windows) of one text, with their features."""

    spans: tuple[tuple[int, int], ...]
    normalized: tuple[str, ...]
    terms: tuple[frozenset[str], ...]
    numbers: tuple[frozenset[str], ...]
    vectors: np.ndarray
    #: Candidates holding an instruction to an assistant: never support, whatever they say.
    flagged: tuple[bool, ...] = ()


@dataclass(frozen=True)
class _Statement:
    text: str
    normalized: str
    terms: frozenset[str]
    numbers: frozenset[str]
    vector: np.ndarray
    names: tuple[frozenset[str], ...] = ()  # stemmed words of each name the statement asserts


def _numbers(text: str) -> frozenset[str]:
    return frozenset(m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text))


def _verbatim(statement: str, candidate: str) -> bool:
    """True when the statement (final punctuation and enclosing quotes aside) occurs in the candidate
    as a run of whole words."""
    needle = statement.strip(" .!?…\"'")
    if not needle:
        return False
    for m in re.finditer(re.escape(needle), candidate):
        before = candidate[m.start() - 1] if m.start() else " "
        after = candidate[m.end()] if m.end() < len(candidate) else " "
        if not before.isalnum() and not after.isalnum():
            return True
    return False


class SupportChecker:
    """Judges whether passages support a statement (embedding cosine + content-word overlap + numbers).

    Usable directly as the ALCE judge of :mod:`eval.metrics`: ``checker(statement, passages)``.
    Thread-safe; sentence embeddings are cached per passage text (LRU) because the same passages
    are checked again and again.
    """

    def __init__(
        self,
        embedder: Embedder,
        thresholds: SupportThresholds = DEFAULT_THRESHOLDS,
        *,
        aliases: Aliases | None = None,
        cache_size: int = 512,
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds
        self.aliases = aliases if aliases is not None else load_aliases()
        # Keyed "<windows 0/1>:<passage>": the same passage is split two ways.
        self._passages: LRU[_Candidates] = LRU(cache_size)
        self._statements: LRU[_Statement] = LRU(cache_size)
        # Sentence vectors by text: overlapping chunks and joined passages repeat sentences.
        self._vectors: LRU[np.ndarray] = LRU(8 * cache_size)
        self._lock = threading.Lock()

    # -- features -------------------------------------------------------------
    def _terms(self, text: str) -> frozenset[str]:
        return frozenset(content_words(self.aliases.canonicalize(text)))

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` (name variants canonicalised), embedding only those not cached, in one batch."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        with self._lock:
            found = {t: v for t in dict.fromkeys(texts) if (v := self._vectors.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vecs = self.embedder.embed([self.aliases.canonicalize(t) for t in missing])
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    self._vectors.set(t, v)
                    found[t] = v
        return np.stack([found[t] for t in texts])

    def prefetch(self, statements: Sequence[str]) -> None:
        """Embed many statements in one batch now (later checks of them hit the cache)."""
        self._embed([t for t in (strip_markers(s) for s in statements) if t])

    def _statement(self, statement: str) -> _Statement:
        text = strip_markers(statement)
        with self._lock:
            hit = self._statements.get(text)
        if hit is not None:
            return hit
        vector = self._embed([text])[0] if text else np.zeros(1, dtype=np.float32)
        names = tuple(
            frozenset(stem(w) for w in name if w not in STOPWORDS) for name in statement_names(text, self.aliases)
        )
        st = _Statement(
            text, normalize_text(text), self._terms(text), _numbers(text), vector, tuple(n for n in names if n)
        )
        with self._lock:
            self._statements.set(text, st)
        return st

    def _candidates(self, passage: str, windows: bool) -> _Candidates:
        key = f"{int(windows)}:{passage}"
        with self._lock:
            hit = self._passages.get(key)
        if hit is not None:
            return hit
        sentences = split_sentences(passage)
        spans = list(sentences)
        if windows:
            spans += [(a[0], b[1]) for a, b in itertools.pairwise(sentences)]
        texts = [passage[a:b] for a, b in spans]
        single = [instruction_rule(passage[a:b]) is not None for a, b in sentences]
        flagged = single + [x or y for x, y in itertools.pairwise(single)] if windows else single
        cands = _Candidates(
            spans=tuple(spans),
            normalized=tuple(normalize_text(t) for t in texts),
            terms=tuple(self._terms(t) for t in texts),
            numbers=tuple(_numbers(t) for t in texts),
            vectors=self._embed(texts),
            flagged=tuple(flagged),
        )
        with self._lock:
            self._passages.set(key, cands)
        return cands

    # -- judging --------------------------------------------------------------
    def _features(self, st: _Statement, cands: _Candidates) -> list[tuple[float, float, bool, bool]]:
        """(similarity, overlap, numbers and names present, verbatim) of each candidate for the statement."""
        sims = cands.vectors @ st.vector
        # Names may sit in a neighbouring sentence of the passage ("Jennifer Cafarella … told Insider:
        # 'ISIS will seek …'"); numbers must be in the supporting sentence itself.
        prefixes = {bare(t)[:_PREFIX] for terms in cands.terms for t in terms}
        names_ok = all(all(w[:_PREFIX] in prefixes for w in name) for name in st.names)
        out = []
        for i, (norm, terms, nums) in enumerate(zip(cands.normalized, cands.terms, cands.numbers, strict=True)):
            overlap = len(st.terms & terms) / len(st.terms) if st.terms else 0.0
            out.append((float(sims[i]), overlap, names_ok and st.numbers <= nums, _verbatim(st.normalized, norm)))
        return out

    def _judge(
        self, st: _Statement, passage: str, windows: bool, exclude: Sequence[tuple[int, int]] = ()
    ) -> SupportResult:
        empty = SupportResult(False, 0.0, "", 0, 0, 0.0, 0.0)
        if not st.text or not st.terms:  # no content word: nothing to verify
            return empty
        cands = self._candidates(passage, windows)
        if not cands.spans:
            return empty
        best: tuple[bool, float, int] | None = None
        feats = self._features(st, cands)
        for i, f in enumerate(feats):
            a, b = cands.spans[i]
            if cands.flagged[i] or any(x < b and a < y for x, y in exclude):
                continue
            key = (_predict([f], self.thresholds), (f[0] + f[1]) / 2, -i)
            if best is None or key > best:
                best = key
        if best is None:
            return empty
        ok, score, neg_i = best
        sim, overlap = feats[-neg_i][:2]
        a, b = cands.spans[-neg_i]
        return SupportResult(ok, score, passage[a:b], a, b, sim, overlap)

    def best_support(self, statement: str, passage: str, exclude: Sequence[tuple[int, int]] = ()) -> SupportResult:
        """The passage sentence that best supports ``statement`` (a supporting one if any), judged.

        Sentences overlapping an ``exclude`` span (passage offsets; flagged instructions) never support.
        """
        return self._judge(self._statement(statement), passage, windows=False, exclude=exclude)

    def supports(self, statement: str, passages: Sequence[str]) -> bool:
        """ALCE judge: do the passages, concatenated, support the statement?

        True when one sentence of any passage supports it, or one window of two adjacent
        sentences of the joined passages (joined with a blank line, in the order given) does.
        """
        if not passages:
            return False
        st = self._statement(statement)
        if any(self._judge(st, p, windows=False).supported for p in passages):
            return True
        joined = "\n\n".join(passages)
        return self._judge(st, joined, windows=True).supported

    def __call__(self, statement: str, passages: Sequence[str]) -> bool:
        """Same as :meth:`supports` (so the checker is an :data:`eval.metrics.Support` judge)."""
        return self.supports(statement, passages)


# -- calibration -----------------------------------------------------------------
def load_pairs(path: Path = PAIRS_PATH) -> list[SupportPair]:
    """The labelled pairs (one JSON object per line: statement, passage, supported)."""
    import json

    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(SupportPair(str(d["statement"]), str(d["passage"]), bool(d["supported"])))
    return out


@dataclass(frozen=True)
class Calibration:
    """Chosen thresholds and how well they separate the labelled pairs."""

    thresholds: SupportThresholds
    accuracy: float
    precision: float
    recall: float
    loo_accuracy: float
    errors: tuple[int, ...]


def _features(pairs: Sequence[SupportPair], checker: SupportChecker) -> list[list[tuple[float, float, bool, bool]]]:
    """Per pair, the features of every candidate the ``supports`` judge considers (one passage)."""
    checker.prefetch([p.statement for p in pairs])
    out = []
    for p in pairs:
        st = checker._statement(p.statement)
        feats: list[tuple[float, float, bool, bool]] = []
        if st.text and st.terms:
            for windows in (False, True):
                cands = checker._candidates(p.passage, windows)
                if cands.spans:
                    feats += checker._features(st, cands)
        out.append(feats)
    return out


def _predict(feats: Iterable[tuple[float, float, bool, bool]], t: SupportThresholds) -> bool:
    """The rule: (verbatim, or similar enough with enough overlap) and the statement's numbers present."""
    return any(
        (v or (s >= t.min_similarity and o >= t.min_overlap)) and (n or not t.require_numbers) for s, o, n, v in feats
    )


#: The calibration grid: similarity 0.30–0.95 by 0.01, overlap 0–1 by 0.05.
_SIM_GRID = np.array([round(0.30 + 0.01 * i, 2) for i in range(66)])
_OVERLAP_GRID = np.array([round(0.05 * i, 2) for i in range(21)])


def _grid_correct(
    feats: Sequence[list[tuple[float, float, bool, bool]]], labels: Sequence[bool], require_numbers: bool
) -> np.ndarray:
    """``out[i, a, b]``: pair i is judged right with thresholds (_SIM_GRID[a], _OVERLAP_GRID[b])."""
    out = np.zeros((len(feats), len(_SIM_GRID), len(_OVERLAP_GRID)), dtype=bool)
    for i, (f, y) in enumerate(zip(feats, labels, strict=True)):
        rows = np.array([(s, o, float(v)) for s, o, n, v in f if n or not require_numbers], dtype=np.float64).reshape(
            -1, 3
        )
        sim_ok = rows[:, 0, None, None] >= _SIM_GRID[None, :, None]
        overlap_ok = rows[:, 1, None, None] >= _OVERLAP_GRID[None, None, :]
        verbatim = rows[:, 2, None, None] > 0
        predicted = ((sim_ok & overlap_ok) | verbatim).any(axis=0)
        out[i] = predicted == y
    return out


def _fit(correct: np.ndarray, require_numbers: bool) -> tuple[SupportThresholds, float]:
    """The grid point of best accuracy over the pairs in ``correct`` (see :func:`_grid_correct`).

    Ties are broken towards the middle of the best plateau (the grid point nearest the mean of
    the tied thresholds), so the choice does not hug the edge of a training error.
    """
    acc = correct.mean(axis=0)
    best = float(acc.max())
    tied = np.argwhere(np.abs(acc - best) <= 1e-12)
    sims, overlaps = _SIM_GRID[tied[:, 0]], _OVERLAP_GRID[tied[:, 1]]
    dist = (sims - sims.mean()) ** 2 + (overlaps - overlaps.mean()) ** 2
    k = int(np.argmin(dist))
    return SupportThresholds(float(sims[k]), float(overlaps[k]), require_numbers), best


def calibrate(pairs: Sequence[SupportPair], embedder: Embedder, *, require_numbers: bool = True) -> Calibration:
    """Choose the thresholds that best separate the labelled pairs, with honest figures.

    ``loo_accuracy`` re-fits the thresholds without each pair in turn and predicts that pair:
    an estimate of accuracy on statements the thresholds were not fitted to.
    """
    checker = SupportChecker(embedder, DEFAULT_THRESHOLDS, cache_size=4 * len(pairs) + 8)
    feats = _features(pairs, checker)
    labels = [p.supported for p in pairs]
    correct = _grid_correct(feats, labels, require_numbers)
    chosen, acc = _fit(correct, require_numbers)
    preds = [_predict(f, chosen) for f in feats]
    tp = sum(p and y for p, y in zip(preds, labels, strict=True))
    precision = tp / max(sum(preds), 1)
    recall = tp / max(sum(labels), 1)
    loo_hits = 0
    for i in range(len(pairs)):
        t, _ = _fit(np.delete(correct, i, axis=0), require_numbers)
        loo_hits += _predict(feats[i], t) == labels[i]
    errors = tuple(i for i, (p, y) in enumerate(zip(preds, labels, strict=True)) if p != y)
    return Calibration(chosen, acc, precision, recall, loo_hits / max(len(pairs), 1), errors)


def accuracy(pairs: Sequence[SupportPair], judge: Callable[[str, Sequence[str]], bool]) -> float:
    """Share of pairs the judge labels correctly."""
    if isinstance(judge, SupportChecker):
        judge.prefetch([p.statement for p in pairs])
    return sum(judge(p.statement, [p.passage]) == p.supported for p in pairs) / max(len(pairs), 1)


def main() -> int:
    """Calibrate on the packaged pairs and print the thresholds, figures and errors."""
    from rag.embed import MiniLMOnnx

    pairs = load_pairs()
    embedder = MiniLMOnnx()
    for numbers in (True, False):
        cal = calibrate(pairs, embedder, require_numbers=numbers)
        t = cal.thresholds
        print(
            f"require_numbers={numbers}: "
            f"min_similarity={t.min_similarity:.2f} min_overlap={t.min_overlap:.2f} "
            f"accuracy={cal.accuracy:.3f} precision={cal.precision:.3f} recall={cal.recall:.3f} "
            f"leave-one-out={cal.loo_accuracy:.3f}"
        )
        for i in cal.errors:
            p = pairs[i]
            print(f"   wrong: {'supported' if p.supported else 'unsupported'}: {p.statement}")
    default = SupportChecker(embedder)
    print(f"defaults {DEFAULT_THRESHOLDS}: accuracy {accuracy(pairs, default):.3f} on {len(pairs)} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
