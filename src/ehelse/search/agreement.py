"""Generated search queries for the agreement tests and benchmark: the backends against the
reference evaluator (search/reference.py).

`generate(evaluator, n, seed)` picks a resource, one of its type's search parameters and a
value that the resource really has (a prefix of a name, a code with or without its system,
a date cut to a random precision with a random prefix, a quantity with its unit, a
reference, a chain to the target's identifier, a `_has` from a referring resource, ...),
so most queries have results; some combine two parameters (AND) or two values (OR), some
ask `:missing`, `:not`, `:exact`, `:contains`, `:text`, and where the code's system is one
the terminology knows (small enough to expand), `:in`/`:not-in` its implicit value set or
`:below`/`:above` a code above/below it in the hierarchy. Full-text queries (`_text`,
`_content`) come on top, from a stream of their own (so the others stay the same for a seed):
words of the resource's narrative or strings, cut to a word start or given a Norwegian
ending (stemming), one or two words, or two values ORed. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from ehelse.search.reference import ReferenceEvaluator, definition
from ehelse.search.reference_values import string_parts, token_parts
from ehelse.search.registry import registry
from ehelse.storage.protocol import SearchParam

_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
_KINDS = ("string", "token", "date", "number", "quantity", "reference", "uri")


@dataclass(frozen=True, slots=True)
class Query:
    type: str
    params: tuple[SearchParam, ...]

    def __str__(self) -> str:
        return self.type + "?" + "&".join(
            f"{p.name}{':' + p.modifier if p.modifier else ''}={','.join(p.values)}" for p in self.params)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$").replace("|", "\\|")


class QueryGenerator:
    def __init__(self, evaluator: ReferenceEvaluator, seed: int = 1):
        self.ev = evaluator
        self.rng = random.Random(seed)
        self.types = sorted(t for t, rs in evaluator.by_type.items() if rs)
        self._params: dict[str, list[str]] = {}

    def params_of(self, type: str) -> list[str]:
        if type not in self._params:
            self._params[type] = sorted(
                code for code, d in registry().searchable(type).items()
                if d.type in _KINDS and d.strategy not in ("fulltext", "unsupported")
                and definition(type, code) is not None and not code.startswith("_text"))
        return self._params[type]

    # -- one parameter from one resource -------------------------------------------------------
    def value_param(self, type: str, id: str) -> SearchParam | None:
        rng = self.rng
        codes = self.params_of(type)
        if not codes:
            return None
        code = rng.choice(codes)
        entry = definition(type, code)
        nodes = self.ev.values(type, id, entry)
        if rng.random() < 0.07:
            return SearchParam(code, "missing", (rng.choice(("true", "false")),))
        if not nodes:
            return None
        node = rng.choice(nodes)
        kind = entry["type"]
        if kind == "string":
            parts = [p for p in string_parts(node) if p.strip()]
            if not parts:
                return None
            text = rng.choice(parts)
            roll = rng.random()
            if roll < 0.15:
                return SearchParam(code, "exact", (_escape(text),))
            if roll < 0.3 and len(text) > 3:
                start = rng.randrange(0, len(text) - 2)
                return SearchParam(code, "contains", (_escape(text[start:start + 3]),))
            return SearchParam(code, None, (_escape(text[:rng.randint(1, min(len(text), 8))]),))
        if kind == "token":
            parts = token_parts(node)
            texts = [t for _, _, t in parts["text"] if isinstance(t, str) and t.strip()]
            if texts and rng.random() < 0.12:
                text = rng.choice(texts)
                return SearchParam(code, "text", (_escape(text[:rng.randint(1, min(len(text), 10))]),))
            codes = [(s, c) for s, c, _ in parts["codes"] if isinstance(c, str) and c]
            if not codes:
                return None
            system, value = rng.choice(codes)
            if system and rng.random() < 0.6:
                terminology = self.terminology(code, system, value)
                if terminology is not None:
                    return terminology
            roll = rng.random()
            modifier = "not" if roll < 0.08 else None
            if system and roll < 0.45:
                return SearchParam(code, modifier, (f"{_escape(system)}|{_escape(value)}",))
            if system and roll < 0.55:
                return SearchParam(code, modifier, (f"{_escape(system)}|",))
            if not system and roll < 0.55:
                return SearchParam(code, modifier, (f"|{_escape(value)}",))
            return SearchParam(code, modifier, (_escape(value),))
        if kind == "date":
            text = node if isinstance(node, str) else (node.get("start") or node.get("end")) \
                if isinstance(node, dict) else None
            if not isinstance(text, str) or len(text) < 4:
                return None
            cut = rng.choice((4, 7, 10, 10, len(text)))
            value = text[:cut]
            return SearchParam(code, None, (rng.choice(_PREFIXES) + value,))
        if kind == "number":
            if not isinstance(node, (int, float, Decimal)) or isinstance(node, bool):
                return None
            return SearchParam(code, None, (rng.choice(_PREFIXES) + str(node),))
        if kind == "quantity":
            if not isinstance(node, dict) or node.get("value") is None:
                return None
            number = rng.choice(_PREFIXES) + str(node["value"])
            if node.get("system") and node.get("code") and rng.random() < 0.5:
                number += f"|{_escape(node['system'])}|{_escape(node['code'])}"
            return SearchParam(code, None, (number,))
        if kind == "reference":
            reference = node.get("reference") if isinstance(node, dict) else None
            if not isinstance(reference, str) or "/" not in reference or reference.startswith("#"):
                return None
            target_type, target_id = reference.split("/")[-2:]
            roll = rng.random()
            if roll < 0.3:
                return SearchParam(code, None, (target_id,))
            if roll < 0.4:
                return SearchParam(code, target_type, (target_id,))
            if roll < 0.75:
                return self.chain(code, target_type, target_id) or SearchParam(code, None, (reference,))
            return SearchParam(code, None, (f"{target_type}/{target_id}",))
        if kind == "uri":
            return SearchParam(code, None, (_escape(node),)) if isinstance(node, str) else None
        return None

    def terminology(self, code: str, system: str, value: str) -> SearchParam | None:
        """`:in`/`:not-in` the system's implicit value set (all its codes) or `:below`/`:above`
        a code related to `value` in the system's hierarchy (search.html#token)."""
        from ehelse.search.tokens import MAX_CODES
        from ehelse.terminology.registry import IMPLICIT_SUFFIX, base_terminology

        codesystem = base_terminology().codesystem(system)
        if codesystem is None or value not in codesystem.concepts or len(codesystem) > MAX_CODES:
            return None
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return SearchParam(code, "not-in" if roll < 0.12 else "in", (codesystem.url + IMPLICIT_SUFFIX,))
        relatives = sorted(codesystem.ancestors(value)) if roll < 0.75 else codesystem.descendants(value)
        related = rng.choice(relatives) if relatives and rng.random() < 0.8 else value
        return SearchParam(code, "below" if roll < 0.75 else "above", (f"{_escape(system)}|{_escape(related)}",))

    def chain(self, code: str, target_type: str, target_id: str) -> SearchParam | None:
        """`code:Target.identifier=...` or `code:Target._id=...` from the real target."""
        target = self.ev.by_type.get(target_type, {}).get(target_id)
        if target is None:
            return None
        identifiers = [i for i in target.get("identifier") or [] if isinstance(i, dict) and i.get("value")
                       and definition(target_type, "identifier")]
        if identifiers and self.rng.random() < 0.6:
            ident = self.rng.choice(identifiers)
            return SearchParam(f"{code}:{target_type}.identifier", None, (_escape(ident["value"]),))
        return SearchParam(f"{code}:{target_type}._id", None, (target_id,))

    def has(self, type: str) -> SearchParam | None:
        """`_has:Other:ref:_id=x` from a resource that refers to one of `type`."""
        rng = self.rng
        for _ in range(6):
            other = rng.choice(self.types)
            refs = [c for c in self.params_of(other) if definition(other, c)["type"] == "reference"]
            if not refs:
                continue
            ref = rng.choice(refs)
            other_id = rng.choice(sorted(self.ev.by_type[other]))
            targets = self.ev._targets(other, other_id, definition(other, ref))
            if any(t == type for t, _ in targets):
                inner = self.value_param(other, other_id) or SearchParam("_id", None, (other_id,))
                if "." in inner.name or inner.name.startswith("_has"):
                    inner = SearchParam("_id", None, (other_id,))
                name = f"_has:{other}:{ref}:{inner.name}" + (f":{inner.modifier}" if inner.modifier else "")
                return SearchParam(name, None, inner.values)
        return None

    # -- whole queries ----------------------------------------------------------------------------
    def query(self) -> Query | None:
        rng = self.rng
        type = rng.choice(self.types)
        ids = sorted(self.ev.by_type[type])
        id = rng.choice(ids)
        if rng.random() < 0.08:
            param = self.has(type)
            return Query(type, (param,)) if param else None
        first = self.value_param(type, id)
        if first is None:
            return None
        params = [first]
        roll = rng.random()
        if roll < 0.2:  # AND with another value the same resource has
            second = self.value_param(type, id)
            if second is not None:
                params.append(second)
        elif roll < 0.3 and first.modifier is None and "." not in first.name:  # OR with another resource's
            other = self.value_param(type, rng.choice(ids))
            if other is not None and other.name == first.name and other.modifier is None:
                params = [SearchParam(first.name, None, first.values + other.values)]
        return Query(type, tuple(params))

    def fulltext(self, rng: random.Random) -> Query | None:
        """`_text` or `_content` with words the resource has, as a client would type them."""
        type = rng.choice(self.types)
        ids = sorted(self.ev.by_type[type])
        code = "_text" if rng.random() < 0.4 else "_content"
        if rng.random() < 0.05:
            return Query(type, (SearchParam(code, "missing", (rng.choice(("true", "false")),)),))

        def value(id: str) -> str | None:
            words = sorted(self.ev.text_words(type, id, code))
            if not words:
                return None
            picked = []
            for word in rng.sample(words, min(len(words), rng.choice((1, 1, 2)))):
                roll = rng.random()
                if roll < 0.3 and len(word) > 3:
                    word = word[:rng.randint(2, len(word) - 1)]  # a word start
                elif roll < 0.5:
                    word += rng.choice(("en", "ene", "et", "er", "s", "e"))  # another form
                picked.append(word.upper() if rng.random() < 0.1 else word)
            return " ".join(picked)

        first = value(rng.choice(ids))
        if first is None:
            return None
        values = (first,)
        if rng.random() < 0.2:
            second = value(rng.choice(ids))
            values = (first, second) if second else values
        return Query(type, (SearchParam(code, None, values),))

    def generate(self, n: int) -> list[Query]:
        """n queries of the ordinary parameters, then n // 10 full-text ones."""
        out: list[Query] = []
        tries = 0
        while len(out) < n and tries < n * 20:
            tries += 1
            q = self.query()
            if q is not None:
                out.append(q)
        text_rng = random.Random(self.rng.random())
        texts: list[Query] = []
        tries = 0
        while len(texts) < n // 10 and tries < n * 2:
            tries += 1
            q = self.fulltext(text_rng)
            if q is not None:
                texts.append(q)
        return out + texts
