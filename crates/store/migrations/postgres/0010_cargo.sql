-- The Cargo registry (issue 19, SQLite). Never edit once shipped: add a new file.
-- Crate names are unique after cargo's normalisation (ASCII lowercase, '-' as '_');
-- versions are immutable (their yank state lives in cargo_yanks); publish tokens from
-- the trusted-publishing exchange are stored as SHA-256 only.

CREATE TABLE cargo_crates (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    name_norm  TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE cargo_owners (
    crate_id BIGINT NOT NULL REFERENCES cargo_crates (id),
    user_id  BIGINT NOT NULL REFERENCES users (id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (crate_id, user_id)
);

-- The UNIQUE (crate_id, vers_key) constraint decides concurrent publishes of one
-- version (vers_key is the version without build metadata, as crates.io compares).
CREATE TABLE cargo_versions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crate_id      BIGINT NOT NULL REFERENCES cargo_crates (id),
    vers          TEXT NOT NULL CHECK (length(vers) BETWEEN 1 AND 200),
    vers_key      TEXT NOT NULL,
    cksum         TEXT NOT NULL CHECK (length(cksum) = 64),
    blake3        TEXT NOT NULL CHECK (length(blake3) = 64),
    size          BIGINT NOT NULL CHECK (size >= 0),
    index_line    TEXT NOT NULL,
    published_by  TEXT,
    trustpub_data TEXT,
    provenance    TEXT NOT NULL,
    pubtime       BIGINT NOT NULL,
    UNIQUE (crate_id, vers_key)
);
CREATE TRIGGER cargo_versions_immutable BEFORE UPDATE OR DELETE ON cargo_versions
    FOR EACH ROW EXECUTE FUNCTION vouch_refuse_change();
CREATE TRIGGER cargo_versions_no_truncate BEFORE TRUNCATE ON cargo_versions
    FOR EACH STATEMENT EXECUTE FUNCTION vouch_refuse_change();

CREATE TABLE cargo_yanks (
    version_id BIGINT PRIMARY KEY REFERENCES cargo_versions (id),
    yanked     BIGINT NOT NULL CHECK (yanked IN (0, 1)),
    changed_at BIGINT NOT NULL
);

CREATE TABLE cargo_bindings (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crate_id       BIGINT NOT NULL REFERENCES cargo_crates (id),
    provider       TEXT NOT NULL CHECK (provider IN ('github', 'gitlab')),
    repository     TEXT NOT NULL,
    repository_lc  TEXT NOT NULL,
    workflow       TEXT NOT NULL,
    environment    TEXT,
    environment_lc TEXT NOT NULL,
    created_by     BIGINT NOT NULL REFERENCES users (id),
    created_at     BIGINT NOT NULL,
    removed_at     BIGINT
);
CREATE UNIQUE INDEX cargo_bindings_active_unique ON cargo_bindings
    (crate_id, provider, repository_lc, workflow, environment_lc)
    WHERE removed_at IS NULL;
CREATE INDEX cargo_bindings_repository ON cargo_bindings (provider, repository_lc);

CREATE TABLE cargo_publish_tokens (
    token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    crates     TEXT NOT NULL,
    publisher  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX cargo_publish_tokens_expiry ON cargo_publish_tokens (expires_at);
