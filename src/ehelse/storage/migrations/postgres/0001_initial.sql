-- The first schema of the PostgreSQL backend. See storage/migrations/__init__.py.
-- Instants are stored as text in one fixed UTC format (stamp.now_instant), which sorts
-- correctly and comes back without conversion; keys are COLLATE "C" so order is byte
-- order (as Python and the SQLite backend sort) whatever the database locale. Content is
-- bytea: the exact bytes stamp() made (jsonb would reorder keys and lose decimals' precision).
CREATE TABLE resource (
    type text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    version_id integer NOT NULL,
    last_updated text COLLATE "C" NOT NULL,
    method text NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    content bytea,
    PRIMARY KEY (type, id)
);
CREATE INDEX resource_type_updated ON resource (type, last_updated, id);
CREATE INDEX resource_updated ON resource (last_updated);

CREATE TABLE resource_version (
    type text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    version_id integer NOT NULL,
    last_updated text COLLATE "C" NOT NULL,
    method text NOT NULL,
    content bytea,
    PRIMARY KEY (type, id, version_id)
);
CREATE INDEX resource_version_updated ON resource_version (last_updated);
CREATE INDEX resource_version_type_updated ON resource_version (type, last_updated);

CREATE TABLE token_index (
    type text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    param text NOT NULL,
    system text COLLATE "C" NOT NULL,
    code text COLLATE "C" NOT NULL
);
CREATE INDEX token_index_lookup ON token_index (type, param, code, system);
CREATE INDEX token_index_resource ON token_index (type, id);

CREATE TABLE signing_key (
    seq bigserial PRIMARY KEY,
    kid text NOT NULL UNIQUE,
    created text NOT NULL,
    jwk text NOT NULL
);
