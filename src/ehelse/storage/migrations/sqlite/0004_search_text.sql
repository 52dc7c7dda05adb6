-- Search index, second step (storage/index.py): measured on the Synthea import, index rows
-- were half the write cost, so:
-- * full text (`_text`, `_content`) moves from one string_index row per word to one
--   text_index row per resource holding its distinct normalised words (' w1 w2 ... ');
--   searched with LIKE '% word%' over the resource's row (search/compile.py).
-- * indexes no lookup needs are dropped: `:exact` is answered through string_index_lookup
--   (the normalised value, then the exact text), `system|` through token_index_lookup;
--   token_index_text only holds rows that have a text.
CREATE TABLE text_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    words TEXT NOT NULL,
    grp INTEGER
);
CREATE INDEX text_index_resource ON text_index (type, id);
DELETE FROM string_index WHERE param IN ('_text', '_content');
DROP INDEX string_index_exact;
DROP INDEX token_index_system;
DROP INDEX token_index_text;
CREATE INDEX token_index_text ON token_index (type, param, text) WHERE text IS NOT NULL;
