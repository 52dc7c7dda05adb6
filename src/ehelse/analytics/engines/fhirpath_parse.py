"""A parser for the FHIRPath subset SQL on FHIR v2 requires, into a small AST for the SQL
compilers (engines/sql_compile.py).

The subset (https://sql-on-fhir.org/ig/latest/StructureDefinition-ViewDefinition.html#required-fhirpath-expressionsfunctions):
member paths, indexers `[n]`, literals (string, number, boolean), `%constant`, `%rowIndex`,
`$this`, `=` `!=` `<` `<=` `>` `>=`, `and` `or`, and the functions first(), exists(),
empty(), not(), where(), ofType(), join(), getResourceKey(), getReferenceKey([type]),
extension(url) (also on primitives: `_district`) and substring().
Anything else raises `Unsupported`, and the engine falls back to the in-process runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class Unsupported(Exception):
    """FHIRPath the SQL compilers cannot express (the engine then uses the runner)."""


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # member | call | index | literal | variable | this | binary | paren
    name: str = ""  # member/function/variable name, or the operator
    base: "Node | None" = None  # what a member/call/index applies to (None: the focus)
    args: tuple["Node", ...] = ()
    value: Any = None  # literal value, or the index


FUNCTIONS = {"first", "exists", "empty", "not", "where", "ofType", "join", "getResourceKey",
             "getReferenceKey", "extension", "substring"}
_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<variable>%[A-Za-z_][A-Za-z0-9_]*)
  | (?P<this>\$this)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<op><=|>=|!=|[=<>.()\[\],])
)""", re.VERBOSE)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise Unsupported(f"cannot read FHIRPath at {text[pos:pos + 10]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, value: str | None = None) -> tuple[str, str] | None:
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        return token if value is None or token[1] == value else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek(value)
        if token is None:
            raise Unsupported(f"expected {value or 'more'} in FHIRPath")
        self.pos += 1
        return token

    def expression(self) -> Node:
        return self.binary(("or",), lambda: self.binary(("and",), lambda: self.binary(
            ("=", "!="), lambda: self.binary(("<", "<=", ">", ">="), self.postfix))))

    def binary(self, operators: tuple[str, ...], operand) -> Node:
        left = operand()
        while (token := self.peek()) and token[1] in operators:
            self.pos += 1
            left = Node("binary", token[1], args=(left, operand()))
        return left

    def postfix(self) -> Node:
        node = self.primary()
        while token := self.peek():
            if token[1] == ".":
                self.pos += 1
                node = self.member_or_call(node)
            elif token[1] == "[":
                self.pos += 1
                index = self.expression()
                self.take("]")
                node = Node("index", base=node, args=(index,))
            else:
                break
        return node

    def member_or_call(self, base: Node | None) -> Node:
        kind, name = self.take()
        if kind != "ident":
            raise Unsupported(f"unexpected {name!r}")
        name = name.strip("`")
        if self.peek("("):
            self.pos += 1
            args: list[Node] = []
            while not self.peek(")"):
                args.append(self.expression())
                if not self.peek(")"):
                    self.take(",")
            self.take(")")
            if name not in FUNCTIONS:
                raise Unsupported(f"function {name}()")
            return Node("call", name, base=base, args=tuple(args))
        return Node("member", name, base=base)

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise Unsupported("empty FHIRPath")
        kind, text = token
        if kind == "string":
            self.pos += 1
            return Node("literal", value=re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "number":
            self.pos += 1
            return Node("literal", value=float(text) if "." in text else int(text))
        if kind == "variable":
            self.pos += 1
            return Node("variable", text[1:])
        if kind == "this":
            self.pos += 1
            return Node("this")
        if text == "(":
            self.pos += 1
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "ident" and text in ("true", "false"):
            self.pos += 1
            return Node("literal", value=text == "true")
        if kind == "ident":
            return self.member_or_call(None)
        raise Unsupported(f"unexpected {text!r}")


def parse(text: str) -> Node:
    parser = _Parser(text)
    node = parser.expression()
    if parser.pos != len(parser.tokens):
        raise Unsupported(f"unexpected {parser.tokens[parser.pos][1]!r}")
    return node
