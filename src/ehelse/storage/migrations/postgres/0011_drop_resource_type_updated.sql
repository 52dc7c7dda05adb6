-- `resource_type_updated` (type, last_updated, id) held nearly the keys of
-- `resource_type_live` (type, last_updated, id, deleted) WHERE NOT deleted (0006), and no
-- statement needs it any more: every search has `NOT r.deleted` (search/execute.py), history
-- reads `resource_version`, and reads by id, exports and the type list go by the primary key.
-- Each create, update and delete moved a key in both: one B-tree page (a WAL page on SQLite)
-- per write for nothing (docs/benchmarks.md, sixth and seventh sessions).
DROP INDEX IF EXISTS resource_type_updated;
