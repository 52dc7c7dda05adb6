-- The first schema of the embedded backend. See storage/migrations/__init__.py.
-- Current versions: one row per resource; read by id is one primary-key lookup returning
-- the stored bytes. `deleted` rows keep the last version number so a later write continues it.
CREATE TABLE resource (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    method TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    content BLOB,
    PRIMARY KEY (type, id)
);
-- search order is (last_updated, id) within a type
CREATE INDEX resource_type_updated ON resource (type, last_updated, id);
CREATE INDEX resource_updated ON resource (last_updated);

-- Every version, deletions included (content NULL): vread and history.
CREATE TABLE resource_version (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    method TEXT NOT NULL,
    content BLOB,
    PRIMARY KEY (type, id, version_id)
);
CREATE INDEX resource_version_updated ON resource_version (last_updated);
CREATE INDEX resource_version_type_updated ON resource_version (type, last_updated);

-- Token search index (storage/index.py); rows are rewritten with every write of a resource.
CREATE TABLE token_index (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    param TEXT NOT NULL,
    system TEXT NOT NULL,
    code TEXT NOT NULL
);
CREATE INDEX token_index_lookup ON token_index (type, param, code, system);
CREATE INDEX token_index_resource ON token_index (type, id);

-- Token signing keys (private JWKs); `seq` orders them newest first.
CREATE TABLE signing_key (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kid TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    jwk TEXT NOT NULL
);
