"""What a question demands of its evidence: its numbers, its rare names and the type of its answer.

A similarity score cannot tell "killed in 2023" from "killed in 2024", or "Nathan Sales" from any
other official. These checks can, and both the extractive answerer and the support judge use them:

* **numbers** written in digits ("2024", "2,200", "2.0", "50%") must appear in the sentence itself
  (or in its document's title, which names versions such as "Version 2.0");
* **names**: runs of capitalised words in the question, after name variants are folded to one
  canonical entity (``rag/data/aliases.json``). A name word the corpus never contains makes the
  question unanswerable from it; a *rare* name (few chunks contain it) must appear in the
  sentence, its chunk, or its document's title (or the title's initials: "MPL");
* **answer type**: "when" wants a date or year, "how many" a number, "how much/tall/…" an amount
  that is not a year, "who" a person or
  organisation (a capitalised name), "where" a place (a capitalised name or a place word; where
  someone works, an affiliation: "X, a researcher at the Institute …", "X of the Foundation"). At
  least one chosen sentence must carry it, together with a term of what the question asks
  (:class:`TypedAnswer`: a date in a sentence that never mentions a birth does not answer "When was X born?").

This module knows nothing of retrieval or answering; it works on plain strings and document
frequencies, so the answerer and the judge apply exactly the same rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from rag.retrieve.aliases import Aliases
from rag.retrieve.lexical import lexical_tokens
from rag.text import STOPWORDS, stem, words

__all__ = [
    "Constraints",
    "Name",
    "TypedAnswer",
    "about_words",
    "answer_type",
    "asked_names",
    "bare",
    "counted_terms",
    "extract",
    "has_answer_type",
    "has_count",
    "holds_predicate",
    "numbers",
    "predicate_coverage",
    "predicate_terms",
    "rare_unseen_word",
    "statement_names",
    "title_acronym",
    "verb_head",
    "years",
]

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"(?<![\w.])(?<!\d,)(1[5-9]\d\d|20\d\d)(?!\w|[.,]\d)")
# A capitalised word, optionally behind an Arabic/Dutch-style particle ("al-Baghdadi", "bin Laden").
_CAP_WORD = re.compile(r"(?:\b(?:al|el|bin|ibn|van|von|de)[-\s])?[A-Z][\w'’.-]*\w|[A-Z]")
_QUESTION_WORDS = frozenset(
    {"who", "whom", "whose", "what", "which", "when", "where", "why", "how", "did", "does", "do", "is", "are",
     "was", "were", "can", "could", "may", "might", "must", "should", "would", "will", "has", "have", "had",
     "in", "on", "at", "and", "or", "but", "under", "according", "roughly", "approximately", "since", "for"}
)  # fmt: skip
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# "When" asks for a date, or (in rules and contracts) for a condition or moment: "as of the date …",
# "if You institute …", "after 60 days".
_DATE = re.compile(rf"\b(1[5-9]\d\d|20\d\d|{_MONTHS}|\d{{1,2}}(st|nd|rd|th)|(mon|tues|wednes|thurs|fri|satur|sun)day|"
                   r"decades?|centur(y|ies)|years? ago|yesterday|today|dates?|days?|if|when|once|until|after|before|"
                   r"upon|unless|provided|prior to|within|during|since)\b", re.I)  # fmt: skip
_QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|"
    r"dozen|dozens|several|many|few|no|none|half|percent|all)\b",
    re.I,
)
_PLACE = re.compile(
    r"\b(in|at|near|from|to)\s+(the\s+)?[A-Z]|\b(province|city|country|capital|border|region|district|"
    r"court|courts|jurisdiction|place|site|location|file|directory|address)\b"
)
_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("date", re.compile(r"^\s*(when|what (year|date|month|day)|in (what|which) (year|month)|since when)\b", re.I)),
    # An amount or a measure ("How much did it cost?", "How tall is the hill?"): a year is neither.
    ("amount", re.compile(r"^\s*how (much|tall|high|deep|wide|heavy)\b", re.I)),
    (
        "number",
        re.compile(
            r"^\s*(how (many|long|old|large|big)|what (percentage|share|number|proportion))\b|"
            r"\bpopulation\b",
            re.I,
        ),
    ),
    ("person", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
    ("place", re.compile(r"^\s*where\b", re.I)),
]


# "The second harbour master" is not "the first": an ordinal is a number the evidence must hold.
# ("first" is left out: "when did X first …" is answered by the earliest date, in any words.)
_ORDINALS = {
    w: f"{i}{'nd' if i == 2 else 'rd' if i == 3 else 'th'}"
    for i, w in enumerate(("second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"), 2)
}
_ORDINAL = re.compile(
    r"\b(second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|(?:[2-9]|10)(?:nd|rd|th))\b", re.I
)


# Pure functions of a sentence, asked again for the same retrieved sentences on every question.
_SENTENCE_MEMO = 1 << 15


@functools.lru_cache(maxsize=_SENTENCE_MEMO)
def numbers(text: str) -> frozenset[str]:
    """Numbers written in digits, thousands separators dropped ("2,200" → "2200", "2.0" stays), and
    ordinals from second to tenth in words or digits ("second" and "2nd" → "2nd")."""
    ordinals = {_ORDINALS.get(m.group(1).lower(), m.group(1).lower()) for m in _ORDINAL.finditer(text)}
    # "2nd" is one ordinal, not the number 2 as well.
    plain = _ORDINAL.sub(" ", text) if ordinals else text
    return frozenset({m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(plain)} | ordinals)


@functools.lru_cache(maxsize=_SENTENCE_MEMO)
def years(text: str) -> frozenset[str]:
    """Four-digit years (1500–2099) in ``text``."""
    return frozenset(m.group(1) for m in _YEAR.finditer(text))


def answer_type(question: str) -> str | None:
    """'date', 'number', 'person', 'place', or None for questions whose answer has no fixed type."""
    return next((name for name, pattern in _TYPES if pattern.search(question)), None)


@functools.lru_cache(maxsize=_SENTENCE_MEMO)
def has_answer_type(sentence: str, kind: str | None) -> bool:
    """Does ``sentence`` carry an answer of this type (a date, a quantity, a name, a place)?"""
    if kind is None:
        return True
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "number":
        return bool(_QUANTITY.search(sentence))
    if kind == "amount":
        return bool(_QUANTITY.search(_YEAR.sub(" ", sentence)))
    if kind == "person":
        return bool(_names_in(sentence, skip_first=False))
    return bool(_PLACE.search(sentence))


# "How many drones …": the words counted, up to the first function word ("does", "of", "in" …).
_HOW_MANY = re.compile(r"^\s*how many\s+([^?,;]*)", re.I)
# A count in a sentence: digits (not a year) or a number word, before the thing counted.
_COUNT = re.compile(
    r"(?<![\w.])(?!(?:1[5-9]\d\d|20\d\d)(?![\d,]))\d[\d,.]*|\b(one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|half)\b",
    re.I,
)
# At most this many words between a count and the word it counts ("5,000 escaped prisoners", "dozens of people").
_COUNT_GAP = 3


def counted_terms(question: str) -> tuple[str, ...]:
    """The stems of what a "how many" question counts ("How many ISKP fighters were killed?" → fighter);
    names are left out, since a count is of things, not of the name that owns them."""
    m = _HOW_MANY.match(question)
    if not m:
        return ()
    out: list[str] = []
    for raw in m.group(1).split():
        w = raw.strip("\"'’()").lower()
        if not w or w in STOPWORDS or w in _QUESTION_WORDS:
            break
        if raw[:1].isupper():
            continue
        out.append(stem(w))
    return tuple(out)


@functools.lru_cache(maxsize=_SENTENCE_MEMO)
def has_count(sentence: str, counted: tuple[str, ...]) -> bool:
    """``sentence`` gives a count of one of ``counted`` (a number at most ``_COUNT_GAP`` words before it)."""
    for m in _COUNT.finditer(sentence):
        after = words(sentence[m.end() :])[: _COUNT_GAP + 1]
        if any(_term_in(c, frozenset({stem(w)})) for w in after for c in counted):
            return True
    return False


def title_acronym(title: str) -> str:
    """Initials of a title's capitalised words ("Mozilla Public License Version 2.0" → "mplv")."""
    return "".join(w[0] for w in re.findall(r"[A-Z][\w'-]*", title)).lower()


