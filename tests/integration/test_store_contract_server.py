"""The store contract on a real `chroma run` server (slow: it starts one per module)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_contract import CASES, DIM, MODEL

from store import VectorStore, open_store

pytestmark = pytest.mark.slow


@pytest.fixture
def store(chroma_server: tuple[int, Path]) -> Iterator[VectorStore]:
    port, _ = chroma_server
    # A fresh collection per case: the server outlives the test.
    s = open_store(host="127.0.0.1", port=port, collection=f"c{uuid.uuid4().hex[:12]}")
    s.check_model(MODEL, DIM)
    yield s
    s.close()


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_store_contract_on_a_server(store: VectorStore, case: Callable[[VectorStore], None]) -> None:
    case(store)
