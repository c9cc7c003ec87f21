"""The reference we must beat: a plain llama-index pipeline, "what a user would build in an afternoon".

Exactly the defaults: ``SimpleDirectoryReader`` over the seed ``.txt`` files, llama-index's default
``SentenceSplitter`` (1,024-token chunks, 200 overlap), the same embedder as ours (the packaged
MiniLM behind :class:`rag.integrations.llama_index.OnnxMiniLMEmbedding`), a Chroma collection through
``ChromaVectorStore``, and ``index.as_retriever(similarity_top_k=2)``. The answer is the text of
the top retrieved node followed by ``[1]``; the citation quotes that node; it never abstains and
ignores conversation history.

Answers come back as :class:`rag.types.Answer` objects so the eval runner scores both systems
with the same code. No LLM is configured and the embedder is always passed explicitly, so
llama-index never reaches for OpenAI; nothing here touches the network.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.types import Answer, Chunk, Citation, Quote, ScoredChunk, Source

if TYPE_CHECKING:
    from rag.embed import Embedder

__all__ = ["TOP_K", "Baseline"]

#: Nodes retrieved per question (the issue's ``similarity_top_k=2``).
TOP_K = 2


class Baseline:
    """Index the seed files with llama-index defaults and answer with the top node, cited as [1].

    The eval runner (``rag eval --compare``) and the bench (``rag bench``, ``top_k=5``, timing
    ``retriever.retrieve``) both build this one. Another llama-index baseline reuses the index
    (``self.index``, ``self.texts``) by subclassing and overriding :meth:`ask`.
    """

    #: The ``Answer.mode`` and the report's name for this system.
    name = "baseline"

    def __init__(
        self,
        seeds_path: Path,
        *,
        embedder: Embedder | None = None,
        top_k: int = TOP_K,
        workdir: Path | None = None,
    ) -> None:
        t0 = time.perf_counter()
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.integrations.llama_index import OnnxMiniLMEmbedding
        from store.chroma import raw_persistent_client

        #: Seconds spent importing llama-index (the bench reports it).
        self.import_s = time.perf_counter() - t0
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="rag-baseline-")) if workdir is None else workdir
        self.embed_model = OnnxMiniLMEmbedding(embedder)
        self._client = raw_persistent_client(self.workdir / "chroma")
        collection = self._client.get_or_create_collection("baseline")
        t = time.perf_counter()
        docs = SimpleDirectoryReader(input_dir=str(seeds_path), required_exts=[".txt"]).load_data()
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        self.index = VectorStoreIndex.from_documents(
            docs, storage_context=storage, embed_model=self.embed_model, transformations=[SentenceSplitter()]
        )
        #: Seconds spent reading, splitting, embedding and storing the seeds.
        self.index_s = time.perf_counter() - t
        #: The text each file was indexed from (what the baseline's quotes must be verbatim in).
        self.texts: dict[str, str] = {str(d.metadata["file_name"]): d.text for d in docs}
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)
        self.nodes = int(collection.count())

    def info(self) -> dict[str, float]:
        """How long building the index took and how many nodes it holds (the bench's ``baseline`` figures)."""
        return {
            "import_s": self.import_s,
            "index_s": self.index_s,
            "nodes": self.nodes,
            "nodes_per_s": self.nodes / self.index_s,
        }

    def source_text(self, source: str) -> str:
        """The raw text of a seed file as the baseline read it."""
        return self.texts[source]

    def ask(self, question: str, *, history: Sequence[str] | None = None) -> Answer:
        """Retrieve the top nodes; answer = top node text + ``[1]`` (history is ignored)."""
        del history  # a plain retriever sends the question alone
        results = self.retriever.retrieve(question)
        retrieved = [_scored(i, r) for i, r in enumerate(results)]
        if not retrieved:  # only on an empty index
            return Answer(question=question, text="", citations=[], retrieved=[], abstained=False, mode=self.name)
        top = retrieved[0]
        text = top.text.strip()
        quote = Quote(text=text, start=top.chunk.start, end=top.chunk.end, chunk_id=top.chunk_id, score=top.score)
        citation = Citation(
            n=1,
            source=top.source,
            title=top.source,
            quote=text,
            chunk_id=top.chunk_id,
            score=top.score,
            start=top.chunk.start,
            end=top.chunk.end,
            doc_id=top.chunk.doc_id,
            quotes=(quote,),
        )
        return Answer(
            question=question,
            text=f"{text} [1]",
            citations=[citation],
            retrieved=retrieved,
            abstained=False,
            mode=self.name,
        )

    def close(self) -> None:
        """Drop the index and its temporary Chroma folder."""
        self._client = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _scored(rank: int, result: Any) -> ScoredChunk:
    node = result.node
    text = str(node.get_content())
    source = str(node.metadata.get("file_name", ""))
    start = int(node.start_char_idx or 0)
    end = int(node.end_char_idx) if node.end_char_idx is not None else start + len(text)
    score = float(result.score or 0.0)
    chunk = Chunk(
        chunk_id=str(node.node_id),
        doc_id=str(node.ref_doc_id or source),
        source=source,
        text=text,
        start=start,
        end=end,
        index=rank,
        meta=Source(title=source),
    )
    return ScoredChunk(chunk=chunk, score=score, rank=rank + 1, dense_score=score)
