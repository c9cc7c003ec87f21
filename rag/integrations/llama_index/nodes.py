"""Our retrieved chunks as llama-index nodes."""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode

from rag.types import ScoredChunk

__all__ = ["LLM_HIDDEN_KEYS", "to_node"]

#: Bookkeeping an LLM prompt gains nothing from (the bibliographic fields stay visible).
LLM_HIDDEN_KEYS = ("chunk_id", "doc_id", "dense_score", "lexical_score", "rank")


def to_node(item: ScoredChunk) -> NodeWithScore:
    """A ``NodeWithScore(TextNode)``: text, span in the cleaned document, metadata and our scores.

    Sentence spans and vectors stay out of the node; none of the metadata goes into embeddings
    (our vectors are of the text alone), and only source, title, publisher, author and date go
    into LLM prompts.
    """
    c = item.chunk
    meta: dict[str, Any] = {
        "source": c.source,
        "title": c.title,
        "publisher": c.meta.publisher,
        "author": c.meta.author,
        "date": c.meta.date,
        "chunk_id": c.chunk_id,
        "doc_id": c.doc_id,
        "dense_score": item.dense_score,
        "lexical_score": item.lexical_score,
        "rank": item.rank,
    }
    # Both scores are always there (None: that retriever did not rank the chunk); unknown fields are left out.
    meta = {k: v for k, v in meta.items() if v is not None or k in ("dense_score", "lexical_score")}
    node = TextNode(
        id_=c.chunk_id,
        text=c.text,
        metadata=meta,
        start_char_idx=c.start,
        end_char_idx=c.end,
        excluded_embed_metadata_keys=list(meta),
        excluded_llm_metadata_keys=[k for k in meta if k in LLM_HIDDEN_KEYS],
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=c.doc_id)},
    )
    return NodeWithScore(node=node, score=item.score)
