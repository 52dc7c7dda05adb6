-- Full text, second step: the FTS5 terms are the words qualified by the resource type
-- (`patient_hansen`) instead of the words and one `$patient` token per document
-- (search/fulltext.py). A prefix query then reads the doclists of one type's words only:
-- `Patient?_content=hans` read every `hansen` of every type before ANDing `$patient`
-- (a patient's name is in the `_content` of every resource about the patient; 17.8 ms CPU
-- per search at N=10,000). A system search ORs the word over every type.
-- The type is its own token prefix, joined by `_` (a token character): no type's name
-- followed by `_` starts another type's, so no term of one type can match another's query.
DROP TRIGGER text_index_fts_insert;
DROP TRIGGER text_index_fts_delete;
DROP TRIGGER text_index_content_insert;
DROP TRIGGER text_index_content_delete;
DROP TRIGGER text_index_fts_update;
DROP TABLE text_fts;
DROP TABLE content_fts;
CREATE VIRTUAL TABLE text_fts USING fts5(words, content='', tokenize="ascii tokenchars '_'", detail=none);
CREATE VIRTUAL TABLE content_fts USING fts5(words, content='', tokenize="ascii tokenchars '_'", detail=none);
CREATE TRIGGER text_index_fts_insert AFTER INSERT ON text_index WHEN new.param = '_text' BEGIN INSERT INTO text_fts (rowid, words) VALUES (new.seq, new.type || '_' || replace(trim(new.words), ' ', ' ' || new.type || '_')); END;
CREATE TRIGGER text_index_fts_delete AFTER DELETE ON text_index WHEN old.param = '_text' BEGIN INSERT INTO text_fts (text_fts, rowid, words) VALUES ('delete', old.seq, old.type || '_' || replace(trim(old.words), ' ', ' ' || old.type || '_')); END;
CREATE TRIGGER text_index_content_insert AFTER INSERT ON text_index WHEN new.param = '_content' BEGIN INSERT INTO content_fts (rowid, words) VALUES (new.seq, new.type || '_' || replace(trim(new.words), ' ', ' ' || new.type || '_')); END;
CREATE TRIGGER text_index_content_delete AFTER DELETE ON text_index WHEN old.param = '_content' BEGIN INSERT INTO content_fts (content_fts, rowid, words) VALUES ('delete', old.seq, old.type || '_' || replace(trim(old.words), ' ', ' ' || old.type || '_')); END;
-- text_index rows are never updated (a rewrite deletes and inserts); were one to be, the
-- indexes would follow
CREATE TRIGGER text_index_fts_update AFTER UPDATE ON text_index BEGIN INSERT INTO text_fts (text_fts, rowid, words) SELECT 'delete', old.seq, old.type || '_' || replace(trim(old.words), ' ', ' ' || old.type || '_') WHERE old.param = '_text'; INSERT INTO content_fts (content_fts, rowid, words) SELECT 'delete', old.seq, old.type || '_' || replace(trim(old.words), ' ', ' ' || old.type || '_') WHERE old.param = '_content'; INSERT INTO text_fts (rowid, words) SELECT new.seq, new.type || '_' || replace(trim(new.words), ' ', ' ' || new.type || '_') WHERE new.param = '_text'; INSERT INTO content_fts (rowid, words) SELECT new.seq, new.type || '_' || replace(trim(new.words), ' ', ' ' || new.type || '_') WHERE new.param = '_content'; END;
INSERT INTO text_fts (rowid, words) SELECT seq, type || '_' || replace(trim(words), ' ', ' ' || type || '_') FROM text_index WHERE param = '_text';
INSERT INTO content_fts (rowid, words) SELECT seq, type || '_' || replace(trim(words), ' ', ' ' || type || '_') FROM text_index WHERE param = '_content';
