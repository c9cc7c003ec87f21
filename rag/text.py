"""Sentence splitting with character offsets, and the word tokenisation shared by BM25 and scoring."""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "clip_words",
    "content_words",
    "is_answer_sentence",
    "normalize_text",
    "split_sentences",
    "starts_sentence",
    "stem",
    "words",
]

# Abbreviations that end with a period but rarely end a sentence in news text.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "maj", "rep", "sen", "gov", "pres",
    "st", "jr", "sr", "no", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "u.n", "inc", "ltd", "co", "corp",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "fig", "v",
    "vol", "pp", "cf",
}  # fmt: skip

# A candidate boundary: terminal punctuation, optional closing quotes/brackets and footnote
# numbers ("… in 1994.[3] Next"), whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’»)\]]*(?:\[\d{1,3}\])*(?=\s)")
_ENDS_IN_MARKER = re.compile(r"\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s+$")
_OPENERS = "\"'“‘«([¿¡"


def starts_sentence(ch: str) -> bool:
    """True when ``ch`` can open a sentence (a capital, a digit, an opening quote or bracket)."""
    return ch.isupper() or ch.isdigit() or ch in _OPENERS or (not ch.isascii() and not ch.islower())


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences; returns (start, end) offsets, whitespace trimmed.

    Line and paragraph breaks end a sentence unless the text before stops mid-sentence (no
    terminal punctuation) and either the next line starts in lower case or it is a hard wrap
    (a single newline, not after a heading nor before a list item) — a break inside a sentence.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for p_start, p_end in _paragraphs(text, start, end):
        s = p_start
        for m in _BOUNDARY.finditer(text, p_start, p_end):
            cut = m.end()
            nxt = _next_non_space(text, cut, p_end)
            if nxt is None:
                break
            if not starts_sentence(text[nxt]):
                continue
            word = _last_word(text, s, m.start())
            if word.lower().rstrip(".") in _ABBREV or re.fullmatch(r"[A-Z]", word):
                continue
            # A list number, "1. Definitions" (in an answer, after the previous sentence's markers).
            before = text[s : m.start() - len(word)]
            if word.isdigit() and (not before.strip() or _ENDS_IN_MARKER.search(before)):
                continue
            spans.append((s, cut))
            s = nxt
        spans.append((s, p_end))
    return [_trim(text, a, b) for a, b in spans if text[a:b].strip()]


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    parts: list[tuple[int, int, bool]] = []  # (start, end, preceded by a single newline)
    pos, single = start, False
    for m in re.finditer(r"\n\s*\n|\n", text[start:end]):
        a, b = start + m.start(), start + m.end()
        if text[pos:a].strip():
            parts.append((pos, a, single))
        pos, single = b, m.group().count("\n") == 1
    if text[pos:end].strip():
        parts.append((pos, end, single))
    merged: list[tuple[int, int]] = []
    last_line = ""
    for a, b, after_newline in parts:
        a, b = _trim(text, a, b)
        line = text[a:b]
        if merged:
            pa, pb = merged[-1]
            prev = text[pa:pb].rstrip()
            open_sentence = bool(prev) and prev[-1] not in ".!?…:\"'”’»)]"
            # A hard-wrapped line (one newline, no blank line) continues the sentence unless
            # the line before is a heading or the new line starts a list item or heading.
            wrapped = (
                after_newline
                and not _starts_block(line)
                and (not _is_block_line(last_line) or _caps_wrap(last_line, line))
            )
            if open_sentence and (text[a].islower() or wrapped):
                merged[-1] = (pa, b)
                last_line = line
                continue
        merged.append((a, b))
        last_line = line
    return merged


# Lines that stand alone: list items ("-", "*", "•", "3.", "(a)"), markdown headings, quotes, tables.
_BLOCK_START = re.compile(r"(?:[-*+•▪◦>#|]|\d{1,3}[.)]|\(?[a-zA-Z0-9]{1,3}\))(?:\s|$)|#")
_HEADING_MAX = 40  # a wrapped prose line runs far longer than a heading or a title


def _starts_block(line: str) -> bool:
    return bool(_BLOCK_START.match(line))


def _is_block_line(line: str) -> bool:
    """Headings and titles: short, all capitals, or marked up as a heading or list item."""
    return len(line) < _HEADING_MAX or line.isupper() or _starts_block(line)


def _caps_wrap(last_line: str, line: str) -> bool:
    """A paragraph set in capitals (a licence's disclaimer) wraps like prose: a long capitals line
    followed by another capitals line is one sentence going on, not a heading."""
    return len(last_line) >= _HEADING_MAX and last_line.isupper() and line.isupper()


def _next_non_space(text: str, pos: int, end: int) -> int | None:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos if pos < end else None


