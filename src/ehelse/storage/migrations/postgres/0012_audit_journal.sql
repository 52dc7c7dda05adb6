-- audit_journal: how far each audit journal file has been moved into audit_log
-- (src/ehelse/audit/journal.py). Journals are SQLite's alone: on PostgreSQL every server
-- process may run on a machine of its own, and a file there would be out of the other
-- machines' readers' reach, so audit records are committed to audit_log directly and this
-- table stays empty. It exists so that the two schemas stay in step (one migration list).
CREATE TABLE audit_journal (
    file TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
