-- vouch metadata schema v2 (PostgreSQL): registry integrity. Never edit once shipped.
-- Times are Unix seconds; digests are lowercase hex.

-- This database's identity, made once when the schema is created. Sealed registry
-- keys bind it into their AES-GCM additional data, so key rows copied into another
-- instance's database never open there.
CREATE TABLE registry_instance (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    instance_id TEXT NOT NULL CHECK (length(instance_id) = 32),
    created_at  BIGINT NOT NULL
);
INSERT INTO registry_instance (id, instance_id, created_at)
VALUES (1, md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text),
        extract(epoch FROM now())::bigint);

CREATE FUNCTION vouch_integrity_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER registry_instance_immutable BEFORE UPDATE OR DELETE ON registry_instance
FOR EACH ROW EXECUTE FUNCTION vouch_integrity_refuse_change();

-- The registry's Ed25519 signing keys: public halves forever, private halves sealed
-- under TOKEN_ENC_KEY. Exactly one row has retired_at NULL: the current key.
CREATE TABLE registry_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kid         TEXT NOT NULL UNIQUE CHECK (length(kid) = 16),
    public_key  TEXT NOT NULL UNIQUE CHECK (length(public_key) = 64),
    sealed      BYTEA NOT NULL,
    instance_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
CREATE UNIQUE INDEX registry_keys_one_current ON registry_keys ((retired_at IS NULL))
    WHERE retired_at IS NULL;

CREATE FUNCTION vouch_registry_keys_retire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'registry keys are never deleted';
    END IF;
    IF OLD.retired_at IS NOT NULL OR NEW.kid IS DISTINCT FROM OLD.kid
       OR NEW.public_key IS DISTINCT FROM OLD.public_key
       OR NEW.sealed IS DISTINCT FROM OLD.sealed
       OR NEW.instance_id IS DISTINCT FROM OLD.instance_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'registry keys only ever get retired';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_keys_retire_only BEFORE UPDATE OR DELETE ON registry_keys
FOR EACH ROW EXECUTE FUNCTION vouch_registry_keys_retire_only();

-- Instance settings (hash budget, ...): name -> value text.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Administrator tokens (only their SHA-256 is stored).
CREATE TABLE admin_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label      TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Releases ingested from forges; (forge_id, repository, tag) identifies one upstream.
CREATE TABLE releases (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge_id    TEXT NOT NULL,
    repository  TEXT NOT NULL,
    tag         TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 1024),
    upstream_id TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (forge_id, repository, tag)
);

-- Assets of a release, idempotent on (release_id, name). Digests are NULL for assets
-- over the hash budget (status 'skipped'); rows never change afterwards.
CREATE TABLE release_assets (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id   BIGINT NOT NULL REFERENCES releases (id),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
    size         BIGINT NOT NULL CHECK (size >= 0),
    download_url TEXT NOT NULL,
    sha256       TEXT CHECK (sha256 IS NULL OR length(sha256) = 64),
    blake3       TEXT CHECK (blake3 IS NULL OR length(blake3) = 64),
    status       TEXT NOT NULL CHECK (status IN ('hashed', 'skipped')),
    created_at   BIGINT NOT NULL,
    UNIQUE (release_id, name)
);
CREATE TRIGGER release_assets_immutable BEFORE UPDATE OR DELETE ON release_assets
FOR EACH ROW EXECUTE FUNCTION vouch_integrity_refuse_change();

-- Verified attestation bundles relayed from the forge, served beside their asset.
CREATE TABLE release_attestations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id    BIGINT NOT NULL REFERENCES releases (id),
    asset_name    TEXT NOT NULL,
    bundle        TEXT NOT NULL,
    bundle_sha256 TEXT NOT NULL CHECK (length(bundle_sha256) = 64),
    identity      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (release_id, asset_name, bundle_sha256)
);

-- Signed integrity records: signed once, logged, stored with their log index.
CREATE TABLE integrity_records (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('package', 'release')),
    subject      TEXT NOT NULL,
    version      TEXT NOT NULL,
    kid          TEXT NOT NULL CHECK (length(kid) = 16),
    jws          TEXT NOT NULL,
    log_index    BIGINT NOT NULL CHECK (log_index >= 0),
    created_at   BIGINT NOT NULL,
    UNIQUE (subject_kind, subject, version)
);
CREATE TRIGGER integrity_records_immutable BEFORE UPDATE OR DELETE ON integrity_records
FOR EACH ROW EXECUTE FUNCTION vouch_integrity_refuse_change();
