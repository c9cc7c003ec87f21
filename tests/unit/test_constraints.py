"""The constraints a question puts on its evidence (rag/verify/constraints.py)."""

from __future__ import annotations

import pytest

from rag.retrieve.aliases import load_aliases
from rag.verify.constraints import (
    answer_type,
    extract,
    has_answer_type,
    numbers,
    rare_unseen_word,
    statement_names,
    title_acronym,
    verb_head,
    years,
)

ALIASES = load_aliases()
# Document frequencies of a small imaginary corpus of 100 chunks.
DF = {"taliban": 90, "jennifer": 1, "cafarella": 1, "nathan": 1, "sale": 1, "haqqani": 3, "copper": 40, "owl": 40}


def df(term: str) -> int:
    return DF.get(term, 0)


def test_numbers_and_years() -> None:
    assert numbers("2,200 members, 50% of shares, Version 2.0, in 2024.") == {"2200", "50", "2.0", "2024"}
    assert numbers("CC0 and IS-K") == frozenset()
    assert years("from 1996 to 2001, 2,200 fighters, 11 March 1996") == {"1996", "2001"}


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the Taliban first emerge?", "date"),
        ("In what year was it signed?", "date"),
        ("How many ISKP members are active?", "number"),
        ("How much mineral wealth is there?", "amount"),
        ("How tall is Brannock Hill?", "amount"),
        ("What is the population of Castemar?", "number"),
        ("Who is Jennifer Cafarella?", "person"),
        ("Where was copper owl number 1234 seen?", "place"),
        ("Why does ISKP oppose the Taliban?", None),
    ],
)
def test_answer_type(question: str, kind: str | None) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "verb"),
    [
        ("When was lactase discovered?", "discovered"),
        ("When did the bridge open?", "open"),
        ("How much did the Ostrava Footbridge cost?", "cost"),
        ("Where was the treaty signed?", "signed"),
        ("When was the last election?", None),  # no verb after the subject
        ("Where is the museum?", None),
        ("When was the city founded by Romans?", None),  # the last word is not the verb
        ("When did the team win the Cup?", None),  # nor here: a capitalised last word is a name
        ("Why did the Taliban split?", None),  # "why" wants no typed answer
    ],
)
def test_verb_head_is_the_last_word_after_auxiliary_and_subject(question: str, verb: str | None) -> None:
    assert verb_head(question) == verb


def test_the_sentence_before_may_give_the_year_but_not_other_numbers() -> None:
    c = extract("How much did the 2016 repairs cost?", ALIASES, df)
    assert not c.numbers_ok("The repairs cost 1.3 million euros.")
    assert c.numbers_ok("The repairs cost 1.3 million euros.", dated_by="In 2016 the city closed the bridge.")
    owl = extract("Where was copper owl number 1234 seen?", ALIASES, df)
    assert not owl.numbers_ok("It was seen near Herat.", dated_by="Note 1234: a copper owl was counted.")


def test_ordinals_are_numbers_and_2nd_is_not_2() -> None:
    assert numbers("the second harbour master") == {"2nd"}
    assert numbers("the 2nd term and the 3rd, 2 of them") == {"2nd", "3rd", "2"}
    assert numbers("the first harbour master") == frozenset()  # "first" is not required of evidence
    assert numbers("20 seconds") == {"20"}


def test_a_year_is_not_an_amount() -> None:
    assert not has_answer_type("In 2019 the port opened a second terminal.", "amount")
    assert has_answer_type("The terminal cost 40 million pounds in 2019.", "amount")
    assert has_answer_type("In 2019 it cost millions.", "amount")
    assert has_answer_type("In 2019 the port opened a second terminal.", "number")


