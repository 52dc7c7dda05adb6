"""Type-ahead matching for $expand?filter=: word prefixes of the display, and the code.

http://hl7.org/fhir/R4/valueset-operation-expand.html leaves the meaning of `filter` to the
server ("a text filter applied to restrict the codes"). Ours, for type-ahead: every word the
user typed must be the start of a word of the display (or of the code), in any order, with case
and accents ignored; or the whole filter is the start of the code (`E11` finds E11, E110..E119;
dots are ignored, so `E11.9` finds the Norwegian `E119`).

Norwegian letters: æ, ø and å are letters of their own, not accented a/o, so NFKD alone would
keep them. We index each word twice, with ø→o/å→a/æ→ae and with ø→oe/å→aa/æ→ae, and fold the
query with the first map: `hjertesvikt`, `Ødem`, `odem` and `oedem` all find "Ødem".

The index (built once per expansion and cached) keeps a sorted vocabulary and, for each token,
the ordered ids of the entries it occurs in; one- and two-letter prefixes, which would union
thousands of postings per keystroke, are precomputed. A query is a few bisects and set
intersections: well under a millisecond on 20,000 concepts (bench/terminology.py).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from typing import Iterable

_PRIMARY = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ß": "ss"})
_ALTERNATE = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ß": "ss"})
_WORD = re.compile(r"[0-9a-z]+")
_SHORT = 2  # prefixes up to this length are precomputed


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case, Norwegian letters spelt out (ø→o, å→a, æ→ae), other accents removed."""
    return _strip_accents(text.lower().translate(_PRIMARY))


def _fold_alternate(text: str) -> str:
    return _strip_accents(text.lower().translate(_ALTERNATE))


def words(text: str) -> list[str]:
    """The folded words of a text (for a query)."""
    return _WORD.findall(fold(text))


def fold_code(code: str) -> str:
    """A code for prefix matching: lower case, without dots, dashes and spaces."""
    return re.sub(r"[\s.\-]", "", code.lower())


def _index_words(text: str) -> set[str]:
    return set(_WORD.findall(fold(text))) | set(_WORD.findall(_fold_alternate(text)))


class TypeAheadIndex:
    """Word-prefix and code-prefix lookup over a fixed, ordered list of (code, display)."""

    def __init__(self, entries: Iterable[tuple[str, str | None]]):
        postings: dict[str, list[int]] = {}
        codes: list[tuple[str, int]] = []
        for position, (code, display) in enumerate(entries):
            tokens = _index_words(display or "") | {fold_code(code)}
            for token in tokens:
                if token:
                    postings.setdefault(token, []).append(position)
            codes.append((fold_code(code), position))
        self._vocabulary = sorted(postings)
        self._postings = postings
        self._codes = sorted(codes)
        self._code_keys = [c for c, _ in self._codes]
        short: dict[str, set[int]] = {}
        for token, ids in postings.items():
            for n in range(1, min(_SHORT, len(token)) + 1):
                short.setdefault(token[:n], set()).update(ids)
        self._short = {prefix: frozenset(ids) for prefix, ids in short.items()}

    def _word_prefix(self, prefix: str) -> set[int] | frozenset[int]:
        if len(prefix) <= _SHORT:
            return self._short.get(prefix, frozenset())
        lo = bisect_left(self._vocabulary, prefix)
        hi = bisect_left(self._vocabulary, prefix + "\uffff", lo)
        found: set[int] = set()
        for token in self._vocabulary[lo:hi]:
            found.update(self._postings[token])
        return found

    def _code_prefix(self, prefix: str) -> list[int]:
        lo = bisect_left(self._code_keys, prefix)
        hi = bisect_left(self._code_keys, prefix + "\uffff", lo)
        return sorted(position for _, position in self._codes[lo:hi])

    def search(self, text: str) -> list[int]:
        """Positions of the matching entries: code-prefix matches first, then word matches,
        each in the list's own order."""
        query = words(text)
        if not query:
            return list(range(len(self._codes)))
        by_code = self._code_prefix(fold_code(text)) if text.strip() else []
        matched: set[int] | frozenset[int] | None = None
        for word in sorted(query, key=len, reverse=True):  # longest (rarest) word first
            hits = self._word_prefix(word)
            matched = hits if matched is None else matched & hits
            if not matched:
                break
        seen = set(by_code)
        return by_code + sorted(p for p in (matched or ()) if p not in seen)
