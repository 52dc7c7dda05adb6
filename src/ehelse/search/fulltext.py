"""Full text, `_text` and `_content` (http://hl7.org/fhir/R4/search.html#text, #content):
the query side, with Norwegian stemming.

The index side (search/extract.py) stores each resource's distinct words, folded as string
search folds them (search/normalize.py: case, accents, æ -> ae, ø -> o, å -> a), in one
text_index row per resource and parameter; SQLite indexes those rows with FTS5 and
PostgreSQL with a tsvector and GIN (migration 0009; SQLite's 0010 keys its terms by type).

Matching rule: every word of a value, folded and stemmed with the Snowball Norwegian
stemmer (https://snowballstem.org/algorithms/norwegian/stemmer.html), must start a word of
the text (the spec's word-start semantics, as FTS5's `"w"*` and tsquery's `w:*` prefixes).
So `blodtrykket` (stem `blodtrykk`) finds "blodtrykk" and "blodtrykkene", `pasientene`
finds "pasienten", `hjertet` finds "hjerte".
Why the stored words need no stemming: the Norwegian algorithm only removes suffixes
(`erte` -> `er` too is a removal), so a word's stem is a prefix of the word, and "the stem
of a text word starts with the stem of the query word" is the same test as "the text word
starts with the query word's stem". The index stays the plain words, and rows written
before stemming was added need no re-indexing.
Words are compared on their first 64 characters, as the index keeps them.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import Stemmer

from ehelse.search.normalize import normalize

WORD = re.compile(r"\w+")
MAX_WORD = 64  # characters of a word the index keeps (search/values.py)
MAX_QUERY_WORDS = 32  # words in the full-text parameters of one search (search/execute.py)
_local = threading.local()  # a PyStemmer object is not to be shared between threads


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """The Snowball Norwegian stem of a folded word."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("norwegian")
    return stemmer.stemWord(word)


def query_words(value: str) -> list[str]:
    """The prefixes one search value asks for: its words, folded, stemmed, cut to what the
    index keeps (distinct, in order)."""
    return list(dict.fromkeys(stem(word)[:MAX_WORD] for word in WORD.findall(normalize(value))))


@lru_cache(maxsize=1)
def _all_types() -> tuple[str, ...]:
    from ehelse.fhir.resource_types import resource_types

    return tuple(sorted(resource_types()))


def _types(type: str | None) -> tuple[str, ...]:
    return (type,) if type is not None else _all_types()


def fts5_query(words: list[str], type: str | None = None) -> str:
    """An FTS5 MATCH expression: every word as a prefix (https://sqlite.org/fts5.html#
    fts5_prefix_queries) of the type's terms, which are `<type>_<word>` (migration 0010);
    a system search (type None) ORs each word over every type. The words hold only \\w
    characters and types only letters, so each quoted string is one token under the
    tables' `ascii tokenchars '_'` tokenizer (which folds the type to lower case)."""
    types = _types(type)
    terms = []
    for word in words:
        alternatives = [f'"{t}_{word}"*' for t in types]
        terms.append(alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")")
    return " AND ".join(terms)


def tsquery(words: list[str], type: str | None = None) -> str:
    """A tsquery in its text form: every word a prefix lexeme (`'w':*`, PostgreSQL manual,
    Text Search, 8.11.2 tsquery), and the type's `$Type` lexeme (migration 0009) when the
    search has one type; cast with `::tsquery`, so no parser or dictionary touches them.
    (PostgreSQL does not key its lexemes by type: see its migration 0010.)"""
    terms = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "':*" for word in words]
    if type is not None:
        terms.append(f"'${type}'")
    return " & ".join(terms)
