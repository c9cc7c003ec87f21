"""One settings object for everything, read from ``RAG_*`` environment variables.

Groups nest one level: ``RAG_STORE_PATH`` sets ``settings.store.path``, ``RAG_ANSWER_MODE``
sets ``settings.answer.mode``, and so on. Pass the object explicitly: the environment is read
when a ``Settings`` is built, and afterwards only by :class:`LLMSettings`, whose endpoint and key
fall back to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` at each use (the official client's own variables).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AnswerSettings",
    "ChromaSettings",
    "ChunkSettings",
    "EmbedSettings",
    "IngestSettings",
    "LLMSettings",
    "RetrieveSettings",
    "Settings",
    "StoreSettings",
    "UISettings",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_seeds() -> Path:
    local = Path("seeds")
    return local if local.is_dir() else PROJECT_ROOT / "seeds"


class StoreSettings(BaseModel):
    """Where the embedded Chroma store lives."""

    path: Path = Field(Path(".rag/chroma"), description="Folder of the embedded Chroma store (RAG_STORE_PATH).")
    collection: str = Field(
        "rag",
        description="Collection name prefix: '<name>_chunks', '<name>_docs', '<name>_texts' (the documents' "
        "texts) and '<name>_state'.",
    )
    cache_dir: Path | None = Field(
        None, description="Folder for the on-disk lexical index cache; default: beside the store."
    )
    refresh_seconds: float = Field(
        5.0, ge=0, description="How often a running pipeline re-checks the store for documents added by others."
    )


class ChromaSettings(BaseModel):
    """A Chroma server (``chroma run``) instead of the embedded store; used when ``host`` is set."""

    host: str | None = Field(None, description="Chroma server host (RAG_CHROMA_HOST); unset = embedded store.")
    port: int = Field(8000, description="Chroma server port (RAG_CHROMA_PORT).")
    ssl: bool = Field(False, description="Use HTTPS to reach the server (RAG_CHROMA_SSL).")
    auth_token: SecretStr | None = Field(None, description="Token sent in the auth header (RAG_CHROMA_AUTH_TOKEN).")
    auth_header: str = Field(
        "Authorization",
        description="Header carrying the token (RAG_CHROMA_AUTH_HEADER); 'Authorization' sends 'Bearer <token>'.",
    )
    timeout: float = Field(
        10.0, description="Seconds any one server call may take before it fails (RAG_CHROMA_TIMEOUT)."
    )

    def headers(self) -> dict[str, str]:
        """HTTP headers for the server, with the auth token if any."""
        if self.auth_token is None:
            return {}
        token = self.auth_token.get_secret_value()
        if self.auth_header.lower() == "authorization":
            return {"Authorization": f"Bearer {token}"}
        return {self.auth_header: token}


class EmbedSettings(BaseModel):
    """The embedding model."""

    provider: Literal["onnx-minilm", "openai"] = Field(
        "onnx-minilm", description="'onnx-minilm' (packaged, offline) or 'openai' (needs an API key)."
    )
    batch_size: int = Field(
        8,
        ge=1,
        description=(
            "Texts per model call during ingest. onnxruntime keeps a memory arena as large as the "
            "biggest batch, so larger batches hold more memory without being faster (see the README's Performance)."
        ),
    )
    max_length: int = Field(256, ge=16, le=512, description="Token limit per text (MiniLM's window is 256).")
    threads: int = Field(0, ge=0, description="onnxruntime intra-op threads; 0 = onnxruntime's default.")
    openai_model: str = Field("text-embedding-3-small", description="Embedding model when provider is 'openai'.")


class ChunkSettings(BaseModel):
    """Sentence-aware chunking."""

    max_tokens: int = Field(
        160, ge=32, le=254, description="Largest chunk in model tokens (must fit MiniLM's 256-token window)."
    )
    overlap_sentences: int = Field(1, ge=0, le=3, description="Sentences repeated at the start of the next chunk.")


class RetrieveSettings(BaseModel):
    """Hybrid retrieval: dense (Chroma) + BM25, fused by a convex combination of their scores (or reciprocal rank)."""

    top_k: int = Field(5, ge=1, le=50, description="Chunks passed to the answerer (CLI: --top-k).")
    candidates: int = Field(20, ge=1, le=200, description="Candidates each retriever contributes before fusion.")
    fusion: Literal["convex", "rrf"] = Field(
        "convex",
        description=(
            "'convex': weighted sum of cosine similarity and max-normalised BM25 score; "
            "'rrf': reciprocal rank fusion (ignores score gaps)."
        ),
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant (fusion='rrf').")
    dense_weight: float = Field(0.6, ge=0, description="Weight of the dense side in fusion.")
    lexical_weight: float = Field(0.4, ge=0, description="Weight of the BM25 side in fusion.")
    aliases_path: Path | None = Field(
        None, description="JSON file of entity name variants; default: the packaged rag/data/aliases.json."
    )
    chunk_cache: int = Field(
        2048,
        ge=0,
        description=(
            "Decoded chunks (text, metadata, sentence vectors) kept in memory between questions, so a "
            "question re-reads only chunks not seen recently; 0 turns the cache off."
        ),
    )


class AnswerSettings(BaseModel):
    """How answers are written."""

    mode: Literal["auto", "extractive", "llm"] = Field(
        "auto",
        description="'auto' (LLM when an endpoint or key is configured), 'extractive' or 'llm' (RAG_ANSWER_MODE).",
    )
    max_sentences: int = Field(4, ge=1, le=12, description="Most sentences in an extractive answer.")
    min_evidence: float = Field(
        0.40,
        description=(
            "Abstain when the best sentence meeting the question's numbers and names scores below this "
            "(calibrated on the dev questions of every corpus: python -m eval.calibrate)."
        ),
    )
    abstain_on: Literal["score", "model"] = Field(
        "score",
        description=(
            "'score': abstain on the best sentence's score (answer.min_evidence); 'model': on the evidence "
            "model's probability that it answers the question (answer.min_probability; rag/answer/evidence.py)."
        ),
    )
    min_probability: float = Field(
        0.55,
        description="With abstain_on='model', abstain below this probability (python -m eval.calibrate).",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are truncated, with a notice.")


class IngestSettings(BaseModel):
    """What ingest accepts."""

    seeds_path: Path = Field(default_factory=_default_seeds, description="Documents ingested when none are named.")
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are refused.")
    extensions: tuple[str, ...] = Field((".txt", ".md", ".html", ".htm", ".pdf"), description="File types ingested.")
    follow_symlinks: bool = Field(False, description="Follow symlinks that point outside the named folders.")
    batch_chunks: int = Field(
        64,
        ge=1,
        description="Chunks embedded and written together; a larger document is written in slices of this size.",
    )


class LLMSettings(BaseModel):
    """An OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama)."""

    base_url: str | None = Field(None, description="Endpoint URL (RAG_LLM_BASE_URL, else OPENAI_BASE_URL).")
    api_key: SecretStr | None = Field(None, description="API key (RAG_LLM_API_KEY, else OPENAI_API_KEY).")
    model: str = Field("gpt-4o-mini", description="Model name (RAG_LLM_MODEL).")
    timeout: float = Field(30.0, gt=0, description="Seconds per LLM request.")
    max_retries: int = Field(2, ge=0, description="Retries on 429/5xx, with backoff.")
    max_tokens: int = Field(400, ge=16, description="Most tokens in an LLM answer.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    def resolved_base_url(self) -> str | None:
        """The endpoint, falling back to OPENAI_BASE_URL."""
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def resolved_api_key(self) -> str | None:
        """The key, falling back to OPENAI_API_KEY."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None

    def configured(self) -> bool:
        """True when an endpoint or a key is set."""
        return bool(self.resolved_base_url() or self.resolved_api_key())


