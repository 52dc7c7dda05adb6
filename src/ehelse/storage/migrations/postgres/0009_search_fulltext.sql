-- Full text (`_text`, `_content`, search.html#text) through GIN indexes instead of a
-- LIKE '% word%' scan of text_index (search/compile.py, search/fulltext.py).
-- words_tsv holds the row's words as lexemes exactly as search/values.py folded them
-- (array_to_tsvector: no parser, no dictionary), so PostgreSQL matches the same words as
-- SQLite's FTS5 indexes and the reference evaluator; searched as `words_tsv @@ 'w':*`
-- (prefix lexemes, which GIN answers). One more lexeme, `$` and the resource type
-- (`$Patient`), lets a search of one type AND it inside the index, so the rows of other
-- types that share the words are never read (no query word can be one: they are \w only). A generated column: every insert of a text_index row,
-- in the write's transaction, computes it, and adding it computes it for the rows already
-- there. One partial index per parameter (search statements are planned for their values,
-- storage/postgres/repository.py), so a `_text` search never reads the `_content` rows that
-- share its words.
ALTER TABLE text_index ADD COLUMN words_tsv tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(btrim(words) || ' $' || type, ' '))) STORED;
CREATE INDEX text_index_narrative ON text_index USING gin (words_tsv) WHERE param = '_text';
CREATE INDEX text_index_content ON text_index USING gin (words_tsv) WHERE param = '_content';
