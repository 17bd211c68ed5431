-- The Cargo registry (issue 19, SQLite). Never edit once shipped: add a new file.
-- Crate names are unique after cargo's normalisation (ASCII lowercase, '-' as '_');
-- versions are immutable (their yank state lives in cargo_yanks); publish tokens from
-- the trusted-publishing exchange are stored as SHA-256 only.

CREATE TABLE cargo_crates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    name_norm  TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE cargo_owners (
    crate_id INTEGER NOT NULL REFERENCES cargo_crates (id),
    user_id  INTEGER NOT NULL REFERENCES users (id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (crate_id, user_id)
);

-- The UNIQUE (crate_id, vers_key) constraint decides concurrent publishes of one
-- version (vers_key is the version without build metadata, as crates.io compares).
CREATE TABLE cargo_versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    crate_id      INTEGER NOT NULL REFERENCES cargo_crates (id),
    vers          TEXT NOT NULL CHECK (length(vers) BETWEEN 1 AND 200),
    vers_key      TEXT NOT NULL,
    cksum         TEXT NOT NULL CHECK (length(cksum) = 64),
    blake3        TEXT NOT NULL CHECK (length(blake3) = 64),
    size          INTEGER NOT NULL CHECK (size >= 0),
    index_line    TEXT NOT NULL,
    published_by  TEXT,
    trustpub_data TEXT,
    provenance    TEXT NOT NULL,
    pubtime       INTEGER NOT NULL,
    UNIQUE (crate_id, vers_key)
);
CREATE TRIGGER cargo_versions_immutable_update BEFORE UPDATE ON cargo_versions
BEGIN SELECT RAISE(ABORT, 'cargo versions are immutable'); END;
CREATE TRIGGER cargo_versions_immutable_delete BEFORE DELETE ON cargo_versions
BEGIN SELECT RAISE(ABORT, 'cargo versions are immutable'); END;

CREATE TABLE cargo_yanks (
    version_id INTEGER PRIMARY KEY REFERENCES cargo_versions (id),
    yanked     INTEGER NOT NULL CHECK (yanked IN (0, 1)),
    changed_at INTEGER NOT NULL
);

CREATE TABLE cargo_bindings (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    crate_id       INTEGER NOT NULL REFERENCES cargo_crates (id),
    provider       TEXT NOT NULL CHECK (provider IN ('github', 'gitlab')),
    repository     TEXT NOT NULL,
    repository_lc  TEXT NOT NULL,
    workflow       TEXT NOT NULL,
    environment    TEXT,
    environment_lc TEXT NOT NULL,
    created_by     INTEGER NOT NULL REFERENCES users (id),
    created_at     INTEGER NOT NULL,
    removed_at     INTEGER
);
CREATE UNIQUE INDEX cargo_bindings_active_unique ON cargo_bindings
    (crate_id, provider, repository_lc, workflow, environment_lc)
    WHERE removed_at IS NULL;
CREATE INDEX cargo_bindings_repository ON cargo_bindings (provider, repository_lc);

CREATE TABLE cargo_publish_tokens (
    token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    crates     TEXT NOT NULL,
    publisher  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX cargo_publish_tokens_expiry ON cargo_publish_tokens (expires_at);
