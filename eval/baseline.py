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

__all__ = ["TOP_K", "Baseline", "CitationBaseline"]

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
        for d in docs:
            # The reader keeps each file's absolute path in what it embeds (and in the metadata the
            # splitter sizes chunks by): the figures would depend on where the repository is cloned.
            d.excluded_embed_metadata_keys.append("file_path")
            d.excluded_llm_metadata_keys.append("file_path")
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


class CitationBaseline(Baseline):
    """llama-index's own ``CitationQueryEngine`` over the baseline's index, with our LLM endpoint.

    ``rag eval --compare --mode llm`` runs it beside the plain baseline: the same index (default
    splitter, MiniLM, Chroma, ``similarity_top_k=2``), the engine's own prompts and citation
    chunks (512 tokens), and the same LLM as ours through
    :class:`rag.integrations.llama_index.OpenAICompatibleLLM`. Its ``[n]`` markers are taken as it
    wrote them (nothing is verified); it abstains only when it answers with nothing.
    """

    name = "citation-engine"

    def __init__(self, seeds_path: Path, *, llm: Any, embedder: Embedder | None = None, **kwargs: Any) -> None:
        super().__init__(seeds_path, embedder=embedder, **kwargs)
        from llama_index.core.query_engine import CitationQueryEngine

        self.engine = CitationQueryEngine.from_args(self.index, llm=llm, similarity_top_k=TOP_K)

    def ask(self, question: str, *, history: Sequence[str] | None = None) -> Answer:
        """The engine's answer, each cited ``Source n`` turned into our citation ``[n]``."""
        del history  # the engine takes one query
        from rag.errors import RagError
        from rag.verify.cite import cited_sentences

        try:
            response = self.engine.query(question)
        except RagError as exc:  # the endpoint failed: no answer, with the reason
            return Answer(
                question=question, text="", citations=[], retrieved=[], abstained=True, mode=self.name, notice=str(exc)
            )
        text = str(response).strip()
        retrieved = [self._scored_source(i, r) for i, r in enumerate(response.source_nodes)]
        used = sorted({n for _, ns in cited_sentences(text) for n in ns if 1 <= n <= len(retrieved)})
        citations = []
        for n in used:
            c = retrieved[n - 1].chunk
            quote = Quote(text=c.text, start=c.start, end=c.end, chunk_id=c.chunk_id, score=retrieved[n - 1].score)
            citations.append(
                Citation(
                    n=n,
                    source=c.source,
                    title=c.source,
                    quote=c.text,
                    chunk_id=c.chunk_id,
                    score=quote.score,
                    start=c.start,
                    end=c.end,
                    doc_id=c.doc_id,
                    quotes=(quote,),
                )
            )
        return Answer(
            question=question,
            text=text,
            citations=citations,
            retrieved=retrieved,
            abstained=not text,
            mode=self.name,
        )

    def _scored_source(self, rank: int, result: Any) -> ScoredChunk:
        """A citation node ("Source n:" + a piece of a retrieved node) located in its file's text."""
        node = result.node
        source = str(node.metadata.get("file_name", ""))
        body = str(node.get_content()).split("\n", 1)[-1].strip()
        start = self.texts.get(source, "").find(body)
        chunk = Chunk(
            chunk_id=f"{source}#source-{rank + 1}",
            doc_id=str(node.ref_doc_id or source),
            source=source,
            text=body,
            start=max(start, 0),
            end=max(start, 0) + len(body),
            index=rank,
            meta=Source(title=source),
        )
        score = float(result.score or 0.0)
        return ScoredChunk(chunk=chunk, score=score, rank=rank + 1, dense_score=score)
