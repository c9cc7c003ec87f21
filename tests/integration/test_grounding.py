"""Grounding: the question's numbers, names and answer type must be in the evidence (real pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.answer.extractive import ExtractiveAnswerer
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.verify.cite import strip_markers

PLACES = ["Jalalabad", "Herat", "Kandahar", "Mazar", "Kunduz", "Ghazni", "Bamyan", "Khost"]


@pytest.fixture(scope="module")
def owls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """2,000 near-identical notes that differ only in their number and place."""
    root = tmp_path_factory.mktemp("owls")
    docs = root / "docs"
    docs.mkdir()
    for part in range(4):
        lines = [
            f"Note {n}: the copper owl number {n} was seen near {PLACES[n * 7 % len(PLACES)]} at dawn."
            for n in range(part * 500 + 1, part * 500 + 501)
        ]
        (docs / f"owls_{part}.txt").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    pipe = Pipeline.from_settings(Settings(store={"path": root / "store"}, answer={"mode": "extractive"}))
    pipe.ingest([docs])
    yield pipe


@pytest.mark.parametrize("n", [1234, 77, 1999])
def test_the_numbered_fact_asked_for_is_the_one_cited(owls: Pipeline, n: int) -> None:
    a = owls.ask(f"Where was copper owl number {n} seen?")
    assert not a.abstained, a.notice
    place = PLACES[n * 7 % len(PLACES)]
    assert f"copper owl number {n} was seen near {place}" in a.text
    for c in a.citations:
        assert f"number {n} " in c.quote


def test_a_number_no_note_has_is_declined(owls: Pipeline) -> None:
    a = owls.ask("Where was copper owl number 4321 seen?")
    assert a.abstained
    assert a.notice and "numbers" in a.notice


@pytest.fixture(scope="module")
def castemar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Made-up documents that mention the city of Castemar but never its population."""
    root = tmp_path_factory.mktemp("castemar")
    docs = root / "docs"
    docs.mkdir()
    (docs / "castemar.txt").write_text(
        "Castemar is a harbour city on the northern coast, famous for its lighthouse.\n\n"
        "The old market of Castemar opens every Tuesday and sells fish, salt and woven baskets.\n\n"
        "In the winter storms the ferry to the islands stops running for several weeks.\n\n"
        "The city council of Castemar meets in the stone hall beside the harbour.\n",
        encoding="utf-8",
    )
    (docs / "valdora.txt").write_text(
        "Valdora is an inland town known for its vineyards and its summer music festival.\n\n"
        "About 12,000 people live in Valdora, most of them working in farming or tourism.\n",
        encoding="utf-8",
    )
    (docs / "olsen.txt").write_text(
        "Marta Olsen, a geologist at the Valdora Mining Institute, studies the old copper seams under the hills.\n\n"
        "She has mapped the abandoned tunnels for eleven years.\n",
        encoding="utf-8",
    )
    pipe = Pipeline.from_settings(Settings(store={"path": root / "store"}, answer={"mode": "extractive"}))
    pipe.ingest([docs])
    yield pipe


def test_an_attribute_the_documents_never_state_is_declined(castemar: Pipeline) -> None:
    a = castemar.ask("What is the population of Castemar?")
    assert a.abstained, a.text


def test_the_stated_attribute_is_answered(castemar: Pipeline) -> None:
    a = castemar.ask("How many people live in Valdora?")
    assert not a.abstained
    assert "12,000" in a.text


def test_a_name_the_documents_never_mention_is_declined(castemar: Pipeline) -> None:
    a = castemar.ask("When does the market of Porthaven open?")
    assert a.abstained
    assert a.notice and "porthaven" in a.notice.lower()


def test_a_typed_answer_must_say_what_is_asked(castemar: Pipeline) -> None:
    # "Tuesday" is a date, but no sentence says when the lighthouse was built.
    a = castemar.ask("When was the lighthouse of Castemar built?")
    assert a.abstained, a.text
    assert a.notice and "kind of answer" in a.notice
    b = castemar.ask("When does the old market of Castemar open?")
    assert not b.abstained
    assert "every Tuesday" in b.text


def test_where_someone_works_is_answered_by_their_affiliation(castemar: Pipeline) -> None:
    # The sentence never says "works": "a geologist at the Valdora Mining Institute" is the answer.
    a = castemar.ask("Where does Marta Olsen work?")
    assert not a.abstained, a.notice
    assert "Valdora Mining Institute" in a.text
    # Any other "where" still needs its own predicate: no sentence says where she was born.
    b = castemar.ask("Where was Marta Olsen born?")
    assert b.abstained, b.text


