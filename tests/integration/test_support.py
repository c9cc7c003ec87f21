"""The support checker (rag.verify.support): accuracy on the hand-labelled pairs and specific cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.verify.support import DEFAULT_THRESHOLDS, SupportChecker, SupportPair, accuracy, calibrate, load_pairs

#: Measured accuracy of the default thresholds on rag/data/support_pairs.jsonl is 0.870 (67/77);
#: the floor allows 0.027 (two pairs) for numerical drift across onnxruntime builds.
ACCURACY_FLOOR = 0.83

APOSTATES = (
    "However, over the years, ISIS-K and the Taliban still see each other as arch-rivals. "
    "ISIS-K views the Taliban as apostates turning their backs on jihad because their ambitions are limited "
    "to forming a government in Afghanistan. This goes against the operating principle of the IS movement, "
    "which is to establish a global Islamic empire."
)
AIRPORT = (
    "On April 25, 2023, U.S. officials confirmed that the Taliban had killed the head of the Islamic State (IS) "
    "cell operating in Afghanistan. Though his identity has not been revealed, the IS leader is believed to have "
    "masterminded the 2021 Kabul airport attack that killed 170 Afghan civilians and 13 U.S. military personnel."
)


@pytest.fixture(scope="module")
def checker() -> Iterator[SupportChecker]:
    from rag.embed import MiniLMOnnx

    yield SupportChecker(MiniLMOnnx())


@pytest.fixture(scope="module")
def pairs() -> list[SupportPair]:
    return load_pairs()


def test_pairs_are_many_and_mixed(pairs: list[SupportPair]) -> None:
    assert len(pairs) >= 40
    supported = sum(p.supported for p in pairs)
    assert 0.3 <= supported / len(pairs) <= 0.6
    assert all(p.statement.strip() and p.passage.strip() for p in pairs)


def test_accuracy_on_labelled_pairs(checker: SupportChecker, pairs: list[SupportPair]) -> None:
    assert accuracy(pairs, checker) >= ACCURACY_FLOOR


def test_defaults_are_the_calibrated_thresholds(checker: SupportChecker, pairs: list[SupportPair]) -> None:
    cal = calibrate(pairs, checker.embedder)
    assert cal.thresholds == DEFAULT_THRESHOLDS
    assert cal.accuracy >= ACCURACY_FLOOR
    assert cal.loo_accuracy <= cal.accuracy


def test_verbatim_sentence_is_supported_and_quoted(checker: SupportChecker) -> None:
    statement = (
        "ISIS-K views the Taliban as apostates turning their backs on jihad because their ambitions are limited "
        "to forming a government in Afghanistan."
    )
    r = checker.best_support(statement, APOSTATES)
    assert r.supported
    assert r.similarity > 0.99 and r.overlap == 1.0
    assert r.quote == statement
    assert APOSTATES[r.start : r.end] == r.quote


def test_citation_markers_are_ignored(checker: SupportChecker) -> None:
    plain = "The Islamic State movement aims to establish a global Islamic empire."
    assert checker.best_support(plain + " [1]", APOSTATES) == checker.best_support(plain, APOSTATES)
    assert checker.supports("The Islamic State movement aims to establish a global Islamic empire. [2][3]", [APOSTATES])


def test_paraphrase_with_another_name_variant_is_supported(checker: SupportChecker) -> None:
    r = checker.best_support(
        "ISKP regards the Taliban as apostates because they only want to govern Afghanistan.", APOSTATES
    )
    assert r.supported
    assert "apostates" in r.quote and APOSTATES[r.start : r.end] == r.quote


@pytest.mark.parametrize(
    "statement",
    [
        "The 2021 Kabul airport attack killed 200 Afghan civilians and 13 U.S. military personnel.",
        "On April 25, 2022, U.S. officials confirmed that the Taliban had killed the head of the IS cell.",
    ],
)
def test_wrong_number_or_date_is_unsupported(checker: SupportChecker, statement: str) -> None:
    r = checker.best_support(statement, AIRPORT)
    assert not r.supported
    assert r.similarity > 0.6  # it is about the same thing: only the number rule rejects it
    assert not checker.supports(statement, [AIRPORT])


def test_unrelated_passage_is_unsupported(checker: SupportChecker) -> None:
    assert not checker.supports("Canberra is the capital of Australia.", [APOSTATES])
    assert not checker.supports("The Taliban first emerged in 1994 during the Afghan Civil War.", [AIRPORT])
    r = checker.best_support("Water boils at 100 degrees Celsius at sea level.", APOSTATES)
    assert not r.supported and r.similarity < 0.3
    assert APOSTATES[r.start : r.end] == r.quote  # still the best sentence, verbatim


def test_two_adjacent_sentences_support_a_fused_statement(checker: SupportChecker) -> None:
    fused = (
        "ISIS-K sees the Taliban as apostates since the Taliban's ambitions stop at Afghanistan, "
        "whereas the IS movement wants a global Islamic empire."
    )
    assert not checker.best_support(fused, APOSTATES).supported  # no single sentence says it all
    assert checker.supports(fused, [APOSTATES])
    second, third = APOSTATES.split(". ", 2)[1:]
    assert checker.supports(fused, [second + ".", third])  # across two cited passages


def test_clause_lifted_verbatim_from_a_long_sentence_is_supported(checker: SupportChecker) -> None:
    clause = "Their ambitions are limited to forming a government in Afghanistan. [1]"
    r = checker.best_support(clause, APOSTATES)
    assert r.supported and r.similarity < DEFAULT_THRESHOLDS.min_similarity  # by the verbatim rule
    assert r.quote.startswith("ISIS-K views the Taliban as apostates")
    # Word for word only: a clause with a changed figure is not verbatim, and not supported.
    assert not checker.supports(
        "The IS leader is believed to have masterminded the 2020 Kabul airport attack.", [AIRPORT]
    )
    assert not checker.supports("ambitions are limited to forming a government in Afghan", [APOSTATES])


def test_edge_cases(checker: SupportChecker) -> None:
    assert not checker.supports("ISIS-K views the Taliban as apostates.", [])
    assert not checker.supports("", [APOSTATES])
    assert not checker.supports("[1]", [APOSTATES])
    assert not checker.supports('"', [APOSTATES + '\n\n"'])  # no content word: asserts nothing
    empty = checker.best_support("ISIS-K views the Taliban as apostates.", "")
    assert not empty.supported and empty.quote == "" and (empty.start, empty.end) == (0, 0)


CAFARELLA = (
    "Jennifer Cafarella, a researcher at the Institute for the Study of War, told Insider: \u201cThe likelihood "
    "of a resounding attack in Afghanistan as well as an attack attempt in the West is very high in the coming "
    "weeks. next. ISIS will seek to undermine the Taliban\u2019s rule and attack the Taliban\u2019s religious "
    "legitimacy.\u201d"
)


def test_a_wrong_name_is_not_supported(checker: SupportChecker) -> None:
    assert checker.supports(
        "Jennifer Cafarella, a researcher at the Institute for the Study of War, told Insider.", [CAFARELLA]
    )
    assert not checker.supports(
        "Mark Milley, a researcher at the Institute for the Study of War, told Insider.", [CAFARELLA]
    )


def test_a_name_from_the_neighbouring_sentence_counts(checker: SupportChecker) -> None:
    assert checker.supports(
        "According to Jennifer Cafarella, ISIS will seek to undermine the Taliban's rule.", [CAFARELLA]
    )


def test_a_wrong_year_is_not_supported(checker: SupportChecker) -> None:
    assert checker.supports("The 2021 Kabul airport attack killed 170 Afghan civilians.", [AIRPORT])
    assert not checker.supports("The 2024 Kabul airport attack killed 170 Afghan civilians.", [AIRPORT])
