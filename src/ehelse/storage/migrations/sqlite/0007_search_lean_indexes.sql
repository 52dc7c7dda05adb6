-- Search index, third step: fewer indexes to maintain on every write. Since search/compile.py
-- checks dense parameters (codes, date ranges, quantities, :text) per candidate row through
-- the (type, id) index, the range indexes it no longer starts from are dropped (measured:
-- index rows were ~240 µs of a ~330 µs Synthea create on SQLite). Absolute-URL references
-- are few, so their index holds only rows that have a URL (queries say `url <> ''`).
DROP INDEX date_index_high;
DROP INDEX quantity_index_lookup;
DROP INDEX token_index_text;
DROP INDEX reference_index_url;
CREATE INDEX reference_index_url ON reference_index (type, param, url) WHERE url <> '';
