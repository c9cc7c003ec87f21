"""BM25 over the stored chunks (bm25s), with alias-aware tokens and an on-disk cache."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.aliases import Aliases
from rag.text import content_words

__all__ = ["LexicalIndex", "lexical_tokens"]

#: Bump when the index format changes; tokeniser code and alias data are hashed in as well.
INDEX_VERSION = "1"


def tokenizer_fingerprint(aliases_path: Path | None = None) -> str:
    """Changes whenever tokenisation could change, so a cached index is never stale."""
    import hashlib

    from rag import aliases, text

    h = hashlib.sha256(INDEX_VERSION.encode())
    for path in (Path(text.__file__), Path(__file__), aliases_path or aliases.DEFAULT_PATH):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def lexical_tokens(text: str, aliases: Aliases) -> list[str]:
    """Stemmed content words with name variants folded to canonical tokens."""
    return list(_cached_tokens(text, aliases))


@lru_cache(maxsize=65536)
def _cached_tokens(text: str, aliases: Aliases) -> tuple[str, ...]:
    # Retrieved sentences recur across questions: tokenise each text once.
    return tuple(content_words(aliases.canonicalize(text)))


class LexicalIndex:
    """A BM25 index over chunk texts, addressed by chunk id."""

    def __init__(self, ids: list[str], bm25: object | None, df: dict[str, int], n_docs: int) -> None:
        self.ids = ids
        self._bm25 = bm25
        self.df = df
        self.n_docs = n_docs

    @classmethod
    def build(cls, items: Iterable[tuple[str, str]], aliases: Aliases) -> LexicalIndex:
        """Index (chunk id, text) pairs."""
        import bm25s

        ids: list[str] = []
        corpus: list[list[str]] = []
        df: Counter[str] = Counter()
        for cid, text in items:
            toks = lexical_tokens(text, aliases)
            ids.append(cid)
            corpus.append(toks)
            df.update(set(toks))
        if not ids:
            return cls([], None, {}, 0)
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        return cls(ids, bm25, dict(df), len(ids))

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (unknown terms get the highest weight)."""
        return math.log(1 + (self.n_docs + 1) / (self.df.get(term, 0) + 0.5))

    def search(self, tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) with a positive score."""
        if self._bm25 is None or not tokens:
            return []
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        known = [t for t in tokens if t in vocab]
        if not known:
            return []
        scores = np.asarray(self._bm25.get_scores(known))  # type: ignore[attr-defined]
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
        if self._bm25 is not None:
            self._bm25.save(str(tmp / "bm25"))  # type: ignore[attr-defined]
        (tmp / "meta.json").write_text(
            json.dumps({"signature": signature, "ids": self.ids, "df": self.df}),
            encoding="utf-8",
        )
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, signature: str) -> LexicalIndex | None:
        """The cached index if it matches ``signature``, else None."""
        meta_path = folder / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("signature") != signature:
            return None
        bm25 = None
        if meta["ids"]:
            import bm25s

            try:
                bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=False)
            except Exception:  # a damaged cache is rebuilt, never fatal
                return None
        return cls(meta["ids"], bm25, meta["df"], len(meta["ids"]))
