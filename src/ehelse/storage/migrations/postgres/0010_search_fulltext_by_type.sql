-- Full text, second step: the lexemes are the words qualified by the resource type
-- (`Patient_hansen`) instead of the words and one `$Patient` lexeme per row
-- (search/fulltext.py). A prefix query then collects the postings of one type's words
-- only; before, `Patient?_content=hans` collected every `hansen` of every type and ANDed
-- `$Patient`. A system search ORs the word over every type. Dropping the column drops its
-- indexes; adding it computes it for the rows already there.
ALTER TABLE text_index DROP COLUMN words_tsv;
ALTER TABLE text_index ADD COLUMN words_tsv tsvector
    GENERATED ALWAYS AS (array_to_tsvector(string_to_array(type || '_' || replace(btrim(words), ' ', ' ' || type || '_'), ' '))) STORED;
CREATE INDEX text_index_narrative ON text_index USING gin (words_tsv) WHERE param = '_text';
CREATE INDEX text_index_content ON text_index USING gin (words_tsv) WHERE param = '_content';
