//! A fresh PostgreSQL database per test (`vouch_test_<unique>` on the local server, or on the admin URL in `VOUCH_TEST_PG`), dropped when the test ends, even while it unwinds.
//!
//! Created and dropped with `psql`, so it needs no runtime and works from sync and async
//! tests alike.

use std::process::Command;

/// The admin connection URL: `VOUCH_TEST_PG`, or the local trust-auth server as `postgres`.
pub fn admin_url() -> String {
    std::env::var("VOUCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh `vouch_test_<unique>` database, dropped `WITH (FORCE)` when this is dropped.
pub struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    /// Creates the database; panics (this is test support) when PostgreSQL is not there.
    pub fn create() -> Self {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let admin = admin_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("vouch_test_{nanos:x}{:x}_{seq}", std::process::id());
        let out = Command::new("psql")
            .args([admin.as_str(), "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .expect("psql (PostgreSQL client) on PATH");
        assert!(
            out.status.success(),
            "PostgreSQL at 127.0.0.1:5432 (set VOUCH_TEST_PG to another admin URL): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { admin, name }
    }

    /// The database's connection URL.
    pub fn url(&self) -> String {
        match self.admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.name),
            None => panic!("admin URL {} names no database", self.admin),
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin)
            .arg("-c")
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}