def _names_in(text: str, *, skip_first: bool) -> list[tuple[str, ...]]:
    """Runs of capitalised words (each a tuple of lower-cased words), question words and the
    sentence-initial word left out."""
    out: list[tuple[str, ...]] = []
    run: list[str] = []
    last_end = -1
    for m in _CAP_WORD.finditer(text):
        word = re.sub(r"['’]s$", "", m.group())
        low = word.lower().strip("'’.")
        first = text[: m.start()].strip() == ""
        skip = (first and (skip_first or low in STOPWORDS)) or low in _QUESTION_WORDS or low in STOPWORDS
        gap = text[last_end : m.start()] if last_end >= 0 else ""
        joined = run and gap in (" ", "-", " of ", " the ", " of the ", " for ", " for the ")
        if skip:
            if run:
                out.append(tuple(run))
            run = []
        elif joined:
            run.extend(words(word))
        else:
            if run:
                out.append(tuple(run))
            run = list(words(word))
        last_end = m.end()
    if run:
        out.append(tuple(run))
    return [r for r in out if r]


def statement_names(text: str, aliases: Aliases) -> list[tuple[str, ...]]:
    """The names a statement asserts (variants folded), for the support judge: the sentence-initial
    word only counts when it begins a run of two or more capitalised words ("Jennifer Cafarella …")."""
    masked = _mask_aliases(text, aliases)
    runs = _names_in(masked, skip_first=False)
    first = _CAP_WORD.match(masked.lstrip())
    if first and runs and len(runs[0]) == 1 and first.group().lower() == runs[0][0]:
        runs = runs[1:]
    return runs


