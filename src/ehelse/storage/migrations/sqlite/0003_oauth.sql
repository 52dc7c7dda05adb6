-- The authorisation server's records (src/ehelse/oauth/store.py): registered clients,
-- authorisation codes, refresh tokens, launch contexts, web sessions and used client
-- assertion ids, all as one small table keyed by (kind, key); and the revocation list of
-- access tokens by jti. Times are seconds since the epoch; `expires` 0 means never.
-- Secrets (codes, refresh tokens, session ids) are stored as SHA-256 hashes, never as is.
CREATE TABLE oauth_record (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    expires REAL NOT NULL DEFAULT 0,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, key)
);
CREATE INDEX oauth_record_expires ON oauth_record (expires);

-- Access tokens revoked before they expire; every server process polls rows newer than
-- its last look (`revoked`), so a revocation holds everywhere within seconds.
CREATE TABLE revoked_token (
    jti TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    revoked REAL NOT NULL
);
CREATE INDEX revoked_token_revoked ON revoked_token (revoked);
