"""Sentence splitting, stemming, name variants and cleaning."""

from __future__ import annotations

import re

import pytest
from conftest import SEEDS

from rag.ingest.clean import clean_text, unwrap_markup
from rag.retrieve.aliases import load_aliases
from rag.retrieve.lexical import lexical_tokens
from rag.text import clip_words, content_words, is_answer_sentence, split_sentences, stem


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_split_keeps_abbreviations_and_offsets() -> None:
    text = "U.S. officials met Dr. Gohel in Kabul. He left on Aug. 26, 2021. Then? Yes!"
    sents = _sentences(text)
    assert sents == ["U.S. officials met Dr. Gohel in Kabul.", "He left on Aug. 26, 2021.", "Then?", "Yes!"]
    for a, b in split_sentences(text):
        assert text[a:b] == text[a:b].strip()


def test_split_joins_a_paragraph_broken_mid_sentence() -> None:
    text = "The Taliban re-established their rule over\n\nthe country, but IS remained. Next one."
    assert _sentences(text) == [
        "The Taliban re-established their rule over\n\nthe country, but IS remained.",
        "Next one.",
    ]


def test_split_joins_hard_wrapped_lines_into_one_sentence() -> None:
    text = (
        "The tenant may sublet the garden shed to any neighbour who agrees to keep\n"
        "It locked at night and to return the key on request. Rent is due monthly.\n"
        "Late payment carries a fee of five percent of the amount owed to the\n"
        "Landlord, payable with the next instalment."
    )
    assert _sentences(text) == [
        "The tenant may sublet the garden shed to any neighbour who agrees to keep\n"
        "It locked at night and to return the key on request.",
        "Rent is due monthly.",
        "Late payment carries a fee of five percent of the amount owed to the\n"
        "Landlord, payable with the next instalment.",
    ]


def test_split_keeps_headings_and_list_items_apart_from_wrapped_text() -> None:
    text = (
        "GARDEN SHED AGREEMENT\n"
        "Terms of use\n"
        "The shed is shared by every household on the street and nobody owns\n"
        "Its contents outright:\n"
        "1. Tools go back on the hooks\n"
        "2. Seeds stay in the tin\n"
        "- Bikes are not stored inside\n"
        "# Keys\n"
        "The spare key hangs by the door."
    )
    assert _sentences(text) == [
        "GARDEN SHED AGREEMENT",
        "Terms of use",
        "The shed is shared by every household on the street and nobody owns\nIts contents outright:",
        "1. Tools go back on the hooks",
        "2. Seeds stay in the tin",
        "- Bikes are not stored inside",
        "# Keys",
        "The spare key hangs by the door.",
    ]


def test_split_joins_a_paragraph_set_in_capitals() -> None:
    # A disclaimer in capitals wraps like prose; a short capitals line is still a heading.
    text = (
        "NO WARRANTY\n"
        "THE SHED AND ITS TOOLS ARE LENT AS THEY ARE, AND ANY PROMISE THAT THEY\n"
        "WORK OR SUIT A PURPOSE IS DISCLAIMED. IN NO CASE IS THE OWNER LIABLE\n"
        "FOR A BROKEN RAKE.\n"
    )
    assert _sentences(text) == [
        "NO WARRANTY",
        "THE SHED AND ITS TOOLS ARE LENT AS THEY ARE, AND ANY PROMISE THAT THEY\nWORK OR SUIT A PURPOSE IS DISCLAIMED.",
        "IN NO CASE IS THE OWNER LIABLE\nFOR A BROKEN RAKE.",
    ]


def test_split_keeps_a_version_abbreviation_inside_its_sentence() -> None:
    text = "This form is subject to the Shed Licence, v. 2.0. A copy hangs on the door."
    assert _sentences(text) == ["This form is subject to the Shed Licence, v. 2.0.", "A copy hangs on the door."]


def test_split_keeps_a_blank_line_before_a_capital_as_a_boundary() -> None:
    text = "A caption under the picture of the harbour at dawn\n\nThe boats left early."
    assert _sentences(text) == ["A caption under the picture of the harbour at dawn", "The boats left early."]


def test_wrapped_spans_are_exact_slices() -> None:
    text = "  First line of a long wrapped clause that keeps going on and\n   On to the end.  \n"
    for a, b in split_sentences(text):
        assert text[a:b] == text[a:b].strip()
    assert _sentences(text) == ["First line of a long wrapped clause that keeps going on and\n   On to the end."]


def test_stem_groups_inflections() -> None:
    assert {stem(w) for w in ("oppose", "opposes", "opposed", "opposing")} == {"oppos"}
    assert stem("apostates") == stem("apostate")


def test_content_words_drop_stopwords() -> None:
    assert content_words("Why does the Taliban oppose it?") == ["taliban", "oppos"]


@pytest.mark.parametrize(
    "variant",
    ["ISKP", "ISIS-K", "IS-K", "ISIS-Khorasan", "Islamic State Khorasan Province", "Islamic State-Khorasan province",
     "Daesh-Khorasan", "ISIS K", "Islamic State in Khorasan"],
)  # fmt: skip
def test_every_iskp_variant_is_one_entity(variant: str) -> None:
    assert load_aliases().entities(f"Why does {variant} fight?") == ["iskp"]