def _mask_aliases(text: str, aliases: Aliases) -> str:
    """``text`` with every name variant blanked out (variants are matched as entities instead)."""
    out = list(text)
    for a, b, _ in aliases.find(text):
        out[a:b] = " " * (b - a)
    return "".join(out)


@dataclass(frozen=True)
class Name:
    """A name from the question: its words (stemmed, lower case), how many chunks hold each word."""

    words: tuple[str, ...]
    stems: tuple[str, ...]
    df: tuple[int, ...]

    @property
    def unknown(self) -> bool:
        """Some word of the name occurs nowhere in the corpus."""
        return any(d == 0 for d in self.df)

    def rare(self, n_chunks: int, share: float) -> bool:
        """The name's rarest word is held by at most ``share`` of the chunks."""
        return min(self.df, default=n_chunks) <= max(1.0, share * n_chunks)

    def in_text(self, text_words: Iterable[str]) -> bool:
        """All of the name's words occur in the text (given as its stemmed content words)."""
        if isinstance(text_words, AbstractSet):  # probed as it is, not stripped word by word
            return all(_holds(text_words, s) for s in self.stems)
        have = {bare(t) for t in text_words}
        return all(s in have for s in self.stems)

    def exact_in(self, text: str) -> bool:
        """The name occurs verbatim, as a run of whole words (case aside)."""
        return _verbatim(self.words).search(text) is not None


@functools.lru_cache(maxsize=4096)
def _verbatim(name_words: tuple[str, ...]) -> re.Pattern[str]:
    """The pattern of a name's words as a run of whole words, spaces or hyphens between them."""
    pattern = r"[\s-]+".join(re.escape(w) for w in name_words)
    return re.compile(rf"(?<!\w){pattern}(?!\w)", re.I)