def test_a_how_many_answer_must_count_what_is_asked(castemar: Pipeline) -> None:
    # "The ferry … stops running for several weeks" holds a quantity and the word ferry, but counts no ferries.
    a = castemar.ask("How many ferries sail to the islands in winter?")
    assert a.abstained, a.text
    b = castemar.ask("How many people live in Valdora?")
    assert not b.abstained and "12,000" in b.text


def test_a_compound_question_is_answered_part_by_part(castemar: Pipeline) -> None:
    # The two names are in two documents: no one sentence holds both, each part has its own.
    a = castemar.ask("When does the old market of Castemar open, and how many people live in Valdora?")
    assert not a.abstained, a.notice
    assert "every Tuesday" in a.text and "12,000" in a.text
    assert {c.source for c in a.citations} == {"castemar.txt", "valdora.txt"}


def test_the_parts_of_a_compound_question_share_the_sentence_limit(castemar: Pipeline) -> None:
    from rag.verify.cite import cited_sentences

    a = castemar.ask(
        "What is Valdora known for, and what does the market of Castemar sell, and where does the council meet?"
    )
    assert "vineyards" in a.text and "fish" in a.text and "stone hall" in a.text
    assert len(cited_sentences(a.text)) <= castemar.settings.answer.max_sentences


def test_a_compound_question_says_which_part_the_documents_do_not_answer(castemar: Pipeline) -> None:
    a = castemar.ask("What is Valdora known for, and who is the mayor of Castemar?")
    assert "vineyards" in a.text
    assert "Castemar" not in strip_markers(a.text)
    assert a.notice and "Who is the mayor of Castemar?" in a.notice


def test_a_compound_question_no_part_of_which_is_answered_is_declined(castemar: Pipeline) -> None:
    # The whole question's words meet in "Castemar is a harbour city …, famous for its lighthouse" (the
    # word lighthouse, and a name for "who", but only the question's own), which answers neither part.
    a = castemar.ask("Who is the mayor of Valdora, and when was the lighthouse of Castemar built?")
    assert a.abstained, a.text
    assert a.notice and "Not answered" in a.notice


FERRIES = "The ferry to the islands leaves the harbour every morning at seven o'clock.\n"


def _pipeline_over(tmp_path: Path, files: dict[str, str]) -> Pipeline:
    """An extractive pipeline over these made-up documents (file name → text) only."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    pipe = Pipeline.from_settings(Settings(store={"path": tmp_path / "store"}, answer={"mode": "extractive"}))
    pipe.ingest([docs])
    return pipe


def test_a_name_only_a_file_name_holds_is_known(tmp_path: Path) -> None:
    # "Brackwater" is the file name of one document and in no text: asked about while another
    # document is retrieved, it is not "never mentioned".
    pipe = _pipeline_over(
        tmp_path,
        {
            "brackwater.txt": "The licence lets anyone copy the recipe book, provided the cover page is kept.\n",
            "ferries.txt": FERRIES,
        },
    )
    a = pipe.ask("When does the Brackwater ferry leave the harbour?", top_k=1)
    assert not (a.notice and "never mention" in a.notice), a.notice
    unknown = pipe.ask("When does the Porthaven ferry leave the harbour?", top_k=1)
    assert unknown.notice and "porthaven" in unknown.notice.lower()


def test_a_rare_word_the_documents_never_use_is_declined(tmp_path: Path) -> None:
    # "cryptocurrency" (five MiniLM pieces) is in no document, in no form: nothing can answer for it,
    # though the question's other words find the harbour's fee sentence.
    harbour = (
        "The harbour of Castemar charges a mooring fee of twelve euros a night.\n\n"
        "Boats pay the mooring fee at the harbour office, in cash or by card.\n\n"
        "The harbour's decarbonisation plan replaced the diesel cranes with electric ones in 2019.\n"
    )
    pipe = _pipeline_over(tmp_path, {"harbour.txt": harbour, "ferries.txt": FERRIES})
    a = pipe.ask("Can boats pay the mooring fee in cryptocurrency?")
    assert a.abstained and a.notice and "never mention 'cryptocurrency'" in a.notice, (a.text, a.notice)
    # The same question without the rare word is answered, and a rare word the documents use in
    # another form ("decarbonised", "decarbonisation") is no unknown word.
    assert not pipe.ask("How can boats pay the mooring fee?").abstained
    other_form = pipe.ask("When did the harbour's cranes get decarbonised?")
    assert not (other_form.notice and "never mention" in other_form.notice), other_form.notice


def test_front_matter_dates_its_document_and_answers_nothing_else(tmp_path: Path) -> None:
    # A document's heading lines ("Version 3.1, March 2019") say when it came out; they are no
    # answer to when anything inside it happened.
    pipe = _pipeline_over(
        tmp_path,
        {
            "orchard.txt": "Orchard Charter\nVersion 3.1, March 2019\n\n"
            "The members of the orchard share the harvest in equal parts every autumn.\n\n"
            "Any member may leave the orchard after giving the council a month of notice.\n",
            "ferries.txt": FERRIES,
        },
    )
    a = pipe.ask("When was Version 3.1 of the Orchard Charter issued?")
    assert not a.abstained, a.notice
    assert any("March 2019" in c.quote for c in a.citations), a.text
    signed = pipe.ask("When was the Orchard Charter signed?")
    assert signed.abstained, signed.text
    assert all("March 2019" not in c.quote for c in signed.citations)


@pytest.fixture(scope="module")
def castemar_model(castemar: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The same documents, abstaining on the evidence model (RAG_ANSWER_ABSTAIN_ON=model)."""
    settings = castemar.settings.model_copy(deep=True)
    settings.answer.abstain_on = "model"
    return Pipeline.from_settings(settings)