def test_who_needs_a_name_the_question_does_not_hold() -> None:
    from rag.text import stem
    from rag.verify.constraints import TypedAnswer, asked_names

    built = TypedAnswer("person", (stem("built"),), ALIASES, asked_names=asked_names("Who built the Kestrel?", ALIASES))
    assert not built.held_by("The Kestrel was built in 1910.")
    assert built.held_by("Anna Berg built the Kestrel in 1910.")
    # A variant of the question's entity is the question's own name; another entity is an answer.
    fought = TypedAnswer("person", (stem("fought"),), ALIASES, asked_names=asked_names("Who fought ISKP?", ALIASES))
    assert not fought.held_by("ISIS-K fought for years.")
    assert fought.held_by("The Taliban fought ISIS-K for years.")
    # "Who is X?" asks who X is: any sentence about X may answer it.
    who = TypedAnswer("person", (), ALIASES, asked_names=asked_names("Who is Ruth Calder?", ALIASES))
    assert who.held_by("The association's chair, Ruth Calder, spoke.")


def test_has_answer_type() -> None:
    assert has_answer_type("It was founded in January 2015.", "date")
    assert not has_answer_type("It was founded long ago by students.", "date")
    assert has_answer_type("Dozens of people were killed.", "number")
    assert has_answer_type("it is led by Mullah Omar.", "person")
    assert has_answer_type("The owl was seen near Jalalabad.", "place")
    assert has_answer_type("anything", None)


def test_question_constraints() -> None:
    c = extract("How many Taliban fighters were killed by ISKP in 2024?", ALIASES, df)
    assert c.numbers == {"2024"} and c.years == {"2024"}
    assert c.entities == ("iskp",)  # a name variant is an entity, not a name to spell out
    assert [n.words for n in c.names] == [("taliban",)]
    assert not c.unknown_names()
    assert c.answer_type == "number"


def test_unknown_name_is_flagged() -> None:
    c = extract("What did Sirajuddin Haqqani say about ISIS-K?", ALIASES, df)
    assert [n.words for n in c.unknown_names()] == [("sirajuddin", "haqqani")]
    assert not extract("What does the BSD license say?", ALIASES, df).unknown_names(["Copyright (c) bsd.txt"])


def test_question_words_and_possessives_are_not_names() -> None:
    c = extract("Does the Apache License grant the Licensor's trademarks?", ALIASES, df)
    assert [n.words for n in c.names] == [("apache", "license"), ("licensor",)]


def test_numbers_must_be_in_the_sentence() -> None:
    c = extract("Where was copper owl number 1234 seen?", ALIASES, df)
    assert c.numbers_ok("Note 1234: the copper owl number 1234 was seen near Herat.")
    assert not c.numbers_ok("Note 233: the copper owl number 233 was seen near Jalalabad.")
    assert not c.numbers_ok("the copper owl number 12345 was seen near Kabul.")
    assert extract("When was Version 2.0 published?", ALIASES, df).numbers_ok("January 2004", "Apache License 2.0")


def test_years_conflict() -> None:
    c = extract("How many Taliban fighters were killed by ISKP in 2024?", ALIASES, df)
    assert c.years_conflict("Several senior Taliban officials were killed in March 2023.")
    assert not c.years_conflict("Taliban officials were killed.")  # no year: no conflict
    assert not extract("Why?", ALIASES, df).years_conflict("in 2023")


def test_rare_names_need_the_context() -> None:
    c = extract("Who is Jennifer Cafarella and what did she predict?", ALIASES, df)
    (name,) = c.names
    assert name.rare(100, 0.05)
    assert name.exact_in("Jennifer Cafarella, a researcher at the Institute for the Study of War")
    assert not name.exact_in("Jennifer Smith and Ann Cafarella")
    assert c.names_ok({"jennifer", "cafarella", "researcher"}, "", 100, 0.05)
    assert not c.names_ok({"researcher", "institute"}, "", 100, 0.05)
    # A possessive in the chunk's terms ("Cafarella's", stemmed with its apostrophe) still names her.
    assert c.names_ok({"jennifer", "cafarella's"}, "", 100, 0.05)
    assert c.names_ok({"jennifer", "cafarella’"}, "", 100, 0.05)
    assert not c.names_ok({"jennifer", "cafarellas"}, "", 100, 0.05)
    common = extract("Why does the Taliban fight?", ALIASES, df)
    assert common.names_ok({"fight"}, "", 100, 0.05)  # 'Taliban' is in 90 of 100 chunks: not rare


