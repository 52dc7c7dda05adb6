-- The audit trail as a lean log, and the access facts' change marker; see the SQLite file
-- of the same number for what each column holds.
CREATE TABLE audit_log (
    chain text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    recorded text COLLATE "C" NOT NULL,
    actor_kind text COLLATE "C" NOT NULL,
    actor_id text COLLATE "C" NOT NULL,
    token_id text NOT NULL DEFAULT '',
    on_behalf text COLLATE "C" NOT NULL DEFAULT '',
    organization text COLLATE "C" NOT NULL DEFAULT '',
    purpose text COLLATE "C" NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    relation text COLLATE "C" NOT NULL DEFAULT '',
    interaction text COLLATE "C" NOT NULL,
    resource_type text COLLATE "C" NOT NULL DEFAULT '',
    refs text NOT NULL DEFAULT '',
    query text NOT NULL DEFAULT '',
    patient text COLLATE "C" NOT NULL DEFAULT '',
    outcome text COLLATE "C" NOT NULL,
    detail text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    previous text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_log_patient ON audit_log (patient, recorded);
CREATE INDEX audit_log_recorded ON audit_log (recorded);
CREATE INDEX audit_log_actor ON audit_log (actor_id, recorded);

CREATE TABLE facts_version (
    id integer PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO facts_version (id, version) VALUES (1, 0);
