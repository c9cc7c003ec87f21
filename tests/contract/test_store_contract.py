"""The store contract on the in-memory test store and the embedded Chroma store (the server: tests/integration)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_contract import CASES, DIM, MODEL

from rag.testing import InMemoryStore
from store import VectorStore, open_store


@pytest.fixture(params=["memory", "chroma-embedded"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    s: VectorStore = InMemoryStore() if request.param == "memory" else open_store(path=tmp_path / "chroma")
    s.check_model(MODEL, DIM)
    yield s
    s.close()


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_store_contract(store: VectorStore, case: Callable[[VectorStore], None]) -> None:
    case(store)
