"""BM25 over the stored chunks, with alias-aware tokens and an on-disk cache.

The index is a term-major sparse matrix of precomputed BM25 weights (Lucene's variant, k1=1.5,
b=0.75, the scores bm25s computes) held in three numpy arrays. It is built in one streaming pass:
at 100k chunks the bm25s build it replaces peaked at 1.3 GB of Python lists of token ids.
"""

from __future__ import annotations

import bisect
import json
import math
import shutil
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.retrieve.aliases import Aliases
from rag.text import content_words, words

__all__ = ["LexicalIndex", "lexical_tokens", "number_tokens"]

#: Bump when the index format changes; tokeniser code and alias data are hashed in as well.
INDEX_VERSION = "3"
K1 = 1.5
B = 0.75


def tokenizer_fingerprint(aliases_path: Path | None = None) -> str:
    """Changes whenever tokenisation could change, so a cached index is never stale."""
    import hashlib

    from rag import text
    from rag.retrieve import aliases

    h = hashlib.sha256(INDEX_VERSION.encode())
    # aliases.py too: how variants are matched changes the tokens as much as the table does.
    for path in (Path(text.__file__), Path(__file__), Path(aliases.__file__), aliases_path or aliases.DEFAULT_PATH):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def lexical_tokens(text: str, aliases: Aliases) -> list[str]:
    """Stemmed content words with name variants folded to canonical tokens."""
    return list(_cached_tokens(text, aliases))


def _tokens(text: str, aliases: Aliases) -> list[str]:
    return content_words(aliases.canonicalize(text))


@lru_cache(maxsize=8192)
def _cached_tokens(text: str, aliases: Aliases) -> tuple[str, ...]:
    # Questions and retrieved sentences recur: tokenise each once (whole chunks at build time
    # go through _tokens, so the cache never holds the corpus).
    return tuple(_tokens(text, aliases))


def number_tokens(text: str) -> list[str]:
    """The numbers of ``text`` that content words leave out (all but four-digit years), as index terms.

    "Which note is number 77" must find the one chunk holding "77" among thousands alike; the
    "#" keeps these terms apart from the content words the answerer compares.
    """
    return [f"#{w}" for w in words(text) if w.isdigit() and len(w) != 4]


def _title_tokens(about: str, aliases: Aliases) -> list[str]:
    """The terms of a document's title and file name, as a field of their own ("@bsd" for "bsd.txt").

    A document is often about what its title names and its text never repeats: "the BSD licence" is
    ``bsd.txt``, whose text says "Redistribution and use in source and binary forms".
    """
    return [f"@{t}" for t in dict.fromkeys(_tokens(about, aliases))]


def _about_text(title: str, source: str) -> str:
    """A chunk's title and its file name without folder and extension, separators as spaces."""
    return f"{title} {Path(source).stem.replace('_', ' ').replace('.', ' ')}"


