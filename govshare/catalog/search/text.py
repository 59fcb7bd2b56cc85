"""The text side of catalog search: normalisation, segmentation, the abbreviation table, query parsing.

Pure Python (no database). Both the stored search document and the query go through the same code, and
the output alphabet is deliberately tiny — lowercase ASCII letters and digits, and BMP CJK ideographs,
separated by single spaces — so that PostgreSQL's default text-search parser (``simple`` configuration)
and SQLite's FTS5 ``unicode61`` tokenizer split the stored text into exactly the same tokens. That is
what makes both backends return the same result set for the same query.

Document tokens, for every text field:

* every ASCII letter/digit run (``api``, ``445100``);
* for every CJK run, the character bigram and trigram starting at each position, and the run's final
  character alone (``社会保险`` → ``社会 会保 保险 社会保 会保险 险``);
* every CJK run's jieba search-mode words longer than three characters (``住房公积金``); shorter words
  are bigrams or trigrams already.

Query semantics: the query is normalised and segmented the same way; every term must match (AND). A
term matches when the document holds the term itself or one of its abbreviation expansions (OR). For
a CJK alternative that means, whatever jieba made of the document: one character — some token starts
with it; two or three characters — that exact bigram/trigram; four or more — the word as a jieba token,
or all of its trigrams (overlapping trigrams pin the characters together, so two halves found in
different fields do not add up to a false match the way bare bigrams would). Everything is plain token
lookups — no phrase operators, no positions — so the SQL stays portable. Expansion happens at query
time, see :class:`Abbreviations`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeAlias

import jieba

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ABBREVIATIONS_FILE = DATA_DIR / "abbreviations.json"
USER_DICT_FILE = DATA_DIR / "search_userdict.txt"

# BMP CJK ideographs: Extension A, the unified block, compatibility ideographs. Supplementary-plane
# ideographs are left out on purpose: tokenizers disagree about them.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN_RE = re.compile(f"[{_CJK}]+|[a-z0-9]+")  # also what a run is
_CJK_RE = re.compile(f"[{_CJK}]+")

MAX_TOKEN_CHARS = 32  # longer ASCII runs are cut (both sides cut the same way)
MAX_FIELD_CHARS = 5000  # of one field (a long summary); beyond that nothing is indexed
MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 12

# One-character function words dropped from a query that has other terms.
STOP_CHARS = frozenset("的了和与及或等之在是为对于以其各由从向把被并且而也就都跟同")

SECTIONS = ("name", "code", "body")  # the lines of a stored search document, in order


def normalize(text: str) -> str:
    """Compatibility-fold (full-width forms, compatibility ideographs), strip accents, lowercase."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def is_cjk(token: str) -> bool:
    return bool(_CJK_RE.fullmatch(token))


def runs(text: str) -> list[str]:
    """Maximal runs of CJK ideographs or of ASCII letters/digits in normalised ``text``."""
    return TOKEN_RE.findall(text)


def char_grams(run: str) -> list[str]:
    """The bigram and trigram starting at each position of a CJK run, and its last character alone:
    every character occurrence starts at least one token."""
    if not run:
        return []
    return ([run[i:i + 2] for i in range(len(run) - 1)] + [run[i:i + 3] for i in range(len(run) - 2)]
            + [run[-1]])


# ---------------------------------------------------------------------------------------------
# Abbreviations (简称 / 同义词)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Abbreviations:
    """Two-way links between short forms and full forms (社保 ↔ 社会保险).

    Expansion happens at QUERY time, not at index time, because:

    * editing ``abbreviations.json`` takes effect at once; index-time expansion would need every
      resource re-indexed after each edit, and a stale index would answer differently on each node;
    * the stored document stays exactly the resource's own words, so ranking (ts_rank / bm25) is not
      skewed by synthetic tokens and ``search_text`` stays explainable to a data officer;
    * both directions come for free: the query side looks a term up in a map holding short → full and
      full → short, and the document side needs nothing, because n-gram matching finds the other form
      wherever it occurs inside longer text (社会保险参保信息 contains 社会保险 without jieba ever
      emitting that exact word).

    The cost is a larger query (an OR per expanded term), which both engines handle with index lookups.
    """

    links: Mapping[str, tuple[str, ...]]

    def expand(self, term: str) -> tuple[str, ...]:
        return self.links.get(term, ())

    def words(self) -> set[str]:
        out = set(self.links)
        for full in self.links.values():
            out.update(full)
        return out

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]]) -> Abbreviations:
        links: dict[str, dict[str, None]] = {}

        def one_token(raw: object) -> str:
            value = normalize(str(raw))
            if not value or not TOKEN_RE.fullmatch(value):
                raise ValueError(f"abbreviation entry must be one word of CJK or ASCII letters/digits: {raw!r}")
            return value

        for entry in entries:
            short = one_token(entry["short"])
            fulls = [one_token(f) for f in entry["full"]]
            if not fulls:
                raise ValueError(f"abbreviation {short!r} has no full form")
            for full in fulls:
                if full == short:
                    continue
                links.setdefault(short, {})[full] = None
                links.setdefault(full, {})[short] = None
        return cls(links={k: tuple(v) for k, v in links.items()})


@cache
def abbreviations() -> Abbreviations:
    doc = json.loads(ABBREVIATIONS_FILE.read_text(encoding="utf-8"))
    return Abbreviations.from_entries(doc["entries"])


# ---------------------------------------------------------------------------------------------
# Segmentation
# ---------------------------------------------------------------------------------------------

_jieba_lock = threading.Lock()
_jieba: Any = None


