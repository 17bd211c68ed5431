-- vouch metadata schema v3 (SQLite): owned scopes, normalised package names, versions
-- unique without build metadata (issue 13, items 4, 9, 10). Never edit once shipped.
--
-- name_norm: the package name lowercased with every run of '-', '_' and '.' collapsed
-- to one '-' (PEP 503's rule; vouch names are lowercase already, the lowering is for
-- defence in depth). Names that normalise alike cannot coexist: '@a/l.ib', '@a/l_ib'
-- and '@a/l--ib' are one name, '@a/lib' another. SQLite has no regex replace, so the
-- collapse is eight passes of replace('--', '-') (enough for 200 characters, the
-- longest name the schema allows: 200 -> 100 -> ... -> 1).
-- Rows that already collided before this migration keep their exact names but get no
-- name_norm (NULL never conflicts): only the oldest of them holds the normalised name.

ALTER TABLE packages ADD COLUMN name_norm TEXT;
UPDATE packages SET name_norm = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(lower(name), '_', '-'), '.', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-');
UPDATE packages SET name_norm = NULL WHERE EXISTS
    (SELECT 1 FROM packages older WHERE older.name_norm = packages.name_norm AND older.id < packages.id);
CREATE UNIQUE INDEX packages_name_norm_unique ON packages (name_norm);
-- New rows must carry the normalised name, computed exactly as above.
CREATE TRIGGER packages_name_norm_required BEFORE INSERT ON packages
WHEN NEW.name_norm IS NULL OR NEW.name_norm IS NOT replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(lower(NEW.name), '_', '-'), '.', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-')
BEGIN SELECT RAISE(ABORT, 'packages.name_norm must be the normalised name'); END;

-- version_key: the version without build metadata (SemVer 2.0 section 10: build
-- metadata does not take part in precedence, so '1.0.0+evil' is the same release as
-- '1.0.0'; crates.io refuses such pairs too). Versions are immutable, so the
-- immutability trigger is lifted for the one backfill and restored as it was.
ALTER TABLE versions ADD COLUMN version_key TEXT;
DROP TRIGGER versions_immutable_update;
UPDATE versions SET version_key = CASE WHEN instr(version, '+') > 0 THEN substr(version, 1, instr(version, '+') - 1) ELSE version END;
UPDATE versions SET version_key = NULL WHERE EXISTS
    (SELECT 1 FROM versions older WHERE older.package_id = versions.package_id
     AND older.version_key = versions.version_key AND older.id < versions.id);
CREATE TRIGGER versions_immutable_update BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
CREATE UNIQUE INDEX versions_key_unique ON versions (package_id, version_key);
CREATE TRIGGER versions_key_required BEFORE INSERT ON versions
WHEN NEW.version_key IS NULL OR NEW.version_key IS NOT CASE WHEN instr(NEW.version, '+') > 0 THEN substr(NEW.version, 1, instr(NEW.version, '+') - 1) ELSE NEW.version END
BEGIN SELECT RAISE(ABORT, 'versions.version_key must be the version without build metadata'); END;

-- Scopes (the 'scope' of '@scope/name', normalised like names) are owned. The first
-- user to create a package or a pending binding in an unclaimed scope claims it (the
-- PRIMARY KEY decides between concurrent claimants); an administrator may grant a
-- scope to more users. Only a scope's owners create packages or pending bindings in it.
CREATE TABLE scopes (
    name       TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
);
CREATE TABLE scope_owners (
    scope    TEXT NOT NULL REFERENCES scopes (name),
    user_id  INTEGER NOT NULL REFERENCES users (id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (scope, user_id)
);
-- Existing scopes go to the owners of their oldest package (that user was first).
-- Owners of later packages in the same scope keep those packages but make no new ones.
CREATE TEMP TABLE vouch_first_packages AS
    SELECT substr(name_norm, 2, instr(name_norm, '/') - 2) AS scope, MIN(id) AS package_id
    FROM packages p
    WHERE name_norm IS NOT NULL AND instr(name_norm, '/') > 2
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