def test_a_title_and_its_initials_count_as_context() -> None:
    assert title_acronym("Mozilla Public License Version 2.0") == "mplv"
    c = extract("What is a Larger Work under the MPL?", ALIASES, lambda t: 1)
    assert c.names_ok({"larger", "work"}, "Mozilla Public License Version 2.0", 100, 0.05)
    assert not c.names_ok({"larger", "work"}, "Apache License", 100, 0.05)


def test_statement_names_skip_a_lone_sentence_initial_word() -> None:
    assert statement_names("However, Biden told the Taliban that Jennifer Cafarella was wrong.", ALIASES) == [
        ("biden",),
        ("taliban",),
        ("jennifer", "cafarella"),
    ]
    assert statement_names("Jennifer Cafarella predicted attacks.", ALIASES) == [("jennifer", "cafarella")]
    assert statement_names("ISIS-K views the Taliban as apostates.", ALIASES) == [("taliban",)]


def test_predicate_terms_leave_out_names_entities_and_framing_words() -> None:
    from rag.text import content_words, stem
    from rag.verify.constraints import predicate_terms

    aliases = load_aliases()
    question = "What did Mullah Omar say about who founded the Haqqani network?"
    cons = extract(question, aliases, lambda _t: 1)
    tokens = ["mullah", "omar", "say", "found", "haqqani", "network"]
    assert predicate_terms(tokens, cons, frozenset()) == ("found", "network")
    assert predicate_terms(["iskp", "member"], cons, frozenset({"iskp"})) == ("member",)
    # An aspectual verb asks when its subject's event began, not for the verb: "fighting since 2015" answers.
    start = extract("When did the fighting start?", aliases, lambda _t: 1)
    assert predicate_terms(content_words("When did the fighting start?"), start, frozenset()) == (stem("fighting"),)


def test_predicate_coverage_is_idf_weighted_and_matches_word_forms() -> None:
    from rag.verify.constraints import predicate_coverage

    idf = {"found": 3.0, "network": 1.0}.__getitem__
    assert predicate_coverage(("found", "network"), frozenset({"founding", "group"}), idf) == 0.75
    assert predicate_coverage(("found", "network"), frozenset({"group"}), idf) == 0.0
    assert predicate_coverage((), frozenset(), idf) == 1.0


def test_holds_predicate_needs_one_predicate_term_in_any_word_form() -> None:
    from rag.verify.constraints import holds_predicate

    assert holds_predicate(("born", "year"), frozenset({"born", "kabul"}))
    assert holds_predicate(("found",), frozenset({"founding"}))
    assert not holds_predicate(("born",), frozenset({"led", "1996"}))
    # A question with no predicate beyond its names asks nothing more of the sentence.
    assert holds_predicate((), frozenset())


def test_a_when_question_dates_its_document_only_when_it_asks_when_it_came_out() -> None:
    from rag.text import stem
    from rag.verify.constraints import TypedAnswer

    aliases = load_aliases()
    assert TypedAnswer("date", (stem("issued"),), aliases).dates_document
    assert TypedAnswer("date", (stem("published"),), aliases).dates_document
    assert not TypedAnswer("date", (stem("signed"),), aliases).dates_document
    assert not TypedAnswer("date", (stem("issued"), stem("fine")), aliases).dates_document
    assert not TypedAnswer("date", (), aliases).dates_document
    assert not TypedAnswer("place", (stem("issued"),), aliases).dates_document


