"""Text and number normalisation shared by index extraction and query compilation.

String search (http://hl7.org/fhir/R4/search.html#string) is case- and accent-insensitive.
We fold to lower case, fold the Norwegian letters as people type them without a Norwegian
keyboard (æ -> ae, ø -> o, å -> a: `ostby` finds Østby, `asen` Åsen, `aero` Ærø) and drop
other accents (é -> e) by Unicode decomposition. Index and query use the same function, so
they always agree.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from ehelse.fhir.jsoncodec import Number

_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ß": "ss", "œ": "oe", "ð": "d", "þ": "th", "ł": "l"})


def normalize(text: str) -> str:
    """Lower case, Norwegian letters folded, accents removed."""
    text = text.lower()
    if text.isascii():
        return text
    text = text.translate(_FOLD)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`, so that a
    prefix match is the index-friendly range `prefix <= v < bound` (byte/code point order,
    as SQLite's BINARY and PostgreSQL's "C" collations compare)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def number_text(value: object) -> str | None:
    """The exact decimal text of a JSON number as parsed by fhir.jsoncodec."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Number):
        return value.text
    return None


def decimal_range(text: str) -> tuple[float, float, float]:
    """(value, low, high): the interval a decimal's significant figures imply
    (search.html#number: `100` means [99.5, 100.5), `100.00` [99.995, 100.005)).
    Raises ValueError for text that is not a number."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not number.is_finite():
        raise ValueError(text)
    exponent = number.as_tuple().exponent
    half = Decimal(5).scaleb(exponent - 1)  # half a unit in the last written digit
    return float(number), float(number - half), float(number + half)
