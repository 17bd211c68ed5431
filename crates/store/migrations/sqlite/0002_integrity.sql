-- vouch metadata schema v2 (SQLite): registry integrity. Never edit once shipped.
-- Times are Unix seconds; digests are lowercase hex.

-- This database's identity, made once when the schema is created. Sealed registry
-- keys bind it into their AES-GCM additional data, so key rows copied into another
-- instance's database never open there.
CREATE TABLE registry_instance (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    instance_id TEXT NOT NULL CHECK (length(instance_id) = 32),
    created_at  INTEGER NOT NULL
);
INSERT INTO registry_instance (id, instance_id, created_at)
VALUES (1, lower(hex(randomblob(16))), CAST(strftime('%s', 'now') AS INTEGER));
CREATE TRIGGER registry_instance_immutable_update BEFORE UPDATE ON registry_instance
BEGIN SELECT RAISE(ABORT, 'registry_instance is immutable'); END;
CREATE TRIGGER registry_instance_immutable_delete BEFORE DELETE ON registry_instance
BEGIN SELECT RAISE(ABORT, 'registry_instance is immutable'); END;

-- The registry's Ed25519 signing keys: public halves forever, private halves sealed
-- under TOKEN_ENC_KEY. Exactly one row has retired_at NULL: the current key.
CREATE TABLE registry_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kid         TEXT NOT NULL UNIQUE CHECK (length(kid) = 16),
    public_key  TEXT NOT NULL UNIQUE CHECK (length(public_key) = 64),
    sealed      BLOB NOT NULL,
    instance_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
CREATE UNIQUE INDEX registry_keys_one_current ON registry_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
CREATE TRIGGER registry_keys_no_delete BEFORE DELETE ON registry_keys
BEGIN SELECT RAISE(ABORT, 'registry keys are never deleted'); END;
CREATE TRIGGER registry_keys_retire_only BEFORE UPDATE ON registry_keys
WHEN OLD.retired_at IS NOT NULL OR NEW.kid IS NOT OLD.kid
  OR NEW.public_key IS NOT OLD.public_key OR NEW.sealed IS NOT OLD.sealed
  OR NEW.instance_id IS NOT OLD.instance_id OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'registry keys only ever get retired'); END;

-- Instance settings (hash budget, ...): name -> value text.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Administrator tokens (only their SHA-256 is stored).
CREATE TABLE admin_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    label      TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Releases ingested from forges; (forge_id, repository, tag) identifies one upstream.
CREATE TABLE releases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    forge_id    TEXT NOT NULL,
    repository  TEXT NOT NULL,
    tag         TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 1024),
    upstream_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (forge_id, repository, tag)
);

-- Assets of a release, idempotent on (release_id, name). Digests are NULL for assets
-- over the hash budget (status 'skipped') and set once; never changed afterwards.
CREATE TABLE release_assets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id   INTEGER NOT NULL REFERENCES releases (id),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
    size         INTEGER NOT NULL CHECK (size >= 0),
    download_url TEXT NOT NULL,
    sha256       TEXT CHECK (sha256 IS NULL OR length(sha256) = 64),
    blake3       TEXT CHECK (blake3 IS NULL OR length(blake3) = 64),
    status       TEXT NOT NULL CHECK (status IN ('hashed', 'skipped')),
    created_at   INTEGER NOT NULL,
    UNIQUE (release_id, name)
);
CREATE TRIGGER release_assets_immutable_update BEFORE UPDATE ON release_assets
BEGIN SELECT RAISE(ABORT, 'release assets are immutable'); END;
CREATE TRIGGER release_assets_immutable_delete BEFORE DELETE ON release_assets
BEGIN SELECT RAISE(ABORT, 'release assets are immutable'); END;

-- Verified attestation bundles relayed from the forge, served beside their asset.
CREATE TABLE release_attestations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id INTEGER NOT NULL REFERENCES releases (id),
    asset_name TEXT NOT NULL,
    bundle     TEXT NOT NULL,
    bundle_sha256 TEXT NOT NULL CHECK (length(bundle_sha256) = 64),
    identity   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (release_id, asset_name, bundle_sha256)
);

-- Signed integrity records: signed once, logged, stored with their log index.
CREATE TABLE integrity_records (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('package', 'release')),
    subject      TEXT NOT NULL,
    version      TEXT NOT NULL,
    kid          TEXT NOT NULL CHECK (length(kid) = 16),
    jws          TEXT NOT NULL,
    log_index    INTEGER NOT NULL CHECK (log_index >= 0),
    created_at   INTEGER NOT NULL,
    UNIQUE (subject_kind, subject, version)
);
CREATE TRIGGER integrity_records_immutable_update BEFORE UPDATE ON integrity_records
BEGIN SELECT RAISE(ABORT, 'integrity records are immutable'); END;
CREATE TRIGGER integrity_records_immutable_delete BEFORE DELETE ON integrity_records
BEGIN SELECT RAISE(ABORT, 'integrity records are immutable'); END;