def test_is_matches_only_in_upper_case() -> None:
    al = load_aliases()
    assert al.entities("What is IS doing?") == ["isis"]
    assert al.entities("What is it doing?") == []
    assert al.entities("Daesh and ISIL and the Islamic State") == ["isis"]


@pytest.mark.parametrize(
    "variant",
    ["ISIS\u2013K", "ISIS\u2011K", "IS\u2013K", "Islamic State\u2013Khorasan Province",
     "Islamic State\u2019s Khorasan Province", "ISIS-K\u2019s"],
)  # fmt: skip
def test_a_variant_typed_with_an_en_dash_or_curly_apostrophe_is_the_same_entity(variant: str) -> None:
    al = load_aliases()
    assert al.entities(f"Why does {variant} fight?") == ["iskp"]
    assert "iskp" in lexical_tokens(f"Why does {variant} fight?", al)


def test_a_clause_dash_does_not_join_names() -> None:
    al = load_aliases()
    assert al.entities("ISIS\u2014Khorasan aside\u2014") == ["isis"]  # an em dash sets off a clause
    assert al.entities("Da\u2019esh fighters") == ["isis"]


def test_answer_sentence_filter() -> None:
    assert not is_answer_sentence("Why is ISIS-K so hostile to the Taliban?")
    assert not is_answer_sentence("Constant fighting")
    assert is_answer_sentence("ISIS-K views the Taliban as apostates turning their backs on jihad.")


def test_unwrap_markdown_links() -> None:
    assert unwrap_markup("[U.S. officials confirmed](#) that [x](https://a.b/c)") == "U.S. officials confirmed that x"


def test_cleaning_takes_a_box_of_asterisks_off_its_text() -> None:
    raw = (
        "Terms\n\n"
        "************************************************\n"
        "*                                              *\n"
        "*  The shed is lent as it is. The entire risk  *\n"
        "*  of using its tools is with You.             *\n"
        "************************************************\n\n"
        "* a list item stays\n* and so does this one *\n"
    )
    text = clean_text(raw).text
    assert "The shed is lent as it is. The entire risk\nof using its tools is with You." in text
    assert _sentences(text)[1:3] == ["The shed is lent as it is.", "The entire risk\nof using its tools is with You."]
    # Two framed-looking lines are not a box.
    assert "* a list item stays\n* and so does this one *" in text


def test_cleaning_removes_boilerplate_lines() -> None:
    raw = (
        "Skip to content\n\nTitle here\n\nA real sentence about the Taliban and ISIS that is long enough to count.\n\n"
        "Leave a Reply\nMost Viewed\nad a b\nطباعة\n"
    )
    cleaned = clean_text(raw)
    assert "Skip to content" not in cleaned.text and "Leave a Reply" not in cleaned.text
    assert "A real sentence about the Taliban" in cleaned.text
    assert {r.rule for r in cleaned.removed} >= {"skip-link", "comments", "related-links", "ad-marker", "share-print"}


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name)
def test_cleaning_never_drops_an_article_sentence(path: object) -> None:
    raw = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    cleaned = clean_text(raw)
    body = " ".join(cleaned.text.split())
    for line in unwrap_markup(raw).splitlines():
        line = " ".join(line.split())
        # Every line that reads like prose (≥ 8 words ending in punctuation) survives.
        if len(line.split()) >= 8 and re.search(r"[.!?\"”]$", line):
            assert line in body, f"cleaning dropped: {line[:80]}"
    removed = {r.text for r in cleaned.removed}
    assert all(len(t.split()) <= 20 for t in removed)


def test_a_long_question_is_cut_at_a_word_boundary() -> None:
    question = ("Why does ISKP oppose the Taliban? " * 600)[:20_000]
    assert question[:2_000].endswith("oppose the Tal")  # the hard cut ends mid-word
    kept = clip_words(question, 2_000)
    assert kept == question[:1_996] and kept.endswith("oppose the")  # the last word kept is whole
    assert clip_words("a" * 50, 10) == "a" * 10  # no whitespace: the hard cut
    assert clip_words("   " + "a" * 50, 10) == "   " + "a" * 7
    assert clip_words("ten words!", 10) == "ten words!"
    assert clip_words("ten words! more", 10) == "ten words!"  # the boundary right at the limit
    assert clip_words("one  two", 5) == "one"


def test_irregular_past_forms_stem_with_their_verb() -> None:
    assert stem("fought") == stem("fighting") == stem("fights")
    assert stem("took") == stem("taking") == stem("takes")
    assert stem("written") == stem("writing") == stem("wrote")
    assert stem("led") == stem("leading")
    # Forms that are other words too keep their own stem.
    assert stem("found") == stem("founded") != stem("finding")
    assert stem("born") == "born"


def test_british_spellings_stem_with_the_american_ones() -> None:
    assert stem("licence") == stem("license") == stem("licenses")
    assert stem("organisation") == stem("organization")
    assert stem("organisations") == stem("organizations")
    assert stem("harbour") == stem("harbor")
    assert stem("eastern") == stem("east")


def test_a_short_verb_ending_in_e_stems_with_its_inflections() -> None:
    # "flee" and "take" are four letters: their final e goes as it does from "fleeing" and "takes".
    assert stem("flee") == stem("fled") == stem("flees") == stem("fleeing")
    assert stem("take") == stem("takes") == stem("took")
    assert stem("rule") == stem("ruled") == stem("rules")
