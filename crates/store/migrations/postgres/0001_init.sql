-- vouch metadata schema v1 (PostgreSQL). Never edit once shipped: add a new file.
-- Times are Unix seconds; digests are lowercase hex; *_lc columns hold the
-- lowercased copies that matching compares ('' when absent).

CREATE TABLE users (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    email      TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    label      TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE packages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    created_at BIGINT NOT NULL
);

CREATE TABLE package_owners (
    package_id BIGINT NOT NULL REFERENCES packages (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (package_id, user_id)
);

CREATE TABLE bindings (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id          BIGINT NOT NULL REFERENCES packages (id),
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
    created_by          BIGINT NOT NULL REFERENCES users (id),
    created_at          BIGINT NOT NULL,
    removed_at          BIGINT
);
-- One active copy of each binding; removed ones stay for the versions citing them.
CREATE UNIQUE INDEX bindings_active_unique ON bindings
    (package_id, provider, repository_lc, workflow, environment_lc, email_lc)
    WHERE removed_at IS NULL;

CREATE TABLE pending_bindings (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    created_by     BIGINT NOT NULL REFERENCES users (id),
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX pending_bindings_unique ON pending_bindings
    (package_name, provider, repository_lc, workflow, environment_lc, email_lc);

-- Index entries. The UNIQUE (package_id, version) constraint decides concurrent
-- publishes of one version; inserting a row is the commit point of a publish.
CREATE TABLE versions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id BIGINT NOT NULL REFERENCES packages (id),
    version    TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 200),
    blake3     TEXT NOT NULL CHECK (length(blake3) = 64),
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    size       BIGINT NOT NULL CHECK (size >= 0),
    bundle_key TEXT NOT NULL,
    log_index  BIGINT NOT NULL CHECK (log_index >= 0),
    publisher  TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    binding_id BIGINT REFERENCES bindings (id),
    created_at BIGINT NOT NULL,
    UNIQUE (package_id, version)
);
CREATE INDEX versions_blake3 ON versions (blake3);

CREATE TABLE oidc_replay (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_replay_expiry ON oidc_replay (expires_at);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event   TEXT NOT NULL,
    actor   TEXT,
    subject TEXT,
    details TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only and immutable tables refuse UPDATE and DELETE (TRUNCATE too).
CREATE FUNCTION vouch_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER versions_immutable BEFORE UPDATE OR DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION vouch_refuse_change();
CREATE TRIGGER versions_no_truncate BEFORE TRUNCATE ON versions
    FOR EACH STATEMENT EXECUTE FUNCTION vouch_refuse_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION vouch_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION vouch_refuse_change();
