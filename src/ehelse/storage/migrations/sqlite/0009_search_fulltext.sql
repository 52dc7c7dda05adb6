-- Full text (`_text`, `_content`, search.html#text) through FTS5 indexes instead of a
-- LIKE '% word%' scan of text_index (search/compile.py, search/fulltext.py).
-- text_fts (the narratives, `_text`) and content_fts (the strings, `_content`) are
-- contentless FTS5 tables (https://sqlite.org/fts5.html#contentless_tables): the words are
-- stored once, in text_index, and each table indexes one parameter's rows, so a `_text`
-- search never wades through the `_content` rows that share its words. Triggers keep them
-- in step with every insert and delete of a text_index row, so the write's transaction
-- fills them like the other index rows (a contentless table deletes a row given the
-- values it was indexed with, which the trigger has).
-- text_index gets an explicit INTEGER PRIMARY KEY (`seq`), the FTS rowid: VACUUM may
-- renumber the implicit rowids of a table without one, which would leave the FTS tables
-- pointing at the wrong rows.
-- Each FTS document is the row's words and one more token, `$` and the resource type
-- (`$patient`): a search of one type ANDs it, so FTS5 keeps only that type's rows and the
-- others never cost a lookup (a patient's name is in the `_content` of every resource that
-- refers to the patient). No query word can be such a token: query words are \w only.
-- Tokenizer `ascii` with `_` and `$` as token characters: the stored words are already
-- split and folded by search/values.py (\w{2,}, folded as string search folds), so FTS5
-- must split on the spaces only. detail=none: queries are word prefixes ANDed, which need
-- neither columns nor positions, and the index is smaller and quicker to build without them.
CREATE TABLE text_index_seq (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    words TEXT NOT NULL,
    grp INTEGER
);
INSERT INTO text_index_seq (type, id, param, words, grp) SELECT type, id, param, words, grp FROM text_index;
DROP TABLE text_index;
ALTER TABLE text_index_seq RENAME TO text_index;
CREATE INDEX text_index_resource ON text_index (type, id);
CREATE VIRTUAL TABLE text_fts USING fts5(words, content='', tokenize="ascii tokenchars '_$'", detail=none);
CREATE VIRTUAL TABLE content_fts USING fts5(words, content='', tokenize="ascii tokenchars '_$'", detail=none);
CREATE TRIGGER text_index_fts_insert AFTER INSERT ON text_index WHEN new.param = '_text' BEGIN INSERT INTO text_fts (rowid, words) VALUES (new.seq, new.words || ' $' || new.type); END;
CREATE TRIGGER text_index_fts_delete AFTER DELETE ON text_index WHEN old.param = '_text' BEGIN INSERT INTO text_fts (text_fts, rowid, words) VALUES ('delete', old.seq, old.words || ' $' || old.type); END;
CREATE TRIGGER text_index_content_insert AFTER INSERT ON text_index WHEN new.param = '_content' BEGIN INSERT INTO content_fts (rowid, words) VALUES (new.seq, new.words || ' $' || new.type); END;
CREATE TRIGGER text_index_content_delete AFTER DELETE ON text_index WHEN old.param = '_content' BEGIN INSERT INTO content_fts (content_fts, rowid, words) VALUES ('delete', old.seq, old.words || ' $' || old.type); END;
-- text_index rows are never updated (a rewrite deletes and inserts); were one to be, the
-- indexes would follow
CREATE TRIGGER text_index_fts_update AFTER UPDATE ON text_index BEGIN INSERT INTO text_fts (text_fts, rowid, words) SELECT 'delete', old.seq, old.words || ' $' || old.type WHERE old.param = '_text'; INSERT INTO content_fts (content_fts, rowid, words) SELECT 'delete', old.seq, old.words || ' $' || old.type WHERE old.param = '_content'; INSERT INTO text_fts (rowid, words) SELECT new.seq, new.words || ' $' || new.type WHERE new.param = '_text'; INSERT INTO content_fts (rowid, words) SELECT new.seq, new.words || ' $' || new.type WHERE new.param = '_content'; END;
-- the rows written before this version
INSERT INTO text_fts (rowid, words) SELECT seq, words || ' $' || type FROM text_index WHERE param = '_text';
INSERT INTO content_fts (rowid, words) SELECT seq, words || ' $' || type FROM text_index WHERE param = '_content';
