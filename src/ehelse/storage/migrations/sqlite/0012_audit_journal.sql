-- audit_journal: how far each audit journal file has been moved into audit_log
-- (src/ehelse/audit/journal.py). On SQLite, audit records written outside a write transaction
-- go to a journal file of the writing process first (`<database file>-audit/*.journal`) and
-- reach audit_log in bulk; `position` is the byte offset after the last line moved, updated
-- in the same transaction as the rows, so each row lands once.
CREATE TABLE audit_journal (
    file TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
