"""Public test doubles, built on the same protocols a user would implement (:mod:`rag.protocols`).

Deterministic and dependency-free (numpy only): no model file, no Chroma, no network. Use them to
test code that drives a :class:`rag.pipeline.Pipeline`::

    pipe = Pipeline(settings, embedder=HashEmbedder(), store=InMemoryStore(), chat_model=ScriptedChat("… [1]"))
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.llm.completion import StreamedCompletion
from rag.protocols import Span
from rag.text import split_sentences
from store.types import DocRecord, EmbeddingMismatchError, Hit, Record, Scalar

__all__ = ["HashEmbedder", "InMemoryStore", "ScriptedChat", "Verdict", "WordOverlapJudge"]

_WORD = re.compile(r"\w+")


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.maximum(norms, 1e-12)).astype(np.float32)


class HashEmbedder:
    """A deterministic bag-of-words embedder: each lower-cased word hashed to a signed bucket.

    Texts sharing words get similar vectors, which is enough to test ranking logic.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.model_id = f"test-hash-embedder-{dim}"

    def _word_vector(self, word: str) -> np.ndarray:
        h = hashlib.blake2b(word.encode(), digest_size=8).digest()
        v = np.zeros(self.dim, dtype=np.float32)
        v[int.from_bytes(h[:4], "little") % self.dim] = 1.0 if h[4] & 1 else -1.0
        return v

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in _WORD.findall(text.lower()):
            v += self._word_vector(w)
        return v

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per text (an all-zero row for a text without words)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one query."""
        return self.embed([text])[0]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Text vectors and, per text, the vector of each character span."""
        per_span = [
            _normalise(np.stack([self._vector(t[a:b]) for a, b in sp])) if sp else np.zeros((0, self.dim), np.float32)
            for t, sp in zip(texts, spans, strict=True)
        ]
        return self.embed(texts), per_span

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Words per text."""
        return [len(_WORD.findall(t)) for t in texts]


class InMemoryStore:
    """The full :class:`store.VectorStore` protocol over dicts and numpy (exact cosine search)."""

    def __init__(self, location: str = "memory") -> None:
        self.location = location
        self._lock = threading.RLock()
        self._chunks: dict[str, Record] = {}
        self._docs: dict[str, DocRecord] = {}
        self._model: tuple[str, int] | None = None
        self._version: str | None = None
        self._markers: dict[str, str] = {}

    def check_model(self, model_id: str, dim: int) -> None:
        """Refuse vectors of another model once any chunk is stored."""
        with self._lock:
            if self._model is not None and self._model[0] != model_id and self._chunks:
                raise EmbeddingMismatchError(
                    f"the store at {self.location} holds vectors of embedding model {self._model[0]!r}, "
                    f"but the settings use {model_id!r}; run `rag ingest --rebuild`"
                )
            if self._model is None or self._model[0] != model_id:
                self._model = (model_id, dim)
                self._chunks.clear()
                self._docs.clear()
                self.mark_changed()

    def add(self, records: Sequence[Record]) -> None:
        """Add or replace chunk records."""
        with self._lock:
            for r in records:
                self._chunks[r.id] = r

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k nearest chunks, best first (ties by id)."""
        with self._lock:
            items = list(self._chunks.values())
        if not items:
            return []
        matrix = _normalise(np.stack([r.vector for r in items]))
        sims = matrix @ _normalise(np.asarray(vector, dtype=np.float32))
        order = sorted(range(len(items)), key=lambda i: (-float(sims[i]), items[i].id))
        return [(items[i].id, float(sims[i])) for i in order[: max(k, 1)]]

    @staticmethod
    def _hit(r: Record) -> Hit:
        return Hit(id=r.id, text=r.text, doc_id=r.doc_id, metadata=dict(r.metadata))

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """Chunks by id, in the order asked (missing ids skipped)."""
        with self._lock:
            return [self._hit(self._chunks[i]) for i in ids if i in self._chunks]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored chunk vectors by id (missing ids left out)."""
        with self._lock:
            return {i: np.array(self._chunks[i].vector, dtype=np.float32) for i in ids if i in self._chunks}

    def iter_chunks(self, batch: int = 1000) -> Iterator[Hit]:
        """Every chunk, in insertion order."""
        with self._lock:
            items = list(self._chunks.values())
        for r in items:
            yield self._hit(r)

    def count(self) -> int:
        """Number of chunks."""
        return len(self._chunks)

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Scalar]]) -> None:
        """Add or change metadata keys of existing chunks (a ``doc_id`` key moves the chunk)."""
        with self._lock:
            for i, meta in zip(ids, metadatas, strict=True):
                r = self._chunks.get(i)
                if r is None:
                    continue
                merged = {**r.metadata, **meta}
                doc_id = str(merged.pop("doc_id", r.doc_id))
                self._chunks[i] = Record(id=r.id, vector=r.vector, text=r.text, doc_id=doc_id, metadata=merged)

    def chunks_outside(self, doc_ids: Sequence[str]) -> list[Hit]:
        """Chunks of documents other than ``doc_ids``."""
        keep = set(doc_ids)
        with self._lock:
            return [self._hit(r) for r in self._chunks.values() if r.doc_id not in keep]

    def marker(self, key: str) -> str | None:
        """A named value kept with the corpus, or None."""
        return self._markers.get(key)

    def set_marker(self, key: str, value: str) -> None:
        """Keep a named value with the corpus."""
        self._markers[key] = value

    def delete_doc_chunks(self, doc_ids: Sequence[str]) -> int:
        """Delete the chunks of these documents; return how many."""
        wanted = set(doc_ids)
        with self._lock:
            gone = [i for i, r in self._chunks.items() if r.doc_id in wanted]
            for i in gone:
                del self._chunks[i]
        return len(gone)

    def put_documents(self, docs: Sequence[DocRecord]) -> None:
        """Write document records (the commit marks of their ingest)."""
        with self._lock:
            for d in docs:
                self._docs[d.id] = d
            self.mark_changed()

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Delete document records."""
        with self._lock:
            for i in doc_ids:
                self._docs.pop(i, None)
            if doc_ids:
                self.mark_changed()

    def documents(self) -> list[DocRecord]:
        """Every document record, without text or vector (as the Chroma store returns them)."""
        with self._lock:
            return [
                DocRecord(id=d.id, vector=np.zeros(0, np.float32), text="", metadata=dict(d.metadata))
                for d in self._docs.values()
            ]

    def document(self, doc_id: str) -> DocRecord | None:
        """One document record with its text, or None."""
        with self._lock:
            d = self._docs.get(doc_id)
        if d is None:
            return None
        return DocRecord(id=d.id, vector=np.zeros(0, np.float32), text=d.text, metadata=dict(d.metadata))

    def document_ids(self) -> list[str]:
        """The ids of every document record."""
        with self._lock:
            return list(self._docs)

    def corpus_version(self) -> str | None:
        """The version token (None until something was written)."""
        return self._version

    def mark_changed(self) -> None:
        """A fresh version token."""
        self._version = uuid.uuid4().hex

    def reset(self) -> None:
        """Delete everything."""
        with self._lock:
            self._chunks.clear()
            self._docs.clear()
            self._model = None
            self.mark_changed()

    def close(self) -> None:
        """Nothing to release."""


