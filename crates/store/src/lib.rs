//! Storage: object stores for blobs and tiles (local disk, memory, S3) and the metadata and lock databases (SQLite, PostgreSQL).
