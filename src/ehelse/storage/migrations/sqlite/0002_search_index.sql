-- Search index tables of the SearchParameter registry (search/registry.py, storage/index.py
-- describes every column). Rows exist only for current versions: a write deletes the old
-- rows of the resource and inserts the new ones in its transaction, so history never slows
-- search. `grp` numbers the element occurrence a composite parameter's component rows come
-- from (NULL for ordinary rows), so `code$value` matches within one occurrence.
-- Text columns hold normalised values compared by byte order, so prefix search is a range
-- `value >= 'abc' AND value < 'abd'` that uses the index (SQLite's LIKE would not).

ALTER TABLE token_index ADD COLUMN text TEXT;
ALTER TABLE token_index ADD COLUMN grp INTEGER;
DROP INDEX token_index_lookup;
CREATE INDEX token_index_lookup ON token_index (type, param, code, system, id);
CREATE INDEX token_index_system ON token_index (type, param, system, code);
CREATE INDEX token_index_text ON token_index (type, param, text);

CREATE TABLE string_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    value TEXT NOT NULL,
    exact TEXT NOT NULL,
    grp INTEGER
);
CREATE INDEX string_index_lookup ON string_index (type, param, value, id);
CREATE INDEX string_index_exact ON string_index (type, param, exact);
CREATE INDEX string_index_resource ON string_index (type, id);

CREATE TABLE date_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    low TEXT NOT NULL,
    high TEXT NOT NULL,
    grp INTEGER
);
CREATE INDEX date_index_low ON date_index (type, param, low, high, id);
CREATE INDEX date_index_high ON date_index (type, param, high, low);
CREATE INDEX date_index_resource ON date_index (type, id);

CREATE TABLE number_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    value REAL NOT NULL,
    low REAL NOT NULL,
    high REAL NOT NULL,
    grp INTEGER
);
CREATE INDEX number_index_lookup ON number_index (type, param, value);
CREATE INDEX number_index_resource ON number_index (type, id);

CREATE TABLE quantity_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    system TEXT NOT NULL,
    code TEXT NOT NULL,
    value REAL NOT NULL,
    low REAL NOT NULL,
    high REAL NOT NULL,
    canonical_code TEXT,
    canonical_value REAL,
    grp INTEGER
);
CREATE INDEX quantity_index_lookup ON quantity_index (type, param, code, value);
CREATE INDEX quantity_index_canonical ON quantity_index (type, param, canonical_code, canonical_value);
CREATE INDEX quantity_index_resource ON quantity_index (type, id);

CREATE TABLE reference_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    url TEXT NOT NULL,
    version TEXT NOT NULL,
    grp INTEGER
);
CREATE INDEX reference_index_lookup ON reference_index (type, param, target_id, target_type, id);
CREATE INDEX reference_index_url ON reference_index (type, param, url);
CREATE INDEX reference_index_target ON reference_index (target_id, target_type, type, param);
CREATE INDEX reference_index_resource ON reference_index (type, id);

CREATE TABLE uri_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    value TEXT NOT NULL,
    grp INTEGER
);
CREATE INDEX uri_index_lookup ON uri_index (type, param, value, id);
CREATE INDEX uri_index_resource ON uri_index (type, id);