def test_where_someone_works_is_answered_by_an_affiliation_that_never_says_work() -> None:
    from rag.text import stem
    from rag.verify.constraints import TypedAnswer

    aliases = load_aliases()
    works = TypedAnswer("place", (stem("works"),), aliases)
    assert works.asks_employer
    assert works.held_by("Ana Ruiz, a chemist at the Valdora Institute, said the test failed.")
    assert works.held_by("According to Dr Ana Ruiz of the Valdora Institute, the test failed.")
    assert works.held_by("The institute's chief chemist, Ana Ruiz, said the test failed.")
    assert not works.held_by("Ana Ruiz said the test failed.")  # no affiliation
    # Any other "where" question still needs a place and its predicate term.
    lives = TypedAnswer("place", (stem("lives"),), aliases)
    assert not lives.asks_employer
    assert not lives.held_by("According to Dr Ana Ruiz of the Valdora Institute, the test failed.")
    assert not TypedAnswer("place", (stem("works"), stem("old")), aliases).asks_employer


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("How many drones does the Taliban air force own?", ("dron",)),
        ("How many ISKP fighters were killed in 2021?", ("fighter",)),
        ("How many days after the notice must you comply?", ("day",)),
        ("How much does it cost?", ()),
        ("What is the population of Kabul?", ()),
    ],
)
def test_counted_terms_are_what_a_how_many_question_counts(question: str, counted: tuple[str, ...]) -> None:
    from rag.verify.constraints import counted_terms

    assert counted_terms(question) == counted


def test_a_count_must_count_what_is_asked() -> None:
    from rag.verify.constraints import has_count

    assert has_count("An estimated 4,000 members remain.", ("member",))
    assert has_count("The attack killed dozens of people.", ("peopl",))
    assert has_count("The alarming sight of 5,000 escaped prisoners.", ("prisoner",))
    assert has_count("Seventeen ferries sail in summer.", ("ferry",))
    # A year is not a count, and a number of something else does not count drones.
    assert not has_count("He was killed in a drone strike in 2022.", ("dron",))
    assert not has_count("In 2022 drone strikes resumed.", ("dron",))
    assert not has_count("The 5,000 escaped prisoners fled.", ("dron",))
    # The count comes before what it counts, at most three words before it.
    assert not has_count("Drones were seen 12 times.", ("dron",))


def test_a_how_many_answer_holds_a_count_of_what_is_asked() -> None:
    from rag.text import stem
    from rag.verify.constraints import TypedAnswer

    rule = TypedAnswer("number", (stem("drones"), stem("own")), load_aliases(), (stem("drones"),))
    assert rule.held_by("The air force owns 12 drones.")
    assert not rule.held_by("The air force lost a drone in 2022, and 5,000 soldiers left.")


# Piece counts of an imaginary tokenizer, and the terms of an imaginary corpus.
PIECES = {"cryptocurrency": 5, "afraid": 1, "router": 2, "decarbonised": 4}
TERMS = ("decarboniz", "harbour", "taliban")


def test_a_rare_lower_case_word_no_corpus_term_holds_is_a_name_the_documents_lack() -> None:
    unseen = rare_unseen_word(
        lambda prefix: any(t.startswith(prefix) for t in TERMS), lambda ws: [PIECES.get(w, 1) for w in ws]
    )
    cons = extract("How does ISKP raise money with cryptocurrency?", ALIASES, df, unseen)
    assert [n.words for n in cons.unknown_names()] == [("cryptocurrency",)]
    # Common words (one or two pieces) and a rare word the corpus holds in another form are not.
    for q in ("Why is the Taliban afraid of routers?", "When was the harbour decarbonised?"):
        assert extract(q, ALIASES, df, unseen).unknown_names() == [], q
    # Without the test, lower-case words never count as names.
    assert extract("How does ISKP raise money with cryptocurrency?", ALIASES, df).unknown_names() == []
