"""Pure evaluation metrics for the citation-grounded RAG system.

Everything here is deterministic and depends only on the standard library and
:func:`rag.text.normalize_text` (the one text normalisation, re-exported here):
retrieval metrics (hit@k, recall@k, reciprocal rank),
answer metrics (fact recall), citation metrics (verbatim quote validity and
ALCE-style citation recall/precision with an injected support judge),
abstention precision/recall/F1, and small aggregation helpers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence

from rag.text import normalize_text

__all__ = [
    "Support",
    "abstention_scores",
    "citation_precision",
    "citation_recall",
    "citation_validity",
    "fact_recall",
    "hit_at_k",
    "mean_defined",
    "normalize_text",
    "percentile",
    "recall_at_k",
    "reciprocal_rank",
]

Support = Callable[[str, Sequence[str]], bool]
"""``support(statement, passages)``: True if the passages, concatenated, support the statement."""


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def hit_at_k(retrieved_sources: Sequence[str], gold: Collection[str], k: int) -> float:
    """Return 1.0 if any of the first k retrieved source names is a gold source, else 0.0."""
    _check_k(k)
    return 1.0 if any(src in gold for src in retrieved_sources[:k]) else 0.0


def recall_at_k(retrieved_sources: Sequence[str], gold: Collection[str], k: int) -> float:
    """Return the share of distinct gold sources in the first k retrieved; ValueError if gold empty."""
    _check_k(k)
    gold_set = set(gold)
    if not gold_set:
        raise ValueError("recall_at_k is undefined for an empty gold set")
    found = gold_set.intersection(retrieved_sources[:k])
    return len(found) / len(gold_set)


def reciprocal_rank(retrieved_sources: Sequence[str], gold: Collection[str]) -> float:
    """Return 1/rank of the first gold source in the retrieved list, or 0.0 if none is retrieved."""
    for rank, src in enumerate(retrieved_sources, start=1):
        if src in gold:
            return 1.0 / rank
    return 0.0


def fact_recall(answer: str, facts: Sequence[Sequence[str]]) -> float:
    """Return the share of facts with at least one phrasing found in the normalised answer.

    Each fact is a list of acceptable phrasings; phrasings are normalised with
    :func:`normalize_text` and matched as substrings. Phrasings that normalise
    to the empty string never match. Raises ValueError when ``facts`` is empty;
    an empty answer scores 0.0.
    """
    if not facts:
        raise ValueError("fact_recall is undefined for an empty fact list")
    norm_answer = normalize_text(answer)
    if not norm_answer:
        return 0.0
    matched = 0
    for phrasings in facts:
        for phrase in phrasings:
            norm_phrase = normalize_text(phrase)
            if norm_phrase and norm_phrase in norm_answer:
                matched += 1
                break
    return matched / len(facts)


def citation_validity(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Return the share of (quote, source text) pairs whose normalised quote is in the source.

    A quote that normalises to the empty string is counted as invalid.
    Returns None when there are no pairs (undefined, not counted).
    """
    if not pairs:
        return None
    valid = 0
    for quote, source_text in pairs:
        norm_quote = normalize_text(quote)
        if norm_quote and norm_quote in normalize_text(source_text):
            valid += 1
    return valid / len(pairs)


def citation_recall(sentences: Sequence[tuple[str, Sequence[str]]], support: Support) -> float | None:
    """Return ALCE citation recall: share of sentences fully supported by their cited passages.

    ``sentences`` holds ``(sentence, cited_passage_texts)`` pairs. A sentence is
    recalled iff it has at least one citation and
    ``support(sentence, cited_passage_texts)`` is True. Returns None when there
    are no sentences.
    """
    if not sentences:
        return None
    recalled = sum(1 for sentence, cited in sentences if cited and support(sentence, list(cited)))
    return recalled / len(sentences)


def citation_precision(sentences: Sequence[tuple[str, Sequence[str]]], support: Support) -> float | None:
    """Return ALCE citation precision: share of all citations that are not irrelevant.

    Definition (Gao et al. 2023, "Enabling Large Language Models to Generate
    Text with Citations"), for a sentence ``s`` with citations ``C``:

    * If ``support(s, C)`` is False (the sentence is not recalled), every
      citation in ``C`` counts as imprecise.
    * Otherwise a citation ``c`` in ``C`` is *irrelevant* (imprecise) iff
      (a) ``support(s, [c])`` is False **and** (b) ``support(s, C - {c})`` is
      True, i.e. ``c`` does not support ``s`` alone and ``s`` stays supported
      without it. Every other citation is precise. With a single supported
      citation, ``C - {c}`` is empty, so that citation is always precise.

    Precision = precise citations / total citations over all sentences
    (sentences without citations contribute nothing). ``C - {c}`` removes
    only the one occurrence at that position. Returns None when there are no
    citations at all.
    """
    total = 0
    precise = 0
    for sentence, cited in sentences:
        passages = list(cited)
        if not passages:
            continue
        total += len(passages)
        if not support(sentence, passages):
            continue
        for idx, passage in enumerate(passages):
            if support(sentence, [passage]):
                precise += 1
                continue
            others = passages[:idx] + passages[idx + 1 :]
            if others and support(sentence, others):
                continue  # irrelevant citation
            precise += 1
    if total == 0:
        return None
    return precise / total


def abstention_scores(predicted: Sequence[bool], unanswerable: Sequence[bool]) -> dict[str, float]:
    """Return precision/recall/F1 for the positive class "abstained / cannot answer".

    ``predicted[i]`` is True when the system abstained on item i and
    ``unanswerable[i]`` is True when item i is truly unanswerable. Conventions:
    precision is 0.0 when nothing was abstained, recall is 0.0 when there are
    no unanswerable items, and F1 (harmonic mean) is 0.0 when precision and
    recall are both 0.0. Raises ValueError on length mismatch.
    """
    if len(predicted) != len(unanswerable):
        raise ValueError("predicted and unanswerable must have the same length")
    tp = sum(1 for p, u in zip(predicted, unanswerable, strict=True) if p and u)
    n_pred = sum(1 for p in predicted if p)
    n_gold = sum(1 for u in unanswerable if u)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    denom = precision + recall
    f1 = 2 * precision * recall / denom if denom else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def percentile(values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (0-100) with linear interpolation, like numpy's default method."""
    if not values:
        raise ValueError("percentile of an empty sequence is undefined")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"p must be within [0, 100], got {p}")
    ordered = sorted(float(v) for v in values)
    rank = (len(ordered) - 1) * p / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    if lo == hi:
        return ordered[lo]
    frac = rank - lo
    return ordered[lo] + (ordered[hi] - ordered[lo]) * frac


def mean_defined(values: Iterable[float | None]) -> float | None:
    """Return the mean of the non-None values, or None if there are none."""
    defined = [v for v in values if v is not None]
    if not defined:
        return None
    return sum(defined) / len(defined)
