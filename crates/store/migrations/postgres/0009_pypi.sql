-- The Python index (issue 18): the files of Python projects. A project is the vouch
-- package '@pypi/<PEP 503 name>', so its owners and trusted-publisher bindings are the
-- ones every vouch package has. Never edit once shipped: add a new file.
-- Version 0012: 0009-0011 are left to the changes developed beside this one (the
-- runner applies any missing version, in order, whatever the gaps).
--
-- A file name is taken once and forever (PyPI's rule): the UNIQUE constraint decides
-- concurrent uploads, and no row changes or goes (triggers), so the bytes behind a
-- name never change. Yanking (PEP 592) is a separate, mutable row per release.
CREATE TABLE pypi_files (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id       BIGINT NOT NULL REFERENCES packages (id),
    filename         TEXT NOT NULL UNIQUE CHECK (length(filename) BETWEEN 1 AND 255),
    version          TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 200),
    kind             TEXT NOT NULL CHECK (kind IN ('bdist_wheel', 'sdist')),
    sha256           TEXT NOT NULL CHECK (length(sha256) = 64),
    blake3           TEXT NOT NULL CHECK (length(blake3) = 64),
    size             BIGINT NOT NULL CHECK (size >= 0),
    requires_python  TEXT,
    metadata_sha256  TEXT CHECK (metadata_sha256 IS NULL OR length(metadata_sha256) = 64),
    metadata_blake3  TEXT CHECK (metadata_blake3 IS NULL OR length(metadata_blake3) = 64),
    provenance_blake3 TEXT CHECK (provenance_blake3 IS NULL OR length(provenance_blake3) = 64),
    binding_id       BIGINT REFERENCES bindings (id),
    uploaded_at      BIGINT NOT NULL
);
CREATE INDEX pypi_files_package ON pypi_files (package_id);
CREATE INDEX pypi_files_blake3 ON pypi_files (blake3);
CREATE TRIGGER pypi_files_immutable BEFORE UPDATE OR DELETE ON pypi_files
    FOR EACH ROW EXECUTE FUNCTION vouch_refuse_change();
CREATE TRIGGER pypi_files_no_truncate BEFORE TRUNCATE ON pypi_files
    FOR EACH STATEMENT EXECUTE FUNCTION vouch_refuse_change();

CREATE TABLE pypi_yanked (
    package_id BIGINT NOT NULL REFERENCES packages (id),
    version    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    yanked_at  BIGINT NOT NULL,
    PRIMARY KEY (package_id, version)
);
