//! A fresh PostgreSQL database per test (`vouch_test_<random>` on the local server, or the admin URL in `VOUCH_TEST_PG`), dropped when the test ends.

use std::process::Command;

/// A fresh `vouch_test_<random>` database, dropped afterwards.
pub struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let admin = std::env::var("VOUCH_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("vouch_test_{:x}{:x}", nanos, std::process::id());
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

    pub fn url(&self) -> String {
        match self.admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.name),
            None => panic!("admin URL without a database"),
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