@dataclass(frozen=True)
class Constraints:
    """What a question requires of the sentences that answer it."""

    numbers: frozenset[str]
    years: frozenset[str]
    names: tuple[Name, ...]
    entities: tuple[str, ...]
    answer_type: str | None

    def unknown_names(self, about: Iterable[str] = ()) -> list[Name]:
        """Names with a word that neither the corpus text nor the documents' titles, file names and
        dates in ``about`` contain: nothing can answer for them."""
        known = set().union(*(about_words(a) for a in about)) if about else set()
        return [n for n in self.names if any(d == 0 and s not in known for s, d in zip(n.stems, n.df, strict=True))]

    def numbers_ok(self, sentence: str, about: str = "", dated_by: str = "") -> bool:
        """Every number of the question is in the sentence (or the document's title, file name or date);
        its years may also be in ``dated_by``, the sentence that dates this one."""
        return self.numbers <= (numbers(sentence) | numbers(about) | years(dated_by))

    def years_conflict(self, sentence: str) -> bool:
        """The question names years and the sentence dates itself to other years only."""
        ys = years(sentence)
        return bool(self.years and ys and not (ys & self.years))

    def names_ok(self, context_words: AbstractSet[str], about: str, n_chunks: int, share: float) -> bool:
        """Every rare word of the question's names is in the context (sentence and chunk), in ``about``
        (the document's title, file name and date) or is the initials of ``about``'s title ("MPL")."""
        for n in self.names:
            for word, s, d in zip(n.words, n.stems, n.df, strict=True):
                if d > max(1.0, share * n_chunks) or _holds(context_words, s) or s in about_words(about):
                    continue
                if len(word) >= 2 and title_acronym(about).startswith(word):
                    continue
                return False
        return True


def _holds(terms: AbstractSet[str], stem_: str) -> bool:
    """``terms`` has ``stem_`` bare or with a possessive ending (what ``bare`` strips)."""
    return any(stem_ + end in terms for end in _POSSESSIVE_ENDS)


# Words that frame a question rather than say what it asks about ("What did X say about …",
# "What happened in …"): not part of its predicate.
_FRAMING = frozenset(
    stem(w)
    for w in (
        "happen", "happened", "say", "said", "mean", "means", "refer", "refers", "describe", "described", "do",
        "does", "did", "make", "made", "get", "according", "article", "articles", "document", "documents", "text",
        "name", "called", "call", "kind", "type", "way", "ways", "role",
        # Aspectual verbs: "When did that start?" asks when the event in its subject began, which a
        # sentence says as often with "since 2015" or "formed in 2015" as with the verb itself.
        "start", "started", "starts", "begin", "began", "begun", "begins", "commence", "commenced",
        "occur", "occurred",
    )
)  # fmt: skip


def predicate_terms(tokens: Iterable[str], cons: Constraints, entity_tokens: AbstractSet[str]) -> tuple[str, ...]:
    """The question's content terms beyond its names and entities ("founded", "born", "members"): what
    it asks *about* them, which the answering sentence should also hold."""
    names = {s for n in cons.names for s in n.stems}
    return tuple(t for t in dict.fromkeys(tokens) if t not in names and t not in entity_tokens and t not in _FRAMING)


# "When was lactase discovered?", "Where did the expedition end?": a question whose auxiliary is followed
# by its subject and then, last, its verb. The verb is what a typed answer must say; the subject's
# words alone ("lactase") are held by every sentence about it.
_SUBJECT_THEN_VERB = re.compile(
    r"^\s*(?:when|where|who|whom|how\s+(?:many|much|long|old|far|tall|high|deep|wide|heavy|big)(?:\s+\w+)?|"
    r"in\s+(?:which|what)\s+\w+|what\s+year)\s+"
    r"(?:was|were|is|are|did|does|do|has|have|had)\s+(?P<subject>[^?]+?)\s+(?P<verb>[a-z][a-z-]+)\s*\?*\s*$",
    re.I,
)
# After "was/is/has …" the last word is a verb only as a participle ("discovered", "built", "born").
_PARTICIPLE = re.compile(
    r"(?:ed|en|wn|lt|ught|ung|orn|ade|ound|eld|ost|old|ept)$|^(?:won|run|set|put|hit|led|met|paid|said|sent|spent)$"
)


def verb_head(question: str) -> str | None:
    """The last word of a question shaped auxiliary, subject, verb ("When was lactase discovered?" →
    "discovered"); None for other shapes or when that word is not a verb."""
    m = _SUBJECT_THEN_VERB.match(question)
    if m is None:
        return None
    verb = m.group("verb")
    if verb != verb.lower():
        return None
    aux = question[: m.start("subject")].split()[-1].lower()
    if aux in ("did", "does", "do") or _PARTICIPLE.search(verb):
        return verb
    return None


def _term_in(term: str, terms: AbstractSet[str]) -> bool:
    """``term`` is in ``terms``, or shares a prefix with one (found/founding, succeed/successor): the
    first five letters when both are that long, else the whole of a four-letter one."""
    if term in terms:
        return True
    if len(term) < 4:
        return False
    five, four, heads = _prefixes(terms if isinstance(terms, frozenset) else frozenset(terms))
    if len(term) == 4:
        return term in heads
    return term[:5] in five or term[:4] in four


