-- vouch metadata schema v3 (PostgreSQL): owned scopes, normalised package names,
-- versions unique without build metadata (issue 13, items 4, 9, 10). Never edit once
-- shipped. See the SQLite twin for the reasoning; the rules are identical.
--
-- name_norm: lowercased, every run of '-', '_' and '.' collapsed to one '-' (PEP 503).
-- Rows that already collided keep their exact names but get no name_norm (NULL never
-- conflicts): only the oldest holds the normalised name. The CHECK constraints are
-- NOT VALID: they bind every new row and leave those legacy rows alone.

ALTER TABLE packages ADD COLUMN name_norm TEXT;
UPDATE packages SET name_norm = regexp_replace(lower(name), '[-_.]+', '-', 'g');
UPDATE packages SET name_norm = NULL WHERE EXISTS
    (SELECT 1 FROM packages older WHERE older.name_norm = packages.name_norm AND older.id < packages.id);
CREATE UNIQUE INDEX packages_name_norm_unique ON packages (name_norm);
ALTER TABLE packages ADD CONSTRAINT packages_name_norm_required
    CHECK (name_norm IS NOT NULL AND name_norm = regexp_replace(lower(name), '[-_.]+', '-', 'g')) NOT VALID;

-- version_key: the version without build metadata (SemVer 2.0 section 10). Versions
-- are immutable, so the trigger is disabled for the one backfill and enabled again.
ALTER TABLE versions ADD COLUMN version_key TEXT;
ALTER TABLE versions DISABLE TRIGGER versions_immutable;
UPDATE versions SET version_key = split_part(version, '+', 1);
UPDATE versions SET version_key = NULL WHERE EXISTS
    (SELECT 1 FROM versions older WHERE older.package_id = versions.package_id
     AND older.version_key = versions.version_key AND older.id < versions.id);
ALTER TABLE versions ENABLE TRIGGER versions_immutable;
CREATE UNIQUE INDEX versions_key_unique ON versions (package_id, version_key);
ALTER TABLE versions ADD CONSTRAINT versions_key_required
    CHECK (version_key IS NOT NULL AND version_key = split_part(version, '+', 1)) NOT VALID;

-- Owned scopes: the first user to create a package or a pending binding in an
-- unclaimed scope claims it (the PRIMARY KEY decides between concurrent claimants);
-- an administrator may grant a scope to more users.
CREATE TABLE scopes (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE TABLE scope_owners (
    scope    TEXT NOT NULL REFERENCES scopes (name),
    user_id  BIGINT NOT NULL REFERENCES users (id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (scope, user_id)
);
-- Existing scopes go to the owners of their oldest package.
CREATE TEMP TABLE vouch_first_packages ON COMMIT DROP AS
    SELECT split_part(substr(name_norm, 2), '/', 1) AS scope, MIN(id) AS package_id
    FROM packages p
    WHERE name_norm IS NOT NULL AND split_part(substr(name_norm, 2), '/', 1) <> ''
      AND EXISTS (SELECT 1 FROM package_owners o WHERE o.package_id = p.id)
    GROUP BY 1;
INSERT INTO scopes (name, created_by, created_at)
    SELECT f.scope, (SELECT MIN(o.user_id) FROM package_owners o WHERE o.package_id = f.package_id),
           (SELECT created_at FROM packages WHERE id = f.package_id)
    FROM vouch_first_packages f;
INSERT INTO scope_owners (scope, user_id, added_at)
    SELECT f.scope, o.user_id, o.added_at
    FROM vouch_first_packages f JOIN package_owners o ON o.package_id = f.package_id;
DROP TABLE vouch_first_packages;