def segmenter() -> Any:
    """A private jieba tokenizer with the government user dictionary and every abbreviation word, so
    that 社保, 住房公积金, 企业登记 … come out as words. Built once (about a second, cached by jieba)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                jieba.setLogLevel(logging.WARNING)  # jieba resets its own logger to DEBUG on import
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                tokenizer.load_userdict(str(USER_DICT_FILE))
                for word in sorted(abbreviations().words()):
                    if is_cjk(word):
                        tokenizer.add_word(word)
                _jieba = tokenizer
    return _jieba


def _cjk_words(run: str) -> list[str]:
    return [w for w in segmenter().cut_for_search(run) if w and is_cjk(w)]


def document_tokens(text: str) -> list[str]:
    """The distinct tokens of one text field, in first-seen order."""
    out: dict[str, None] = {}
    for run in runs(normalize(text[:MAX_FIELD_CHARS])):
        if is_cjk(run):
            for word in _cjk_words(run):
                if 3 < len(word) <= MAX_TOKEN_CHARS:
                    out[word] = None
            for gram in char_grams(run):
                out[gram] = None
        else:
            out[run[:MAX_TOKEN_CHARS]] = None
    return list(out)


def build_document(*, name: str, code: str, body: Iterable[str]) -> str:
    """The stored search document: three lines of space-separated tokens (name, code, everything else)."""
    body_tokens: dict[str, None] = {}
    for field_text in body:
        for token in document_tokens(field_text or ""):
            body_tokens[token] = None
    return "\n".join([" ".join(document_tokens(name)), " ".join(document_tokens(code)), " ".join(body_tokens)])


def split_document(text: str) -> tuple[str, str, str]:
    """The (name, code, body) lines of a stored document; text in another shape is treated as body."""
    parts = (text or "").split("\n")
    if len(parts) != len(SECTIONS):
        return "", "", " ".join(p for p in parts if p)
    return parts[0], parts[1], parts[2]


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------

# A boolean match tree over document tokens: ("tok", t) exact token, ("pre", t) token prefix,
# ("and", children), ("or", children).
Node: TypeAlias = tuple[Literal["tok", "pre"], str] | tuple[Literal["and", "or"], tuple["Node", ...]]


@dataclass(frozen=True)
class Term:
    word: str
    alternatives: tuple[str, ...]  # the word itself first, then its abbreviation links


@dataclass(frozen=True)
class ParsedQuery:
    raw: str
    terms: tuple[Term, ...]

    @property
    def blank(self) -> bool:
        """No text condition at all (browse everything visible)."""
        return not self.raw.strip()

    @property
    def unmatchable(self) -> bool:
        """Text was given but nothing searchable survived (punctuation, operators): match nothing."""
        return not self.blank and not self.terms

    def tree(self) -> Node:
        return ("and", tuple(_term_tree(t) for t in self.terms))


def _query_words(text: str) -> list[str]:
    words: list[str] = []
    for run in runs(normalize(text[:MAX_QUERY_CHARS])):
        words.extend(_cjk_words(run) if is_cjk(run) else [run[:MAX_TOKEN_CHARS]])
    return list(dict.fromkeys(words))


def parse_query(q: str) -> ParsedQuery:
    words = _query_words(q)
    cjk = [w for w in words if is_cjk(w)]
    # Search mode emits sub-words next to each word (社会 保险 社会保险). A CJK sub-word inside a longer
    # CJK query word is implied by it (substring ⇒ its n-grams and prefixes), so it adds no condition — and
    # must not be kept, or it would defeat the longer word's expansion (社会保险 → 社保 has no 社会).
    words = [w for w in words if not (is_cjk(w) and any(w != o and w in o for o in cjk))]
    content = [w for w in words if not (len(w) == 1 and w in STOP_CHARS)]
    words = (content or words)[:MAX_QUERY_TERMS]
    table = abbreviations()
    return ParsedQuery(raw=q, terms=tuple(Term(w, (w, *table.expand(w))) for w in words))


def _token(token: str) -> Node:
    return ("tok", token)


def _alternative_tree(word: str) -> Node:
    if not is_cjk(word):
        return ("tok", word)
    if len(word) == 1:
        return ("pre", word)
    if len(word) <= 3:
        return ("tok", word)
    trigrams = tuple(_token(g) for g in dict.fromkeys(word[i:i + 3] for i in range(len(word) - 2)))
    by_trigrams: Node = ("and", trigrams)
    if len(word) > MAX_TOKEN_CHARS:
        return by_trigrams
    return ("or", (("tok", word), by_trigrams))


def _term_tree(term: Term) -> Node:
    alternatives = tuple(_alternative_tree(a) for a in term.alternatives)
    return alternatives[0] if len(alternatives) == 1 else ("or", alternatives)


def _checked(token: str) -> str:
    # Defence in depth: the renderers below build query text, so only the safe alphabet may pass.
    if not TOKEN_RE.fullmatch(token):
        raise ValueError(f"unsafe search token {token!r}")
    return token


def to_fts5(node: Node) -> str:
    """Render for SQLite FTS5 ``MATCH`` (every token double-quoted: never an operator or column name)."""
    if node[0] == "tok":
        return f'"{_checked(node[1])}"'
    if node[0] == "pre":
        return f'"{_checked(node[1])}"*'
    parts = [to_fts5(child) for child in node[1]]
    return parts[0] if len(parts) == 1 else "(" + f" {node[0].upper()} ".join(parts) + ")"


def to_tsquery(node: Node) -> str:
    """Render for PostgreSQL ``to_tsquery('simple', …)`` (every lexeme single-quoted)."""
    if node[0] == "tok":
        return f"'{_checked(node[1])}'"
    if node[0] == "pre":
        return f"'{_checked(node[1])}':*"
    joiner = " & " if node[0] == "and" else " | "
    parts = [to_tsquery(child) for child in node[1]]
    return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