def test_the_evidence_model_declines_a_predicate_no_sentence_holds(castemar_model: Pipeline) -> None:
    # Castemar and its lighthouse are there; when it was built is not.
    a = castemar_model.ask("When was the lighthouse of Castemar built?")
    assert a.abstained, a.text
    b = castemar_model.ask("When does the old market of Castemar open?")
    assert not b.abstained
    assert "every Tuesday" in b.text


def test_features_are_computed_only_when_the_model_decides(castemar: Pipeline, castemar_model: Pipeline) -> None:
    q = "When does the old market of Castemar open?"
    plain = castemar.retriever.prepare(q)
    by_score = castemar.answerer.select(plain, castemar.retriever.retrieve(plain))
    assert getattr(by_score, "features", "missing") is None
    query = castemar_model.retriever.prepare(q)
    answerer = castemar_model.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    by_model = answerer.select(query, castemar_model.retriever.retrieve(query))
    assert by_model.features is not None
    assert abs(by_model.evidence - answerer.model.probability(by_model.features)) < 1e-9


def test_rare_name_verbatim_is_strong_evidence(pipeline: Pipeline) -> None:
    a = pipeline.ask("Who is Jennifer Cafarella, and what did she say?")
    assert not a.abstained
    assert "Jennifer Cafarella, a researcher at the Institute for the Study of War" in a.text


def test_a_year_the_articles_do_not_contain_is_declined(pipeline: Pipeline) -> None:
    a = pipeline.ask("How many ISKP attacks on the Taliban were there in 2025?")
    assert a.abstained, a.text


def test_the_alias_vector_does_not_lengthen_the_encoded_query(pipeline: Pipeline) -> None:
    retriever = pipeline.retriever
    q = retriever.prepare("Why does ISKP oppose the Taliban?")
    assert q.dense_text == q.text  # the question is encoded as written
    plain = pipeline.embedder.embed_query(q.text)
    assert abs(float(np.linalg.norm(q.vector)) - 1.0) < 1e-5
    assert float(q.vector @ plain) < 0.9999  # the display form of ISKP was mixed in
    spelled = pipeline.embedder.embed_query(pipeline.aliases.dense_query(q.text))
    assert float(q.vector @ spelled) > float(plain @ spelled)  # closer to the spelled-out query
    assert (
        retriever.prepare("Why is the sky blue?").vector @ pipeline.embedder.embed_query("Why is the sky blue?")
        > 0.9999
    )


def test_multi_source_questions_cite_more_than_one_source(pipeline: Pipeline) -> None:
    a = pipeline.ask("What happened to the prisoners who escaped when the Taliban took over?")
    assert not a.abstained
    assert len({c.source for c in a.citations}) >= 2, strip_markers(a.text)