class UISettings(BaseModel):
    """The Gradio chat UI."""

    username: str | None = Field(None, description="Login user for the UI (RAG_UI_USERNAME).")
    password: SecretStr | None = Field(None, description="Login password for the UI (RAG_UI_PASSWORD).")
    max_upload_mb: float = Field(10.0, gt=0, description="Largest file accepted by the upload box.")


class Settings(BaseSettings):
    """Every setting of the pipeline; env prefix ``RAG_``, one level of nesting (``RAG_STORE_PATH``)."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    store: StoreSettings = Field(default_factory=StoreSettings, description="Embedded store location.")
    chroma: ChromaSettings = Field(default_factory=ChromaSettings, description="Chroma server mode.")
    embed: EmbedSettings = Field(default_factory=EmbedSettings, description="Embedding model.")
    chunk: ChunkSettings = Field(default_factory=ChunkSettings, description="Chunking.")
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings, description="Retrieval.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Answering.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Ingest limits.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="LLM endpoint.")
    ui: UISettings = Field(default_factory=UISettings, description="Chat UI.")
    strict: bool = Field(False, description="Drop LLM sentences whose citations cannot be verified (RAG_STRICT).")

    def fingerprint(self) -> str:
        """A short hash of the settings that change answers (secrets and locations excluded)."""
        data = self.model_dump(
            mode="json",
            exclude={
                "store": True,
                "chroma": True,
                "ui": True,
                "ingest": {"seeds_path"},
                "llm": {"api_key", "base_url"},
            },
        )
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
