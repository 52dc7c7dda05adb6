-- FHIR Bulk Data export jobs and the strategy's plan; see the SQLite file of the same
-- number for what each column holds. Times are seconds since the epoch. Workers claim jobs
-- with SELECT ... FOR UPDATE SKIP LOCKED (src/ehelse/bulk/jobs.py).
CREATE TABLE bulk_job (
    id text COLLATE "C" PRIMARY KEY,
    owner text NOT NULL,
    request text NOT NULL,
    status text COLLATE "C" NOT NULL,
    progress text NOT NULL DEFAULT '',
    transaction_time text NOT NULL,
    created double precision NOT NULL,
    updated double precision NOT NULL,
    worker text NOT NULL DEFAULT '',
    lease_until double precision NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    manifest text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    expires double precision NOT NULL DEFAULT 0
);
CREATE INDEX bulk_job_status ON bulk_job (status, created);

CREATE TABLE strategy_item (
    code text COLLATE "C" PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    parent text COLLATE "C" NOT NULL DEFAULT '',
    title text NOT NULL,
    data text NOT NULL DEFAULT '{}',
    position integer NOT NULL DEFAULT 0,
    updated double precision NOT NULL DEFAULT 0
);
CREATE INDEX strategy_item_kind ON strategy_item (kind, position);
