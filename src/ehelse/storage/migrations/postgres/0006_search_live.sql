-- Search over the live (not deleted) current versions (search/execute.py): every search
-- has `NOT r.deleted AND r.type = ?`, ordered by (last_updated, id) unless sorted. With the
-- deleted flag only in the table, `_total=accurate` over a whole type read every row of it
-- (the content is in the same row); this partial index answers the count from the index
-- alone and serves the default order of a type's live resources.
-- `deleted` is in it too, so SQLite sees the index as covering for these queries.
CREATE INDEX resource_type_live ON resource (type, last_updated, id, deleted) WHERE NOT deleted;
