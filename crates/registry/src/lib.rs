//! The HTTP service behind `vouch serve`: mounts the log, and later the CA and registry routes, on one axum router.
