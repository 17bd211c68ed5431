-- vouch metadata schema v1 (SQLite). Never edit once shipped: add a new file.
-- Times are Unix seconds; digests are lowercase hex; *_lc columns hold the
-- lowercased copies that matching compares ('' when absent).

CREATE TABLE users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    email      TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    label      TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE packages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    created_at INTEGER NOT NULL
);

CREATE TABLE package_owners (
    package_id INTEGER NOT NULL REFERENCES packages (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (package_id, user_id)
);

CREATE TABLE bindings (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id          INTEGER NOT NULL REFERENCES packages (id),
    provider            TEXT NOT NULL CHECK (provider IN
                          ('github', 'gitlab', 'buildkite', 'circleci', 'forgejo', 'email')),
    repository          TEXT NOT NULL,
    repository_lc       TEXT NOT NULL,
    workflow            TEXT NOT NULL,
    environment         TEXT,
    environment_lc      TEXT NOT NULL,
    email               TEXT,
    email_lc            TEXT NOT NULL,
    repository_owner_id TEXT,
    created_by          INTEGER NOT NULL REFERENCES users (id),
    created_at          INTEGER NOT NULL,
    removed_at          INTEGER
);
-- One active copy of each binding; removed ones stay for the versions citing them.
CREATE UNIQUE INDEX bindings_active_unique ON bindings
    (package_id, provider, repository_lc, workflow, environment_lc, email_lc)
    WHERE removed_at IS NULL;

CREATE TABLE pending_bindings (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    package_name   TEXT NOT NULL CHECK (length(package_name) BETWEEN 1 AND 200),
    provider       TEXT NOT NULL CHECK (provider IN
                     ('github', 'gitlab', 'buildkite', 'circleci', 'forgejo', 'email')),
    repository     TEXT NOT NULL,
    repository_lc  TEXT NOT NULL,
    workflow       TEXT NOT NULL,
    environment    TEXT,
    environment_lc TEXT NOT NULL,
    email          TEXT,
    email_lc       TEXT NOT NULL,
    created_by     INTEGER NOT NULL REFERENCES users (id),
    created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX pending_bindings_unique ON pending_bindings
    (package_name, provider, repository_lc, workflow, environment_lc, email_lc);

-- Index entries. The UNIQUE (package_id, version) constraint decides concurrent
-- publishes of one version; inserting a row is the commit point of a publish.
CREATE TABLE versions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id INTEGER NOT NULL REFERENCES packages (id),
    version    TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 200),
    blake3     TEXT NOT NULL CHECK (length(blake3) = 64),
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    size       INTEGER NOT NULL CHECK (size >= 0),
    bundle_key TEXT NOT NULL,
    log_index  INTEGER NOT NULL CHECK (log_index >= 0),
    publisher  TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    binding_id INTEGER REFERENCES bindings (id),
    created_at INTEGER NOT NULL,
    UNIQUE (package_id, version)
);
CREATE INDEX versions_blake3 ON versions (blake3);
CREATE TRIGGER versions_immutable_update BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
CREATE TRIGGER versions_immutable_delete BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;

CREATE TABLE oidc_replay (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_replay_expiry ON oidc_replay (expires_at);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    event   TEXT NOT NULL,
    actor   TEXT,
    subject TEXT,
    details TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