class LexicalIndex:
    """A BM25 index over chunk texts, addressed by chunk id."""

    def __init__(
        self,
        ids: list[str],
        vocab: dict[str, int],
        df: np.ndarray,
        matrix: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    ) -> None:
        self.ids = ids
        self.vocab = vocab
        self._df = df
        # Term t's postings: documents indices[indptr[t]:indptr[t+1]] with weights data[...].
        self._matrix = matrix
        self.n_docs = len(ids)
        self._sorted_terms: list[str] | None = None

    def has_prefix(self, prefix: str) -> bool:
        """Some term of the corpus starts with ``prefix`` (the sorted vocabulary is built on first use)."""
        if self._sorted_terms is None:
            self._sorted_terms = sorted(self.vocab)
        i = bisect.bisect_left(self._sorted_terms, prefix)
        return i < len(self._sorted_terms) and self._sorted_terms[i].startswith(prefix)

    @classmethod
    def build(cls, items: Iterable[tuple[str, str] | tuple[str, str, str, str]], aliases: Aliases) -> LexicalIndex:
        """Index (chunk id, text) or (chunk id, text, title, file name) tuples, streaming: only
        compact arrays are kept per chunk."""
        ids: list[str] = []
        vocab: dict[str, int] = {}
        terms, docs, tfs, lengths = array("i"), array("i"), array("f"), array("i")
        for item in items:
            cid, text = item[0], item[1]
            toks = _tokens(text, aliases)
            d = len(ids)
            ids.append(cid)
            # Numbers and title terms are searchable but leave the length normalisation of the word terms as it was.
            lengths.append(len(toks))
            extra = number_tokens(text)
            if len(item) == 4:
                extra += _title_tokens(_about_text(item[2], item[3]), aliases)
            for term, tf in Counter(toks + extra).items():
                terms.append(vocab.setdefault(term, len(vocab)))
                docs.append(d)
                tfs.append(tf)
        if not ids:
            return cls([], {}, np.zeros(0, dtype=np.int32), None)
        term_arr = np.frombuffer(terms, dtype=np.int32)
        doc_arr = np.frombuffer(docs, dtype=np.int32)
        tf_arr = np.frombuffer(tfs, dtype=np.float32)
        dl = np.frombuffer(lengths, dtype=np.int32)
        n = len(ids)
        df = np.bincount(term_arr, minlength=len(vocab)).astype(np.int32)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = K1 * ((1 - B) + B * dl / float(dl.mean()))
        # One temporary at a time, in place: at 100k chunks each is ~50 MB.
        weights = norm[doc_arr]
        weights += tf_arr
        np.divide(tf_arr, weights, out=weights)
        weights *= idf[term_arr]
        weights = weights.astype(np.float32)
        order = np.argsort(term_arr, kind="stable")
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return cls(ids, vocab, df, (weights[order], doc_arr[order].copy(), indptr))

    def df(self, term: str) -> int:
        """How many chunks contain ``term`` (0 for a term the corpus never uses)."""
        t = self.vocab.get(term)
        return int(self._df[t]) if t is not None else 0

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (unknown terms get the highest weight)."""
        t = self.vocab.get(term)
        df = int(self._df[t]) if t is not None else 0
        return math.log(1 + (self.n_docs + 1) / (df + 0.5))

    def search(self, tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) with a positive score; a repeated token counts again."""
        if self._matrix is None or not tokens:
            return []
        known = [t for tok in tokens if (t := self.vocab.get(tok)) is not None]
        # A question's word that no chunk's text holds is looked up in the documents' titles and file
        # names ("BSD" → bsd.txt; "BSD-licensed" by its parts). Words the texts hold are scored there
        # only: a title repeating them would count them twice.
        asked = dict.fromkeys(p for tok in tokens for p in (tok, *tok.split("-")) if p and p not in self.vocab)
        known += [t for tok in asked if (t := self.vocab.get(f"@{tok}")) is not None]
        if not known:
            return []
        data, indices, indptr = self._matrix
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for t in known:
            a, b = indptr[t], indptr[t + 1]
            scores[indices[a:b]] += data[a:b]  # a term lists each document once
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    # -- cache --------------------------------------------------------------
    def save(self, folder: Path, signature: str) -> None:
        """Write the index to ``folder`` (replacing any older one)."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._matrix is not None:
            data, indices, indptr = self._matrix
            np.savez(tmp / "postings.npz", data=data, indices=indices, indptr=indptr, df=self._df)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (tmp / "meta.json").write_text(
            json.dumps({"version": INDEX_VERSION, "signature": signature, "ids": self.ids, "terms": terms}),
            encoding="utf-8",
        )
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, signature: str) -> LexicalIndex | None:
        """The cached index if it matches ``signature``, else None (a damaged cache is rebuilt)."""
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("signature") != signature or meta.get("version") != INDEX_VERSION:
                return None
            vocab = {t: i for i, t in enumerate(meta["terms"])}
            if not meta["ids"]:
                return cls([], vocab, np.zeros(0, dtype=np.int32), None)
            with np.load(folder / "postings.npz") as z:
                matrix = (z["data"], z["indices"], z["indptr"])
                df = z["df"]
        except (OSError, ValueError, KeyError):
            return None
        if len(matrix[2]) != len(vocab) + 1 or len(df) != len(vocab):
            return None
        return cls(meta["ids"], vocab, df, matrix)
