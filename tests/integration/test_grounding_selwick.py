"""Grounding on a made-up town (Selwick): names, ordinals and amounts the question asks about must be
in the evidence, not only words that sound like it (real pipeline, extractive)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from rag.settings import Settings

DATA = Path(__file__).parent / "data" / "selwick"
PROBE = [json.loads(line) for line in (DATA / "probe.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
# The probe's questions the extractive answerer still gets wrong (the README lists them): each
# change that fixes or breaks one shows here and is written down there.
KNOWN_MISSES = {
    "Where does Priya Nandakumar work?",  # her affiliation is read, but MiniLM scores the sentence far off
    "What did Arthur Penrose discover?",  # his name is in the chunk; the discovery is Voss's
    "How many fishing boats use Gull Point today?",
    "When will the railway reach Brannock Hill?",
    "What is the speed of the Kestrel locomotive?",
}


@pytest.fixture(scope="module")
def selwick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("selwick")
    pipe = Pipeline.from_settings(Settings(store={"path": root / "store"}, answer={"mode": "extractive"}))
    pipe.ingest([str(p) for p in sorted(DATA.glob("*.txt"))])
    yield pipe


def test_the_probe_misses_only_the_known_questions(selwick: Pipeline) -> None:
    misses = {it["question"] for it in PROBE if selwick.ask(it["question"]).abstained == it["answerable"]}
    assert misses == KNOWN_MISSES
    assert sum(it["answerable"] for it in PROBE) == 18 and len(PROBE) == 34


def test_who_wants_a_name_beyond_the_questions_own(selwick: Pipeline) -> None:
    # "The steam locomotive Kestrel, built in 1910" says when, not who: its only name is the question's.
    a = selwick.ask("Who built the steam locomotive Kestrel?")
    assert a.abstained, a.text
    b = selwick.ask("Who founded Brannock Hill Observatory?")
    assert not b.abstained and "Helena Voss" in b.text


def test_an_ordinal_is_a_number_the_evidence_must_hold(selwick: Pipeline) -> None:
    # The first harbour master is named; the second is not (a "second container terminal" is no help).
    a = selwick.ask("Who was the second harbour master of Selwick?")
    assert a.abstained, a.text
    b = selwick.ask("Who was the first harbour master of Selwick?")
    assert not b.abstained and "Edwin Marsh" in b.text


def test_a_year_is_not_an_amount_or_a_measure(selwick: Pipeline) -> None:
    a = selwick.ask("How much did the new container terminal cost?")
    assert a.abstained, a.text
    b = selwick.ask("How tall is Brannock Hill?")
    assert b.abstained, b.text
    c = selwick.ask("How much cargo does the port handle each year?")
    assert not c.abstained and "4.2 million tonnes" in c.text