class ScriptedChat:
    """A chat model that streams the given texts, one per call (the last repeats), or raises ``error``.

    Each call returns its own completion, streamed in pieces of ``piece`` characters, whose usage
    is deterministic: ``prompt_tokens`` counts the words of the messages, ``completion_tokens``
    the pieces streamed. ``prompts`` keeps every call's messages.
    """

    model = "scripted"

    def __init__(
        self, *texts: str, error: Exception | None = None, piece: int = 7, finish_reason: str = "stop"
    ) -> None:
        self.texts = list(texts) or [""]
        self.error = error
        self.piece = piece
        #: What each completion reports at its end ("length": cut by ``max_tokens``).
        self.finish_reason = finish_reason
        self.prompts: list[list[dict[str, str]]] = []
        self._lock = threading.Lock()
        self._calls = 0

    def reply(self, messages: list[dict[str, str]]) -> str:
        """The text of the next call (override to answer from the prompt)."""
        with self._lock:
            i = min(self._calls, len(self.texts) - 1)
            self._calls += 1
        return self.texts[i]

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> StreamedCompletion:
        """One completion of ``messages``."""
        self.prompts.append(messages)

        def pieces(out: StreamedCompletion) -> Iterator[str]:
            if self.error is not None:
                raise self.error
            text = self.reply(messages)
            out.prompt_tokens = sum(len(m.get("content", "").split()) for m in messages)
            for i in range(0, len(text), self.piece):
                out.completion_tokens += 1
                yield text[i : i + self.piece]
            out.finish_reason = self.finish_reason

        return StreamedCompletion(pieces)


@dataclass(frozen=True)
class Verdict:
    """The word-overlap judge's verdict (a :class:`rag.protocols.SupportVerdict`)."""

    supported: bool
    score: float
    quote: str
    start: int
    end: int


class WordOverlapJudge:
    """Supported when a share ``min_overlap`` of the statement's longer words occur in one sentence."""

    def __init__(self, min_overlap: float = 0.6) -> None:
        self.min_overlap = min_overlap

    @staticmethod
    def _words(text: str) -> set[str]:
        return {w for w in _WORD.findall(text.lower()) if len(w) > 3}

    def best_support(self, statement: str, passage: str, exclude: Sequence[Span] = ()) -> Verdict:
        """The passage sentence sharing the most of the statement's words (never one overlapping ``exclude``)."""
        wanted = self._words(re.sub(r"\[\d+\]", "", statement))
        best = Verdict(False, 0.0, "", 0, 0)
        for a, b in split_sentences(passage):
            if any(x < b and a < y for x, y in exclude):
                continue
            share = len(wanted & self._words(passage[a:b])) / len(wanted) if wanted else 0.0
            if share > best.score:
                best = Verdict(share >= self.min_overlap, share, passage[a:b], a, b)
        return best

    def supports(self, statement: str, passages: Sequence[str]) -> bool:
        """Whether one sentence of the passages, or two adjacent ones joined, supports the statement."""
        joined = "\n\n".join(passages)
        spans = split_sentences(joined)
        windows = [joined[a:b] for a, b in spans] + [joined[a[0] : b[1]] for a, b in itertools.pairwise(spans)]
        return any(self.best_support(statement, w).supported for w in windows)
