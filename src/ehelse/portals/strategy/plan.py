"""The strategy's plan as data: goals, sub-goals, roadmap activities and indicators.

Stored in the `strategy_item` table (storage/migrations/*/0005): one row per item, `kind`
goal | subgoal | activity | indicator, `parent` the code of the goal or sub-goal it belongs
to, `data` the kind's own fields as JSON. An own table rather than FHIR PlanDefinition/Goal/
Measure resources: the plan is the deployment's governance data, not anyone's health data;
activities need owner and status fields R4 has no element for (extensions throughout), and
admins edit it as rows (CSV import, forms) rather than as resources.

The seed is the structure of Nasjonal e-helsestrategi 2023–2030 (the five goals, sub-goals
1A ...); sub-goal and activity wording is shortened and marked as an ILLUSTRATIVE SEED, to be
replaced by the official text with `ehelse strategy import plan.csv`. The indicator figures
are those the strategy states (2023: 57 % digital contact with the health service, 47 % with
the GP; medication list at 25 % of priority actors by mid-2026, 50 % 2027, 80 % 2029).
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import orjson

from ehelse.errors import BadRequest

KINDS = ("goal", "subgoal", "activity", "indicator")
CSV_COLUMNS = ("code", "kind", "parent", "title", "owner", "status", "start", "end", "baseline", "baseline_year",
               "target", "target_year", "unit", "computed")
STATUSES = ("planlagt", "pågår", "fullført", "forsinket")


@dataclass(slots=True)
class Item:
    code: str
    kind: str
    title: str
    parent: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    position: int = 0


SEED: tuple[Item, ...] = (
    Item("1", "goal", "Aktiv medvirkning i egen og næres helse"),
    Item("2", "goal", "Enklere arbeidshverdag for helsepersonell"),
    Item("3", "goal", "Helsedata til fornying og forbedring"),
    Item("4", "goal", "Tilgjengelig informasjon og styrket samhandling"),
    Item("5", "goal", "Samarbeid og gjennomføringskraft"),
    Item("1A", "subgoal", "Innbyggeren kan håndtere forløp, digital dialog og tilgangstjenester", "1", {"seed": "illustrativ"}),
    Item("1B", "subgoal", "Innbyggeren kan handle på vegne av andre", "1", {"seed": "illustrativ"}),
    Item("2A", "subgoal", "Helsepersonell får relevant informasjon samlet", "2", {"seed": "illustrativ"}),
    Item("3A", "subgoal", "Enklere og sikrere tilgang til helsedata for forskning og styring", "3", {"seed": "illustrativ"}),
    Item("4A", "subgoal", "Pasientens legemiddelliste i bruk hos prioriterte aktører", "4", {"seed": "illustrativ"}),
    Item("4B", "subgoal", "Deling av dokumenter på tvers av virksomheter", "4", {"seed": "illustrativ"}),
    Item("5A", "subgoal", "Felles oppfølging av strategien med indikatorer", "5", {"seed": "illustrativ"}),
    Item("A1", "activity", "Digital dialog med fastlegen for alle innbyggere", "1A",
         {"owner": "Helsedirektoratet", "status": "pågår", "start": "2023-01-01", "end": "2026-12-31", "seed": "illustrativ"}),
    Item("A2", "activity", "Innføre pasientens legemiddelliste", "4A",
         {"owner": "Norsk helsenett", "status": "pågår", "start": "2023-06-01", "end": "2029-12-31", "seed": "illustrativ"}),
    Item("A3", "activity", "Helsedataservice: søknad og tilgang til data", "3A",
         {"owner": "Helsedataservice", "status": "planlagt", "start": "2024-01-01", "end": "2027-12-31", "seed": "illustrativ"}),
    Item("I1", "indicator", "Andel innbyggere med digital kontakt med helsetjenesten", "1A",
         {"baseline": 57, "baseline_year": 2023, "unit": "%", "computed": "portal_use"}),
    Item("I2", "indicator", "Andel innbyggere med digital kontakt med fastlegen", "1A",
         {"baseline": 47, "baseline_year": 2023, "unit": "%", "computed": "gp_messages"}),
    Item("I3", "indicator", "Andel innbyggere som handler på vegne av andre", "1B", {"unit": "%", "computed": "acting_for"}),
    Item("I4", "indicator", "Pasientens legemiddelliste hos prioriterte aktører", "4A",
         {"target": 80, "target_year": 2029, "targets": {"2026": 25, "2027": 50, "2029": 80}, "unit": "%",
          "computed": "medication_list"}),
    Item("I5", "indicator", "Andel dokumenter delt på tvers av virksomheter", "4B", {"unit": "%", "computed": "shared_documents"}),
    Item("I6", "indicator", "Andel innbyggere med hjemmemålinger eller skjemasvar", "1A", {"unit": "%", "computed": "self_reported"}),
    Item("I7", "indicator", "Nødrettstilganger per 10 000 tilganger", "2A", {"unit": "per 10 000", "computed": "emergency_access"}),
    Item("I8", "indicator", "Vaksinasjonsdekning etter kommune", "3A", {"unit": "%", "computed": "vaccination_coverage"}),
)


class PlanStore:
    """The strategy_item table on the repository's own connections."""

    def __init__(self, repo: Any):
        self.repo = getattr(repo, "inner", repo)

    def items(self, kind: str | None = None) -> list[Item]:
        sql = "SELECT code, kind, title, parent, data, position FROM strategy_item"
        params: tuple = ()
        if kind:
            sql, params = sql + " WHERE kind = ?", (kind,)
        with self.repo._reading() as conn:
            rows = self.repo._exec(conn, sql + " ORDER BY position, code", params).fetchall()
        return [Item(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5]) for r in rows]

    def get(self, code: str) -> Item | None:
        return next((i for i in self.items() if i.code == code), None)

    def save(self, items: Iterable[Item]) -> int:
        count = 0
        with self.repo._writing() as conn:
            for item in items:
                check(item)
                self.repo._exec(conn, "INSERT INTO strategy_item (code, kind, parent, title, data, position, updated)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET kind = excluded.kind,"
                                " parent = excluded.parent, title = excluded.title, data = excluded.data,"
                                " position = excluded.position, updated = excluded.updated",
                                (item.code, item.kind, item.parent, item.title, orjson.dumps(item.data).decode(),
                                 item.position, time.time()))
                count += 1
        return count

    def ensure_seeded(self) -> None:
        if not self.items("goal"):
            self.save(Item(i.code, i.kind, i.title, i.parent, dict(i.data), n) for n, i in enumerate(SEED))


