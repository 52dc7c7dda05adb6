-- The audit trail as a lean log (src/ehelse/audit/): one row per record, one record per
-- patient touched by a request. AuditEvent resources are rendered from these rows on the fly
-- (audit/render.py); they are not stored in `resource`.
--
-- audit_log: (chain, seq) is the hash chain of one server process (audit/trail.py): `hash`
-- is SHA-256 over the row's other columns and `previous` (audit/chain.py), so a modified,
-- deleted or inserted row breaks it. `refs` the resources touched, space-separated
-- ("Observation/1 Observation/2"); `patient` '' when a record names no patient (an
-- analysis run or a bulk kick-off). Times are FHIR instants in UTC (sortable as text).
CREATE TABLE audit_log (
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    recorded TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    token_id TEXT NOT NULL DEFAULT '',
    on_behalf TEXT NOT NULL DEFAULT '',
    organization TEXT NOT NULL DEFAULT '',
    purpose TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    relation TEXT NOT NULL DEFAULT '',
    interaction TEXT NOT NULL,
    resource_type TEXT NOT NULL DEFAULT '',
    refs TEXT NOT NULL DEFAULT '',
    query TEXT NOT NULL DEFAULT '',
    patient TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    previous TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_log_patient ON audit_log (patient, recorded);
CREATE INDEX audit_log_recorded ON audit_log (recorded);
CREATE INDEX audit_log_actor ON audit_log (actor_id, recorded);

-- facts_version: one row, bumped by every write through the API that can change who may see
-- what (Consent, RelatedPerson, Patient, Encounter, EpisodeOfCare, Appointment,
-- ServiceRequest). Every server process reads it once per request and drops its cached
-- access facts when it moved (access/care.py), so a new block applies on the next request.
CREATE TABLE facts_version (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL
);
INSERT INTO facts_version (id, version) VALUES (1, 0);