@functools.lru_cache(maxsize=_SENTENCE_MEMO)
def _prefixes(terms: frozenset[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The five-letter prefixes of ``terms``, its four-letter terms, and the four-letter prefixes of all."""
    return (
        frozenset(u[:5] for u in terms if len(u) >= 5),
        frozenset(u for u in terms if len(u) == 4),
        frozenset(u[:4] for u in terms if len(u) >= 4),
    )


def holds_predicate(pred: Sequence[str], terms: AbstractSet[str]) -> bool:
    """``terms`` hold at least one of the predicate terms (trivially true when there are none)."""
    return not pred or any(_term_in(t, terms) for t in pred)


# What a "when" question asks when it asks when a document itself came out ("When was Version 2.0 of
# the Apache License issued?"): a document's front matter ("Version 2.0, January 2004") dates it.
_DOCUMENT_DATING = frozenset(
    stem(w) for w in ("issue", "issued", "publish", "published", "release", "released", "dated", "written")
)

# What a "where" question asks when it asks where someone works ("Where does Jennifer Cafarella work?"):
# an affiliation, which news writes as an apposition ("Cafarella, a researcher at the Institute …",
# "Dr Sajjan Gohel of the Asia-Pacific Foundation", "The railway's general manager, Priya Nandakumar")
# that never says "work".
_EMPLOYMENT = frozenset(stem(w) for w in ("work", "works", "worked", "working", "employed", "employ"))
_AFFILIATION = re.compile(r"\b(at|of|with|for)\s+(the\s+)?[A-Z]|\w['’]s\s+(?:[a-z-]+\s+){0,3}[a-z-]+,\s+[A-Z]")


@dataclass(frozen=True)
class TypedAnswer:
    """What a typed question ("When was X built?") asks of a sentence answering it: the kind of answer
    (a date, a number, a name, a place) together with one of the question's predicate terms ("built")."""

    kind: str
    predicate: tuple[str, ...]
    aliases: Aliases = field(compare=False, repr=False)
    #: What a "how many" question counts: a sentence answers it only with a count of that ("80,000 troops").
    counted: tuple[str, ...] = ()
    #: The question's own names (stemmed words and canonical entities): "Who built the locomotive
    #: Kestrel?" is not answered by a sentence whose only name is "Kestrel".
    asked_names: frozenset[str] = frozenset()

    @property
    def dates_document(self) -> bool:
        """The question asks when something was issued, published or released, and nothing more."""
        return self.kind == "date" and bool(self.predicate) and all(bare(t) in _DOCUMENT_DATING for t in self.predicate)

    @property
    def asks_employer(self) -> bool:
        """The question asks where someone works, and nothing more."""
        return self.kind == "place" and bool(self.predicate) and all(bare(t) in _EMPLOYMENT for t in self.predicate)

    def held_by(self, sentence: str, terms: AbstractSet[str] | None = None) -> bool:
        """``sentence`` carries the kind of answer and a predicate term (``terms``: its lexical tokens,
        computed when not given)."""
        if self.asks_employer and _AFFILIATION.search(sentence):
            return True
        if not has_answer_type(sentence, self.kind):
            return False
        if self.kind == "person" and self.predicate and self.asked_names and not self._names_another(sentence):
            return False
        if self.counted and not has_count(sentence, self.counted):
            return False
        if terms is None:
            terms = frozenset(lexical_tokens(sentence, self.aliases))
        return holds_predicate(self.predicate, terms)

    def _names_another(self, sentence: str) -> bool:
        """``sentence`` names someone or something the question does not (a "who" question that asks
        more than who someone is wants a name beyond its own)."""
        if any(c not in self.asked_names for c in self.aliases.entities(sentence)):
            return True
        runs = _names_in(_mask_aliases(sentence, self.aliases), skip_first=False)
        return any(bare(stem(w)) not in self.asked_names for run in runs for w in run)


def asked_names(question: str, aliases: Aliases) -> frozenset[str]:
    """The names a question holds, as :meth:`TypedAnswer._names_another` compares them: every word
    of its capitalised runs (stemmed) and its canonical entities."""
    runs = _names_in(_mask_aliases(question, aliases), skip_first=True)
    return frozenset({bare(stem(w)) for run in runs for w in run} | set(aliases.entities(question)))


def predicate_coverage(pred: Sequence[str], terms: AbstractSet[str], idf: Callable[[str], float]) -> float:
    """The idf-weighted share of the predicate terms held by ``terms`` (1 when there are none)."""
    total = sum(idf(t) for t in pred)
    if not pred or total <= 0:
        return 1.0
    return sum(idf(t) for t in pred if _term_in(t, terms)) / total


def bare(term: str) -> str:
    """A term without a possessive ending ("army's" and its stem "army'" → "army")."""
    # String tests, not a regular expression: it runs for every term of every retrieved sentence.
    if term.endswith(("'", "’")):
        return term[:-1]
    if term.endswith(("'s", "’s")):
        return term[:-2]
    return term


# The endings ``bare`` strips, so a set of raw terms can be probed without stripping each of them.
_POSSESSIVE_ENDS = ("", "'", "'s", "’", "’s")


@functools.lru_cache(maxsize=4096)
def about_words(about: str) -> frozenset[str]:
    """Stemmed words of a document's title, file name and date (with the parts of hyphenated words)."""
    out: set[str] = set()
    for w in words(re.sub(r"[_./]", " ", about)):
        if w in STOPWORDS:
            continue
        out.add(bare(stem(w)))
        out.update(bare(stem(p)) for p in w.split("-") if p)
    return frozenset(out)


# A lower-case question word the tokenizer splits into this many pieces is rare in the language, not
# only in the corpus ("cryptocurrency": 5; "afraid", "worries": 1). Dev questions separate at 2 to 5:
# every such word of an answerable dev question is one piece; 3 leaves two-piece compounds alone.
RARE_WORD_PIECES = 3
# A corpus term sharing all but the last three letters of the word's stem is the same word in another
# form ("redistributions" and "redistribute").
_FORM_SLACK = 3
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z]{5,}(?![\w'’-])")


def rare_unseen_word(
    has_prefix: Callable[[str], bool], count_tokens: Callable[[Sequence[str]], list[int]]
) -> Callable[[str], bool]:
    """The test that a lower-case word is rare in the language (``count_tokens``: the embedder's
    tokenizer) and in no form a corpus term (``has_prefix``: the lexical index)."""

    def test(word: str) -> bool:
        s = stem(word)
        return not has_prefix(s[: max(5, len(s) - _FORM_SLACK)]) and count_tokens([word])[0] >= RARE_WORD_PIECES

    return test


def extract(
    question: str, aliases: Aliases, df: Callable[[str], int], unseen: Callable[[str], bool] | None = None
) -> Constraints:
    """The constraints of ``question``; ``df`` gives the number of chunks holding a (stemmed) term,
    ``unseen`` tells a rare word the corpus never uses (without it, lower-case words are never names)."""
    masked = _mask_aliases(question, aliases)
    names = []
    for run in _names_in(masked, skip_first=True):
        content: list[str] = []
        for w in run:
            if w in STOPWORDS or w.isdigit():
                continue
            # "Artistic-licensed" is two words to the corpus unless it spells it that way itself.
            if "-" in w and df(stem(w)) == 0:
                content.extend(p for p in w.split("-") if p and p not in STOPWORDS)
            else:
                content.append(w)
        if not content:
            continue
        stems = tuple(stem(w) for w in content)
        names.append(Name(tuple(content), stems, tuple(df(s) for s in stems)))
    if unseen is not None:
        # A rare word that no chunk holds ("… raise money with cryptocurrency?") is the question's
        # subject as much as a name is: the documents that never use it cannot answer.
        for w in dict.fromkeys(_LOWER_WORD.findall(masked)):
            if w not in STOPWORDS and df(s := stem(w)) == 0 and unseen(w):
                names.append(Name((w,), (s,), (0,)))
    return Constraints(
        numbers=numbers(question),
        years=years(question),
        names=tuple(names),
        entities=tuple(aliases.entities(question)),
        answer_type=answer_type(question),
    )
