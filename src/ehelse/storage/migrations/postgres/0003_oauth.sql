-- The authorisation server's records (src/ehelse/oauth/store.py); see the SQLite file of
-- the same number for what each table holds. Times are seconds since the epoch.
CREATE TABLE oauth_record (
    kind text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    data text NOT NULL,
    expires double precision NOT NULL DEFAULT 0,
    used integer NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, key)
);
CREATE INDEX oauth_record_expires ON oauth_record (expires);

CREATE TABLE revoked_token (
    jti text COLLATE "C" PRIMARY KEY,
    expires double precision NOT NULL,
    revoked double precision NOT NULL
);
CREATE INDEX revoked_token_revoked ON revoked_token (revoked);