def _last_word(text: str, start: int, pos: int) -> str:
    i = pos
    while i > start and not text[i - 1].isspace():
        i -= 1
    return text[i:pos]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    {
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "us",
        "s",
        "t",
        "said",
        "says",
        "say",
        "like",
        "get",
        "got",
        "one",
        "two",
        "many",
        "much",
        "may",
        "might",
        "must",
        "shall",
        "within",
        "without",
        "among",
        "upon",
        "via",
        "per",
        "whether",
        "tell",
        "explain",
        "describe",
        "happen",
        "happened",
    }
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (hyphenated names kept whole), accents folded."""
    folded = unicodedata.normalize("NFKC", text).replace("’", "'")
    return [w.lower() for w in _WORD.findall(folded)]


# Irregular past forms, so "fought" meets "fighting" and "took" meets "taking". Forms that are also
# other words are left out: "found" (to found), "left", "born", "saw", "rose", "felt", "wound", "lay".
_IRREGULAR = {
    "fought": "fight", "took": "take", "taken": "take", "began": "begin", "begun": "begin", "won": "win",
    "led": "lead", "held": "hold", "sold": "sell", "paid": "pay", "made": "make", "gave": "give",
    "given": "give", "wrote": "write", "written": "write", "spoke": "speak", "spoken": "speak", "fell": "fall",
    "fallen": "fall", "grew": "grow", "grown": "grow", "seen": "see", "met": "meet", "built": "build",
    "brought": "bring", "bought": "buy", "caught": "catch", "thought": "think", "taught": "teach",
    "sent": "send", "spent": "spend", "lost": "lose", "kept": "keep", "struck": "strike", "fled": "flee",
    "risen": "rise", "chose": "choose", "chosen": "choose", "drove": "drive", "driven": "drive",
    "knew": "know", "known": "know", "threw": "throw", "thrown": "throw", "told": "tell", "sought": "seek",
    "stood": "stand", "understood": "understand", "became": "become", "came": "come", "got": "get",
    "gotten": "get", "ran": "run", "shot": "shoot", "hid": "hide",
    "hidden": "hide", "broke": "break", "broken": "break", "froze": "freeze", "frozen": "freeze",
    "stole": "steal", "stolen": "steal", "withdrew": "withdraw", "withdrawn": "withdraw",
    "overthrew": "overthrow", "overthrown": "overthrow", "swore": "swear", "sworn": "swear", "fed": "feed",
    "dealt": "deal", "meant": "mean", "heard": "hear", "forbade": "forbid", "forbidden": "forbid",
}  # fmt: skip


# British spellings folded to American ones, so "licence" meets "license" and "organisation" meets
# "organization" (plurals follow: the suffix is stripped after the fold), and compass adjectives.
_SPELLING = {
    "licence": "license", "licences": "licenses", "licenced": "licensed", "defence": "defense",
    "offence": "offense", "offences": "offenses", "practise": "practice", "practised": "practiced",
    "centre": "center", "centres": "centers", "theatre": "theater", "programme": "program",
    "programmes": "programs", "catalogue": "catalog", "colour": "color", "honour": "honor",
    "favour": "favor", "behaviour": "behavior", "labour": "labor", "neighbour": "neighbor",
    "neighbouring": "neighboring", "rumour": "rumor", "rumours": "rumors", "harbour": "harbor",
    "armour": "armor", "endeavour": "endeavor", "humour": "humor", "vigour": "vigor", "analyse": "analyze",
    "analysed": "analyzed", "paralysed": "paralyzed",
    # Compass adjectives meet their noun: "the east of the country" is "eastern Afghanistan".
    "eastern": "east", "western": "west", "northern": "north", "southern": "south",
}  # fmt: skip


def stem(word: str) -> str:
    """A light English stemmer: 'oppose', 'opposes', 'opposed' and 'opposing' all give 'oppos';
    common irregular past forms give their verb's stem ('fought' → 'fight'), British spellings the
    American one's ('licence' → 'licens')."""
    word = _SPELLING.get(word, word)
    if "isation" in word:
        word = word.replace("isation", "ization")
    base = _IRREGULAR.get(word)
    if base is not None:
        # Stemmed as "takes" is, so "took" meets "taking" ("tak") as well as "takes".
        word = base + ("es" if base.endswith(("s", "sh", "ch", "x")) else "s")
    if len(word) <= 3 or not word.isascii() or "-" in word:
        return word
    for suf in ("ations", "ation", "ings", "ing", "ies", "ied", "edly", "ed", "es", "ly", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            if suf == "s" and word.endswith("ss"):
                break
            word = word[: -len(suf)] + ("y" if suf in ("ies", "ied") else "")
            break
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    return word


def content_words(text: str) -> list[str]:
    """Stemmed words minus stopwords: the terms lexical scoring compares."""
    return [stem(w) for w in words(text) if (w not in STOPWORDS and not w.isdigit()) or (w.isdigit() and len(w) == 4)]


def is_answer_sentence(sentence: str) -> bool:
    """True for sentences that can stand in an answer: not questions, headings or fragments."""
    s = sentence.strip()
    if len(words(s)) < 6:
        return False
    if s.endswith("?") or s.endswith(":"):
        return False
    # A heading or caption has no terminal punctuation.
    return s[-1] in ".!…\"'”’)»"


_MD_LINK = re.compile(r"\[([^\[\]]*)\]\([^()]*\)")
_SPACES = re.compile(r"\s+")
# Typographic quotes, primes and dashes, and their plain ASCII forms.
_STRAIGHT = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    }
)


def normalize_text(text: str) -> str:
    """Lower-case, unwrap markdown links, straighten quotes and dashes, collapse whitespace: the form
    in which a quote is compared with its source ("verbatim" up to typography)."""
    return _SPACES.sub(" ", _MD_LINK.sub(r"\1", text).translate(_STRAIGHT).lower()).strip()


def clip_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at its last whitespace, else exactly at ``limit``."""
    if len(text) <= limit:
        return text
    for i in range(limit, 0, -1):
        if text[i].isspace():
            kept = text[:i].rstrip()
            if kept:
                return kept
            break
    return text[:limit]
