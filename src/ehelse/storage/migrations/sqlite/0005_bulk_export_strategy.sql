-- FHIR Bulk Data export jobs (src/ehelse/bulk/jobs.py) and the strategy's plan
-- (src/ehelse/portals/strategy/store.py). Times are seconds since the epoch.
--
-- bulk_job: one row per $export kick-off. `owner` is the requesting actor as JSON (the
-- worker runs the export as that actor; only that actor may poll or download), `request`
-- the parsed kick-off parameters as JSON. A worker claims a job by setting `worker` and
-- `lease_until` in one statement; a job whose lease ran out (its worker died) is claimed
-- again. `manifest` is the complete-status body; `expires` when its files are deleted.
CREATE TABLE bulk_job (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '',
    transaction_time TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    manifest TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    expires REAL NOT NULL DEFAULT 0
);
CREATE INDEX bulk_job_status ON bulk_job (status, created);

-- strategy_item: the strategy's goals, sub-goals, roadmap activities and indicators; one
-- table, `kind` tells which, `parent` links a sub-goal to its goal and an activity or an
-- indicator to its (sub-)goal. `data` holds the kind's own fields as JSON (owner, status,
-- dates; baseline, target, year, unit, computed-by).
CREATE TABLE strategy_item (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL DEFAULT 0
);
CREATE INDEX strategy_item_kind ON strategy_item (kind, position);
