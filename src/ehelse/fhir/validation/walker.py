"""The structural walk compiled to Python: one function per table, generated at first use.

`structure.Walk.object` used to interpret a `Table` at every object: look the key's `Rule`
up, then test a dozen of its attributes (simple? a string? a choice? which shape? plain?
invariants? a binding?) before doing the one thing that applies. Those answers never change
once the model is built and `invariants.attach` has run, so here they are decided once per
table: `source(table)` writes a function with one branch per JSON key of the table, holding
only the checks that key needs, with its names, messages, cardinalities and child tables as
constants; it is compiled with `compile()` when a table is first walked.

The generated function does exactly what the interpreted walk did, in the same order, so
it reports the same issues (severity, code, message, expression) in the same order:
scripts/compare_validation.py compares the two over the official examples, the Synthea
resources and their mutations. What the checks are and which spec section each implements
is in structure.py (the helpers the generated code calls for the rare cases) and model.py.

Each key's branch is chosen by a dict look-up (key -> number) and a balanced tree of integer
comparisons: about five comparisons for the largest resource tables, instead of a chain of
string comparisons or a call per key.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ehelse.fhir.validation.model import (ARRAY_PRIMITIVE, FORBIDDEN, SINGLE_COMPLEX, SINGLE_PRIMITIVE,
                                          Model, Rule, Table)
from ehelse.fhir.validation.primitives import MAX_STRING, json_type, known_set
from ehelse.fhir.validation.terminology import check_binding

OBJECT_LIMIT = 5_000  # flat objects remembered per table (Table.known)
FLAT_VALUE_LIMIT = 256  # characters: longer strings make an object not worth remembering
EXT_1 = "an extension must have either a value[x] or nested extensions, not both and not neither (ext-1)"


def cc_memorable(value: dict) -> bool:
    """Whether a valid CodeableConcept may be remembered (Rule.memo): only codings and a text,
    all short strings, as Table.known's flat objects. Only such are added, so a key built
    without these tests (in the walk: its codings' items, its text, its length) can equal an
    added one only for an object of the same form (a string equals no other JSON value)."""
    text = value.get("text")
    if len(value) != (1 if text is None else 2) or "coding" not in value:
        return False
    if text is not None and (type(text) is not str or len(text) > FLAT_VALUE_LIMIT):
        return False
    for item in value["coding"]:
        for part in item.values():
            if type(part) is not str or len(part) > FLAT_VALUE_LIMIT:
                return False
    return True


class Compiled:
    """The generated functions of one model: `walker(table)`; `reset()` forgets them (after
    `invariants.attach` changes the tables they were generated from)."""

    def __init__(self, model: Model):
        self.model = model
        # names are numbered: two threads must not give two tables (or constants) one name
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        # The namespace every generated function runs in: the helpers, and per table its
        # function (`t<n>`, a stub that compiles it until the first call) and constants.
        self.namespace: dict[str, Any] = {
            "MAX_STRING": MAX_STRING, "json_type": json_type, "check_binding": check_binding,
            "OBJECT_LIMIT": OBJECT_LIMIT, "FLAT_VALUE_LIMIT": FLAT_VALUE_LIMIT, "cc_memorable": cc_memorable,
        }
        self.names: dict[int, str] = {}
        self.sources: dict[str, str] = {}

    def walker(self, table: Table) -> Callable[[Any, dict, str, list], None]:
        """The function walking objects of `table`: fn(walk, obj, path, local_refs)."""
        return self.namespace[self.name(table)]

    def name(self, table: Table) -> str:
        name = self.names.get(id(table))
        if name is None:
            with self._lock:
                name = self.names.get(id(table))
                if name is None:
                    name = f"t{len(self.names)}"
                    self.namespace[name] = self._stub(table, name)
                    self.names[id(table)] = name
        return name

    def _stub(self, table: Table, name: str) -> Callable:
        home = self.namespace

        def stub(walk: Any, obj: dict, path: str, local_refs: list) -> None:
            with self._lock:
                if home is not self.namespace:  # generated before a reset: the table's new one
                    fn = self.walker(table)
                elif home.get(name) is not stub:  # another thread compiled it meanwhile
                    fn = home[name]
                else:
                    fn = self._compile(table, name)
            fn(walk, obj, path, local_refs)

        return stub

    def _compile(self, table: Table, name: str) -> Callable:
        with self._lock:
            namespace = self.namespace
            text = _Source(self, table, name).text()
            self.sources[name] = text
            exec(compile(text, f"<walker {table.type_name}>", "exec"), namespace)  # noqa: S102 - our own code
            return namespace[name]

    def constant(self, prefix: str, value: Any) -> str:
        """A name in the namespace bound to `value` (rules, checkers, sets, tables); called
        while compiling, under the lock."""
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name


class _Source:
    """The text of one table's function."""

    def __init__(self, compiled: Compiled, table: Table, name: str):
        self.compiled = compiled
        self.table = table
        self.name = name
        self.lines: list[str] = []

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def text(self) -> str:
        table, emit = self.table, self.emit
        const = self.compiled.constant
        keys = list(table)
        cases = {key: number for number, key in enumerate(keys)}
        if table.is_resource_root and "resourceType" not in cases:
            cases["resourceType"] = len(keys)  # its value is judged by Walk.resource
        cases_name = const("CASES", cases)
        table_name = const("TABLE", table)
        emit(0, f"def {self.name}(walk, obj, path, local_refs):")
        known = table.known
        if known is not None:
            emit(1, f"known = {const('KNOWN', known)}")
            emit(1, "try:")
            emit(2, "items = tuple(obj.items())")
            emit(2, "if items in known:")
            emit(3, "return")
            emit(1, "except TypeError:  # a list or object inside: not a flat one")
            emit(2, "known = None")
            emit(1, "else:")
            emit(2, "before = (len(walk.issues), len(walk.pending), len(walk.extensions), len(local_refs))")
        extension = table is self.compiled.model.tables.get("Extension")
        emit(1, "if not obj:")
        emit(2, 'walk.error("structure", "an object must not be empty", path)')
        if extension:  # ext-1 as extension_tail would find it: neither a value nor extensions
            emit(2, f"walk.error(\"structure\", {EXT_1!r}, path)")
        emit(2, "return")
        # the form found of each choice (value[x]: 'valueString'), in a local per choice;
        # a dict only for Walk.other_key (a `_valueString` is a form too)
        groups = dict.fromkeys(rule.choice for rule in table.values() if rule.choice is not None)
        self.choices = {choice: f"choice{number}" for number, choice in enumerate(groups)}
        for variable in self.choices.values():
            emit(1, f"{variable} = None")
        emit(1, f"case_of = {cases_name}.get")
        emit(1, "for key, value in obj.items():")
        emit(2, "case = case_of(key)")
        emit(2, "if case is None:")
        if self.choices:
            emit(3, "choices = {}")
            for choice, variable in self.choices.items():
                emit(3, f"if {variable} is not None:")
                emit(4, f"choices[{choice!r}] = {variable}")
            emit(3, f"choices = walk.other_key(obj, key, value, {table_name}, path, choices)")
            for choice, variable in self.choices.items():
                emit(3, f"{variable} = choices.get({choice!r})")
        else:
            emit(3, f"walk.other_key(obj, key, value, {table_name}, path, None)")
        emit(2, "else:")
        numbered = [(number, key) for key, number in cases.items()]
        self.tree(3, numbered)
        for label, required in table.required:
            shown = label[:-3] if label.endswith("[x]") else label
            test = " and ".join(f"{key!r} not in obj" for key in required)
            emit(1, f"if {test}:")
            emit(2, f'walk.error("required", {label + " is required (minimum cardinality 1)"!r}, '
                    f'path + {"." + shown!r})')
        if extension:
            self.extension_tail(1)
        if known is not None:
            emit(1, "if known is not None and before == (len(walk.issues), len(walk.pending), "
                    "len(walk.extensions), len(local_refs)):")
            emit(2, "for _, value in items:")
            emit(3, "if type(value) is not str or len(value) > FLAT_VALUE_LIMIT:")
            emit(4, "return")
            emit(2, "if len(known) >= OBJECT_LIMIT:")
            emit(3, "known.clear()")
            emit(2, "known.add(items)")
        return "\n".join(self.lines) + "\n"

    def extension_tail(self, depth: int) -> None:
        """What an Extension's walk ends with (it was Walk._extension, called after it): ext-1,
        either a value[x] or nested extensions, never both (extensibility.html); and the
        extension is kept for the profile pass when its definition is known. A value[x] form
        the walk accepted is in its local (`choice<n>`); other keys are looked at only without one."""
        emit = self.emit
        emit(depth, f"if {self.choices['value']} in obj:  # the form found, not `_valueX` alone")
        emit(depth + 1, "has_value = True")
        emit(depth, "else:")
        emit(depth + 1, "has_value = False")
        emit(depth + 1, "for key in obj:  # a key 'value...' the table does not know counts too")
        emit(depth + 2, "if key.startswith('value'):")
        emit(depth + 3, "has_value = True")
        emit(depth + 3, "break")
        emit(depth, "if has_value == ('extension' in obj):")
        emit(depth + 1, f"walk.error(\"structure\", {EXT_1!r}, path)")
        emit(depth, "url = obj.get('url')")
        emit(depth, "if type(url) is str and url in walk.extension_urls:")
        emit(depth + 1, "walk.extensions.append((obj, path, url))")

    def tree(self, depth: int, numbered: list[tuple[int, str]]) -> None:
        """Branch on `case` to each key's code: a balanced tree of comparisons."""
        if len(numbered) == 1:
            number, key = numbered[0]
            self.key(depth, key)
            return
        middle = len(numbered) // 2
        self.emit(depth, f"if case < {numbered[middle][0]}:")
        self.tree(depth + 1, numbered[:middle])
        self.emit(depth, "else:")
        self.tree(depth + 1, numbered[middle:])

    # -- one key ---------------------------------------------------------------------------
    def key(self, depth: int, key: str) -> None:
        emit = self.emit
        rule = self.table.get(key)
        if rule is None:  # resourceType at a resource's root
            emit(depth, "pass")
            return
        if rule.simple:
            # a single primitive with nothing but its format to check
            self.primitive(depth, rule, key, "value", inline_known=True)
            return
        if rule.simple_object:
            emit(depth, "if type(value) is dict:")
            if self.remembers(rule):
                self.complex_item(depth + 1, rule, self.compiled.constant("RULE", rule), "value",
                                  f"path + {'.' + key!r}")
            else:
                self.call(depth + 1, rule, "value", f"path + {'.' + key!r}")
            emit(depth, "else:")
            depth += 1
        self.general(depth, rule, key)

    def primitive(self, depth: int, rule: Rule, key: str, value: str, inline_known: bool) -> None:
        """A single primitive's format (Walk.bad_single reports it as the walk always did)."""
        emit = self.emit
        check = self.compiled.constant("CHECK", rule.check)
        known = getattr(rule.check, "known", None)
        if rule.string:
            emit(depth, f"if type({value}) is not str or not 0 < len({value}) <= MAX_STRING:")
        elif known is not None and inline_known:
            emit(depth, f"if type({value}) is not str or {value} not in {self.compiled.constant('KNOWNV', known)}:")
        else:
            emit(depth, "if True:")
        emit(depth + 1, f"message = {check}({value})")
        emit(depth + 1, "if message is not None:")
        emit(depth + 2, f"walk.bad_single({key!r}, {value}, message, path)")

    def general(self, depth: int, rule: Rule, key: str) -> None:
        emit, const = self.emit, self.compiled.constant
        here = f"path + {'.' + key!r}"
        rule_name = const("RULE", rule)
        if rule.invariants is not None:
            emit(depth, f"walk.collect({const('INV', rule.invariants)}, {key!r}, value, path)")
        if rule.choice is not None:
            other = self.choices[rule.choice]
            emit(depth, f"if {other} is not None and {other} != {key!r}:")
            emit(depth + 1, f'walk.error("structure", f"{rule.choice}[x] must have exactly one form, '
                            f'found {{{other}}} and {key}", {here})')
            emit(depth, "else:")
            depth += 1
            emit(depth, f"{other} = {key!r}")
        shape = rule.shape
        if shape == SINGLE_PRIMITIVE and rule.binding is None:
            # a choice form (valueString, valueUri, ...): its format checked inline when it is
            # a string or a known value, as the fast path does
            self.primitive(depth, rule, key, "value", inline_known=True)
        elif shape == SINGLE_PRIMITIVE:
            check = const("CHECK", rule.check)
            emit(depth, f"message = {check}(value)")
            emit(depth, "if message is not None:")
            emit(depth + 1, f"walk.bad_single({key!r}, value, message, path)")
            if rule.binding is not None:
                emit(depth, f"elif type(value) is not str or value not in {const('BKNOWN', rule.known)}:")
                emit(depth + 1, f"check_binding(walk, {rule_name}, None, value, {here})")
        elif shape == SINGLE_COMPLEX:
            emit(depth, "if type(value) is dict:")
            self.complex_item(depth + 1, rule, rule_name, "value", here)
            emit(depth, "elif type(value) is list:")
            emit(depth + 1, f'walk.error("structure", {key + " must be a single value, not an array"!r}, {here})')
            emit(depth, "else:")
            emit(depth + 1, f"walk.item({rule_name}, value, {here}, local_refs)")
        elif shape == FORBIDDEN:
            message = f"{key} is not allowed in {self.table.type_name} (maximum cardinality 0)"
            emit(depth, f'walk.error("structure", {message!r}, {here})')
        else:  # an array
            emit(depth, "if type(value) is not list:")
            emit(depth + 1, f'walk.error("structure", f"{key} must be a JSON array, got {{json_type(value)}}", '
                            f'{here})')
            emit(depth, "elif not value:")
            emit(depth + 1, f'walk.error("structure", {key + " must not be an empty array"!r}, {here})')
            emit(depth, "else:")
            depth += 1
            if rule.max > 0:
                emit(depth, f"if len(value) > {rule.max}:")
                emit(depth + 1, f'walk.error("structure", f"{key} allows at most {rule.max} items, '
                                f'found {{len(value)}}", {here})')
            item_path = f'f"{{path}}.{key}[{{index}}]"'
            if shape == ARRAY_PRIMITIVE:
                self.primitive_items(depth, rule, rule_name, key, item_path)
            else:
                emit(depth, "for index, item in enumerate(value):")
                emit(depth + 1, "if type(item) is dict:")
                self.complex_item(depth + 2, rule, rule_name, "item", item_path)
                emit(depth + 1, "else:")
                emit(depth + 2, f"walk.item({rule_name}, item, {item_path}, local_refs)")

    def primitive_items(self, depth: int, rule: Rule, rule_name: str, key: str, item_path: str) -> None:
        """Walk._primitive_items, unrolled: each item's format, then its binding."""
        emit, const = self.emit, self.compiled.constant
        check = const("CHECK", rule.check)
        # a null is a placeholder for an item that has only `_key` (json.html#primitive)
        emit(depth, f"nulls_allowed = {'_' + key!r} in obj")
        emit(depth, "for index, item in enumerate(value):")
        emit(depth + 1, "if item is None and nulls_allowed:")
        emit(depth + 2, "continue")
        if rule.string:
            emit(depth + 1, "if type(item) is str and 0 < len(item) <= MAX_STRING:")
            emit(depth + 2, "message = None")
            emit(depth + 1, "else:")
            emit(depth + 2, f"message = {check}(item)")
        else:
            emit(depth + 1, f"message = {check}(item)")
        emit(depth + 1, "if message is not None:")
        emit(depth + 2, f'walk.error("value" if item is not None else "structure", message, {item_path})')
        if rule.binding is not None:
            emit(depth + 1, "else:")
            emit(depth + 2, f"check_binding(walk, {rule_name}, None, item, {item_path})")

    def complex_item(self, depth: int, rule: Rule, rule_name: str, value: str, here: str) -> None:
        """Walk.item for a JSON object: its table, then what its type adds."""
        emit = self.emit
        if rule.is_resource or rule.table is None:
            emit(depth, f"walk.item({rule_name}, {value}, {here}, local_refs)")
            return
        if self.remembers(rule):
            # A CodeableConcept found valid here before (its walk and binding gave no issue
            # and collected nothing) is not walked again: same codings and text, same rule,
            # same result; the set is emptied when value sets or constraints change.
            memo = rule.memo
            if memo is None:
                memo = rule.memo = known_set()
            memo_name = self.compiled.constant("MEMO", memo)
            emit(depth, "try:")
            emit(depth + 1, f"memo_key = (tuple(map(tuple, map(dict.items, {value}['coding']))), "
                            f"{value}.get('text'), len({value}))")
            emit(depth + 1, f"memo_hit = memo_key in {memo_name}")
            emit(depth, "except (KeyError, TypeError):  # no codings, or not of a remembered form")
            emit(depth + 1, "memo_key = None")
            emit(depth + 1, "memo_hit = False")
            emit(depth, "if not memo_hit:")
            depth += 1
            emit(depth, "memo_before = (len(walk.issues), len(walk.pending), len(walk.extensions), "
                        "len(local_refs))")
            if rule.binding is not None:
                emit(depth, f"where = {here}")
                here = "where"
            self.call(depth, rule, value, here)
            if rule.binding is not None:
                emit(depth, f"check_binding(walk, {rule_name}, 'CodeableConcept', {value}, where)")
            emit(depth, "if memo_key is not None and memo_before == (len(walk.issues), len(walk.pending), "
                        f"len(walk.extensions), len(local_refs)) and cc_memorable({value}):")
            emit(depth + 1, f"if len({memo_name}) >= OBJECT_LIMIT:")
            emit(depth + 2, f"{memo_name}.clear()")
            emit(depth + 1, f"{memo_name}.add(memo_key)")
            return
        if rule.code == "Extension" and rule.table is self.compiled.model.tables.get("Extension"):
            self.call(depth, rule, value, here)  # its function ends with Walk._extension's checks
            return
        if rule.code in ("Reference", "Extension") or rule.binding is not None and rule.code in (
                "CodeableConcept", "Coding"):
            emit(depth, f"where = {here}")
            here = "where"
        self.call(depth, rule, value, here)
        if rule.code == "Reference":
            emit(depth, f"walk._reference({rule_name}, {value}, where, local_refs)")
        elif rule.code == "Extension":
            emit(depth, f"walk._extension({value}, where)")
        elif rule.binding is not None and rule.code in ("CodeableConcept", "Coding"):
            emit(depth, f"check_binding(walk, {rule_name}, {rule.code!r}, {value}, where)")

    def call(self, depth: int, rule: Rule, value: str, here: str) -> None:
        """Walk `value` with its table's function. A flat object of a remembering table
        (Table.known: Coding, Period, Quantity, ...) that is already known to be valid is
        skipped here, by the test that function would begin with, without calling it or
        formatting its path (most codings and periods in real data are known ones)."""
        emit = self.emit
        known = rule.table.known
        if known is None:
            emit(depth, f"{self.walker_of(rule)}(walk, {value}, {here}, local_refs)")
            return
        emit(depth, "try:")
        emit(depth + 1, f"known_flat = tuple({value}.items()) in {self.compiled.constant('KNOWN', known)}")
        emit(depth, "except TypeError:  # a list or object inside: not a flat one")
        emit(depth + 1, "known_flat = False")
        emit(depth, "if not known_flat:")
        emit(depth + 1, f"{self.walker_of(rule)}(walk, {value}, {here}, local_refs)")

    def remembers(self, rule: Rule) -> bool:
        """Whether valid CodeableConcepts of this rule are remembered (Rule.memo)."""
        return rule.code == "CodeableConcept" and rule.table is self.compiled.model.tables.get("CodeableConcept")

    def walker_of(self, rule: Rule) -> str:
        return self.compiled.name(rule.table)