def check(item: Item) -> None:
    if item.kind not in KINDS:
        raise BadRequest(f"{item.code}: kind must be one of {', '.join(KINDS)}")
    if not item.code or len(item.code) > 20 or not item.title.strip():
        raise BadRequest(f"{item.code!r}: an item needs a code (at most 20 characters) and a title")
    status = item.data.get("status")
    if status and status not in STATUSES:
        raise BadRequest(f"{item.code}: status must be one of {', '.join(STATUSES)}")


def read_csv(text: str) -> list[Item]:
    """Items from CSV with the header CSV_COLUMNS (any order; empty cells are left out)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"code", "kind", "title"} - set(reader.fieldnames or [])
    if missing:
        raise BadRequest(f"The CSV lacks the column(s) {', '.join(sorted(missing))}")
    out = []
    for n, row in enumerate(reader, start=2):
        data: dict[str, Any] = {}
        for key in CSV_COLUMNS[4:]:
            value = (row.get(key) or "").strip()
            if value:
                try:
                    data[key] = float(value) if key in ("baseline", "target") else int(value) if key.endswith("_year") else value
                except ValueError:
                    raise BadRequest(f"line {n}: {key} must be a number, not {value!r}") from None
        item = Item((row.get("code") or "").strip(), (row.get("kind") or "").strip(), (row.get("title") or "").strip(),
                    (row.get("parent") or "").strip(), data, n)
        check(item)
        out.append(item)
    return out
