//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route `vouch serve` mounts, written by hand (one table below) so it has no build-time dependency.
//!
//! `tests/publish_http.rs` checks the table against the routes the source mounts, in
//! both directions, so a new route without documentation fails the build's tests.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::AppState;

/// One documented operation.
struct Op {
    method: &'static str,
    /// Path with `{param}` templates; `PREFIX` stands for the log's mount point.
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    /// Request body media type, if any.
    request: Option<(&'static str, Value)>,
    /// Success status, media type and schema.
    ok: (&'static str, &'static str, Value),
    /// Error statuses it may answer (beyond 500).
    errors: &'static [&'static str],
    /// Needs an owner API token.
    owner_auth: bool,
    /// Needs an administrator token.
    admin_auth: bool,
    dev_only: bool,
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn bin() -> Value {
    json!({ "type": "string", "contentMediaType": "application/octet-stream" })
}

fn text() -> Value {
    json!({ "type": "string" })
}

fn obj() -> Value {
    json!({ "type": "object" })
}

fn ops() -> Vec<Op> {
    let op = |method, path, tag, summary, ok| Op {
        method,
        path,
        tag,
        summary,
        request: None,
        ok,
        errors: &["404"],
        owner_auth: false,
        admin_auth: false,
        dev_only: false,
    };
    vec![
        // --- packages (issue #5) ------------------------------------------------------
        Op {
            request: Some(("application/json", r("BindingRequest"))),
            errors: &["400", "401", "403", "409"],
            owner_auth: true,
            ..op("post", "/api/v1/publishers", "packages",
                "Register a trusted-publisher binding (pending while the package does not exist)",
                ("201", "application/json", r("Binding")))
        },
        op("get", "/api/v1/packages/{scope}/{name}/publishers", "packages",
            "List a package's publisher bindings (its pending ones while it does not exist)",
            ("200", "application/json", r("BindingList"))),
        Op {
            request: Some(("multipart/form-data", r("PublishUpload"))),
            errors: &["400", "403", "409", "413", "503"],
            ..op("post", "/api/v1/publish", "packages",
                "Publish a version: the archive and its Sigstore bundle; the bundle's certificate identity must match a binding",
                ("201", "application/json", r("PublishResult")))
        },
        op("get", "/api/v1/packages/{scope}/{name}", "packages",
            "Every version of a package", ("200", "application/json", r("PackageVersions"))),
        op("get", "/api/v1/packages/{scope}/{name}/{version}", "packages",
            "One index entry", ("200", "application/json", r("IndexEntry"))),
        op("get", "/blobs/{file}", "packages",
            "`<blake3>`: a published archive (application/zstd); `<blake3>.sigstore`: its Sigstore bundle. Only blobs referenced by an index entry are served.",
            ("200", "application/zstd", bin())),
        op("get", "/api/v1/openapi.json", "meta", "This document",
            ("200", "application/json", obj())),
        // --- transparency log ----------------------------------------------------------
        op("get", "PREFIX/checkpoint", "log", "The log's latest signed checkpoint (C2SP signed note)",
            ("200", "text/plain", text())),
        op("get", "PREFIX/tile/{rest}", "log", "A tile or entry bundle (C2SP tlog-tiles)",
            ("200", "application/octet-stream", bin())),
        Op {
            request: Some(("application/octet-stream", bin())),
            errors: &["401", "413", "429", "503"],
            ..op("post", "PREFIX/internal/add-entry", "log",
                "Append an entry (internal bearer token)", ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/octet-stream", bin())),
            errors: &["400", "401", "404", "503"],
            ..op("post", "/internal/log/add", "log",
                "A follower's forwarded batch of entries, sequenced by the leader (internal bearer token; nodes only)",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("text/plain", text())),
            errors: &["403", "404", "409", "422"],
            ..op("post", "/add-checkpoint", "log", "tlog-witness: cosign a checkpoint",
                ("200", "text/plain", text()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "503"],
            ..op("post", "/api/v2/log/entries", "rekor",
                "Rekor v2: add a hashedrekord or dsse entry", ("201", "application/json", obj()))
        },
        // --- Sigstore services (issue #4) ----------------------------------------------
        Op {
            dev_only: true,
            ..op("get", "/oidc/.well-known/openid-configuration", "oidc",
                "Dev OIDC issuer discovery (--dev only)", ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/.well-known/jwks.json", "oidc", "Dev OIDC issuer keys (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/jwks", "oidc", "Dev OIDC issuer keys (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            request: Some(("application/json", obj())),
            errors: &["400", "404"],
            ..op("post", "/oidc/dev/token", "oidc", "Mint a GitHub-Actions-shaped token (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "403"],
            ..op("post", "/api/v2/signingCert", "ca",
                "Fulcio v2: a short-lived certificate for a verified OIDC identity",
                ("200", "application/json", obj()))
        },
        op("get", "/api/v2/trustBundle", "ca", "Fulcio v2: the CA chains",
            ("200", "application/json", obj())),
        op("get", "/ct/checkpoint", "ca", "The CA's certificate-transparency log checkpoint",
            ("200", "text/plain", text())),
        op("get", "/ct/tile/{rest}", "ca", "A tile of the certificate-transparency log",
            ("200", "application/octet-stream", bin())),
        Op {
            request: Some(("application/timestamp-query", bin())),
            errors: &["400"],
            ..op("post", "/api/v1/timestamp", "tsa", "RFC 3161 timestamp",
                ("200", "application/timestamp-reply", bin()))
        },
        op("get", "/api/v1/timestamp/certchain", "tsa", "The TSA's certificate chain (PEM)",
            ("200", "application/pem-certificate-chain", text())),
        op("get", "/api/v1/trust-config", "sigstore",
            "Client trust configuration (trusted root and signing config)",
            ("200", "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", obj())),
        // --- operations -----------------------------------------------------------------
        op("get", "/healthz", "ops",
            "Liveness: 200 while the process answers",
            ("200", "application/json", obj())),
        op("get", "/readyz", "ops",
            "Readiness: 200 when the sequencer commits and the database answers, else 503 OPS_E001",
            ("200", "application/json", obj())),
        op("get", "/metrics", "ops",
            "Prometheus text-format metrics",
            ("200", "text/plain; version=0.0.4", obj())),
        // --- registry integrity and administration (issue #6) ---------------------------
        op("get", "/.well-known/registry-key.json", "integrity",
            "The registry's signing key set (JWKS), current key first",
            ("200", "application/jwk-set+json", obj())),
        op("get", "/api/v1/releases/{id}/integrity", "integrity",
            "A release's integrity record (JWS), its inclusion proof and checkpoint",
            ("200", "application/json", obj())),
        op("get", "/api/v1/packages/{scope}/{name}/{version}/integrity", "integrity",
            "A package version's integrity record (JWS), its inclusion proof and checkpoint",
            ("200", "application/json", obj())),
        Op {
            errors: &["401"],
            admin_auth: true,
            ..op("get", "/api/admin/instance/security", "admin",
                "Current and retired keys, hash budget, backfill state",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["401", "409", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/instance/security/rotate", "admin",
                "Rotate the registry signing key (publishes answer PUB_E008 meanwhile)",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "415"],
            admin_auth: true,
            ..op("put", "/api/admin/instance/security/hash-budget", "admin",
                "Set the ingest hash budget in bytes", ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["401", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/instance/security/backfill", "admin",
                "Start the integrity backfill in the background", ("202", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/scopes/{scope}/owners", "admin",
                "Grant a user ownership of a scope ({\"user\": NAME}); idempotent",
                ("200", "application/json", obj()))
        },
        Op {
            errors: &["400", "401"],
            admin_auth: true,
            ..op("get", "/api/admin/audit", "admin",
                "Audit events, paged by id (action, since, until, limit, cursor)",
                ("200", "application/json", obj()))
        },
        Op {
            errors: &["401"],
            admin_auth: true,
            ..op("get", "/api/admin/users", "accounts", "Users",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "409", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/users", "accounts", "Add a user {name, email?}",
                ("201", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["401", "404", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/users/{name}/disable", "accounts",
                "Disable a user: its tokens stop at once", ("200", "application/json", obj()))
        },
        Op {
            errors: &["401", "404"],
            admin_auth: true,
            ..op("get", "/api/admin/tokens", "accounts", "Token metadata (?user=NAME)",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "404", "409", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/tokens", "accounts",
                "Issue a token {user, scope, packages?, expires_in_secs?, label?}; shown once",
                ("201", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["401", "404", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/tokens/{id}/revoke", "accounts", "Revoke a token",
                ("200", "application/json", obj()))
        },
        Op {
            errors: &["400", "401", "404"],
            admin_auth: true,
            ..op("get", "/api/admin/owners", "accounts", "A package's owners (?package=@s/n)",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "404", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/owners", "accounts", "Add an owner {package, user}",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "404", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/owners/remove", "accounts", "Remove an owner {package, user}",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["401", "404", "415"],
            admin_auth: true,
            ..op("post", "/api/admin/forges/{id}/sync", "ingest",
                "Ingest a forge's releases now", ("202", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "401", "404"],
            ..op("post", "/api/v1/webhooks/{forge_id}", "ingest",
                "A forge's release webhook (signature-checked)", ("202", "application/json", obj()))
        },
        op("get", "/api/v1/releases/{id}", "ingest", "An ingested release and its assets",
            ("200", "application/json", obj())),
        op("get", "/api/v1/releases/{id}/assets/{name}/attestations", "ingest",
            "Verified GitHub artifact attestations stored for an asset",
            ("200", "application/json", obj())),
        // --- web pages -----------------------------------------------------------------
        op("get", "/", "web", "Landing page", ("200", "text/html", text())),
        op("get", "/packages", "web", "Package list", ("200", "text/html", text())),
        op("get", "/packages/{scope}/{name}", "web", "Package page", ("200", "text/html", text())),
        op("get", "/packages/{scope}/{name}/{version}", "web", "Version page",
            ("200", "text/html", text())),
        op("get", "/releases/{id}", "web", "Release page", ("200", "text/html", text())),
        op("get", "/static/vouch.css", "web", "Stylesheet", ("200", "text/css", text())),
        op("get", "/admin", "web", "Redirects to /admin/security", ("303", "text/html", text())),
        op("get", "/admin/login", "web", "Administrator sign-in form", ("200", "text/html", text())),
        Op {
            request: Some(("application/x-www-form-urlencoded", obj())),
            ..op("post", "/admin/login", "web", "Administrator sign-in", ("303", "text/html", text()))
        },
        op("post", "/admin/logout", "web", "Administrator sign-out", ("303", "text/html", text())),
        op("get", "/admin/security", "web", "Instance security page", ("200", "text/html", text())),
        op("get", "/admin/security/rotate", "web", "Key rotation confirmation",
            ("200", "text/html", text())),
        Op {
            request: Some(("application/x-www-form-urlencoded", obj())),
            ..op("post", "/admin/security/rotate", "web", "Rotate the registry signing key",
                ("303", "text/html", text()))
        },
        Op {
            request: Some(("application/x-www-form-urlencoded", obj())),
            ..op("post", "/admin/security/hash-budget", "web", "Set the hash budget",
                ("303", "text/html", text()))
        },
        Op {
            request: Some(("application/x-www-form-urlencoded", obj())),
            ..op("post", "/admin/security/backfill", "web", "Start the backfill",
                ("303", "text/html", text()))
        },
        op("get", "/admin/audit", "web", "Audit log page", ("200", "text/html", text())),
        // --- Rekor v1 on the same log (issue 18) ----------------------------------------
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "409", "503"],
            ..op("post", "/api/v1/log/entries", "rekor",
                "Rekor v1: add a hashedrekord or dsse 0.0.1 entry; answers it with integratedTime, SET and inclusion proof",
                ("201", "application/json", obj()))
        },
        op("get", "/api/v1/log/entries/{uuid}", "rekor", "Rekor v1: one entry by UUID or entry ID",
            ("200", "application/json", obj())),
        Op {
            request: Some(("application/json", obj())),
            errors: &["400"],
            ..op("post", "/api/v1/log/entries/retrieve", "rekor",
                "Rekor v1: entries by UUID or by logIndex", ("200", "application/json", obj()))
        },
        op("get", "/api/v1/log", "rekor", "Rekor v1: the log's size, root hash and signed checkpoint",
            ("200", "application/json", obj())),
        op("get", "/api/v1/log/proof", "rekor", "Rekor v1: a consistency proof (firstSize, lastSize)",
            ("200", "application/json", obj())),
        op("get", "/api/v1/log/publicKey", "rekor", "Rekor v1: the log's ECDSA P-256 key (PEM)",
            ("200", "application/x-pem-file", text())),
        // --- the Python index (issue 18) --------------------------------------------------
        op("get", "/simple", "pypi", "Redirect to /simple/", ("308", "text/html", text())),
        op("get", "/simple/", "pypi", "PEP 503/691 project list (HTML or JSON by Accept)",
            ("200", "application/vnd.pypi.simple.v1+json", obj())),
        op("get", "/simple/{project}", "pypi", "Redirect to the normalised project page",
            ("308", "text/html", text())),
        op("get", "/simple/{project}/", "pypi", "PEP 503/691 project page: files, hashes, yanks, core metadata, provenance",
            ("200", "application/vnd.pypi.simple.v1+json", obj())),
        op("get", "/files/{digest}/{filename}", "pypi", "A distribution file (or its PEP 658 .metadata), by digest",
            ("200", "application/octet-stream", bin())),
        op("get", "/integrity/{project}/{version}/{filename}/provenance", "pypi",
            "PEP 740 provenance of a file", ("200", "application/vnd.pypi.integrity.v1+json", obj())),
        op("get", "/integrity/{project}/{version}/{filename}/record", "pypi",
            "The file's registry-signed integrity record, inclusion proof, checkpoint and provenance document",
            ("200", "application/json", obj())),
        op("get", "/_/oidc/audience", "pypi", "Trusted publishing: the audience identity tokens must carry",
            ("200", "application/json", obj())),
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "403", "422"],
            ..op("post", "/_/oidc/mint-token", "pypi",
                "Trusted publishing: exchange a CI identity token for a 15-minute upload token",
                ("200", "application/json", obj()))
        },
        Op {
            request: Some(("multipart/form-data", obj())),
            errors: &["400", "403", "409", "413"],
            ..op("post", "/legacy/", "pypi", "Upload a distribution as PyPI takes it (file_upload)",
                ("200", "text/plain", text()))
        },
        Op {
            errors: &["401", "403"],
            owner_auth: true,
            ..op("post", "/api/v1/pypi/{project}/{version}/yank", "pypi", "Yank a release (PEP 592)",
                ("200", "application/json", obj()))
        },
        Op {
            errors: &["401", "403"],
            owner_auth: true,
            ..op("delete", "/api/v1/pypi/{project}/{version}/yank", "pypi", "Un-yank a release",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/email/.well-known/openid-configuration", "oidc",
                "Dev email issuer discovery: authorization and token endpoints, S256 (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/email/.well-known/jwks.json", "oidc", "Dev email issuer keys (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/email/authorize", "oidc",
                "Dev email issuer sign-in page (authorization code with PKCE, loopback redirect; --dev only)",
                ("200", "text/html", text()))
        },
        Op {
            dev_only: true,
            request: Some(("application/x-www-form-urlencoded", obj())),
            errors: &["400"],
            ..op("post", "/oidc/email/authorize", "oidc",
                "Dev email issuer: sign in and redirect with a code (--dev only)",
                ("303", "text/html", text()))
        },
        Op {
            dev_only: true,
            request: Some(("application/x-www-form-urlencoded", obj())),
            errors: &["400"],
            ..op("post", "/oidc/email/token", "oidc",
                "Dev email issuer: exchange a code and its PKCE verifier, or poll a device code \
                 (RFC 8628), for an ID token (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            request: Some(("application/x-www-form-urlencoded", obj())),
            errors: &["400"],
            ..op("post", "/oidc/email/device/code", "oidc",
                "Dev email issuer: device authorization (RFC 8628): a device code and a user code (--dev only)",
                ("200", "application/json", obj()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/email/device", "oidc",
                "Dev email issuer: the device verification page, where the user code is typed (--dev only)",
                ("200", "text/html", text()))
        },
        Op {
            dev_only: true,
            request: Some(("application/x-www-form-urlencoded", obj())),
            errors: &["400"],
            ..op("post", "/oidc/email/device", "oidc",
                "Dev email issuer: approve (as an email) or deny a device sign-in (--dev only)",
                ("200", "text/html", text()))
        },
        Op {
            dev_only: true,
            ..op("get", "/oidc/github/token", "oidc",
                "Dev issuer as GitHub's ACTIONS_ID_TOKEN_REQUEST_URL (--dev only)",
                ("200", "application/json", obj()))
        },
        // --- the Cargo registry (issue 19) -------------------------------------------------
        op("get", "/cargo/index/{path}", "cargo", "Sparse index: config.json and index files (RFC 2789)",
            ("200", "application/json", obj())),
        op("get", "/api/v1/crates/{name}/{version}/download", "cargo", "A published .crate",
            ("200", "application/octet-stream", bin())),
        Op {
            request: Some(("application/octet-stream", bin())),
            errors: &["400", "401", "403", "409"],
            owner_auth: true,
            ..op("put", "/api/v1/crates/new", "cargo", "cargo publish (length-prefixed JSON and .crate)",
                ("200", "application/json", obj()))
        },
        Op {
            owner_auth: true,
            errors: &["401", "403"],
            ..op("delete", "/api/v1/crates/{name}/{version}/yank", "cargo", "cargo yank",
                ("200", "application/json", obj()))
        },
        Op {
            owner_auth: true,
            errors: &["401", "403"],
            ..op("put", "/api/v1/crates/{name}/{version}/unyank", "cargo", "cargo yank --undo",
                ("200", "application/json", obj()))
        },
        op("get", "/api/v1/crates/{name}/owners", "cargo", "cargo owner --list",
            ("200", "application/json", obj())),
        Op {
            owner_auth: true,
            errors: &["401", "403"],
            ..op("put", "/api/v1/crates/{name}/owners", "cargo", "cargo owner --add",
                ("200", "application/json", obj()))
        },
        Op {
            owner_auth: true,
            errors: &["401", "403"],
            ..op("delete", "/api/v1/crates/{name}/owners", "cargo", "cargo owner --remove",
                ("200", "application/json", obj()))
        },
        op("get", "/api/v1/crates/{name}/versions", "cargo",
            "Versions as crates.io shows them (checksum, yanked, trustpub_data, published_by)",
            ("200", "application/json", obj())),
        op("get", "/api/v1/crates/{name}/{version}/integrity", "cargo",
            "A crate version's integrity record (JWS), its inclusion proof and checkpoint",
            ("200", "application/json", obj())),
        Op {
            request: Some(("application/json", obj())),
            errors: &["400", "403"],
            ..op("post", "/api/v1/trusted_publishing/tokens", "cargo",
                "Trusted publishing: exchange a CI identity token for a 30-minute publish token",
                ("200", "application/json", obj()))
        },
        op("delete", "/api/v1/trusted_publishing/tokens", "cargo", "Revoke a trusted-publishing token",
            ("204", "application/json", obj())),
        Op {
            request: Some(("application/json", obj())),
            owner_auth: true,
            errors: &["400", "401", "403"],
            ..op("post", "/api/v1/trusted_publishing/github_configs", "cargo",
                "Bind a crate to a GitHub workflow", ("200", "application/json", obj()))
        },
        Op {
            request: Some(("application/json", obj())),
            owner_auth: true,
            errors: &["400", "401", "403"],
            ..op("post", "/api/v1/trusted_publishing/gitlab_configs", "cargo",
                "Bind a crate to a GitLab pipeline", ("200", "application/json", obj()))
        },
        // --- TUF (issue 20) ---------------------------------------------------------------
        op("get", "/tuf/{path}", "tuf",
            "The instance's TUF repository: root, timestamp, snapshot, targets and target files",
            ("200", "application/json", obj())),
    ]
}

fn schemas() -> Value {
    let hex64 = json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" });
    let publisher_fields = json!({
        "provider": { "type": "string", "enum": ["github", "gitlab", "buildkite", "circleci", "forgejo", "email"] },
        "repository": { "type": ["string", "null"], "description": "OWNER/REPO (GitLab: GROUP/.../PROJECT; Buildkite: ORG/PIPELINE; CircleCI: project id)" },
        "workflow": { "type": ["string", "null"], "description": "Workflow file path (GitHub: a bare name means .github/workflows/NAME; CircleCI: pipeline definition id; Buildkite: none)" },
        "signer_workflow": { "type": ["string", "null"], "description": "GitHub and Forgejo: a reusable workflow OWNER/REPO/PATH the certificate's Build Signer URI (job_workflow_ref) must name; `workflow`, then optional, is the calling workflow (Build Config URI, workflow_ref). Stored and answered as `workflow` = `CALLER>OWNER/REPO/PATH`" },
        "environment": { "type": ["string", "null"], "description": "Deployment environment; none accepts any" },
        "email": { "type": ["string", "null"], "description": "Only for provider email" },
    });
    let mut binding_props = publisher_fields.as_object().cloned().unwrap_or_default();
    binding_props.extend(
        json!({
            "id": { "type": "integer" },
            "package": { "type": "string" },
            "pending": { "type": "boolean" },
            "created_at": { "type": "string", "format": "date-time" },
            "repository_owner_id_recorded": { "type": "boolean" },
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    let mut request_props = publisher_fields.as_object().cloned().unwrap_or_default();
    request_props.insert(
        "package".into(),
        json!({ "type": "string", "example": "@scope/name" }),
    );
    json!({
        "ApiError": {
            "type": "object",
            "required": ["code", "detail"],
            "properties": {
                "status": { "type": "integer" },
                "code": { "type": "string", "description": "Stable error code, e.g. PUB_E006 (README, Error codes)" },
                "detail": { "type": "string" },
            },
        },
        "BindingRequest": {
            "type": "object",
            "required": ["package", "provider"],
            "additionalProperties": false,
            "properties": Value::Object(request_props),
        },
        "Binding": { "type": "object", "properties": Value::Object(binding_props) },
        "BindingList": {
            "type": "object",
            "properties": {
                "package": { "type": "string" },
                "publishers": { "type": "array", "items": r("Binding") },
            },
        },
        "PublishUpload": {
            "type": "object",
            "required": ["archive", "bundle"],
            "properties": {
                "archive": { "type": "string", "contentMediaType": "application/zstd", "description": "The deterministic .tar.zst archive; vouch.toml at its root names the package and version" },
                "bundle": { "type": "string", "contentMediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "description": "DSSE in-toto Statement v1, subject sha256 = the archive's, predicateType https://slsa.dev/provenance/v1" },
            },
        },
        "PublishResult": {
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "version": { "type": "string" },
                "index_url": { "type": "string", "format": "uri" },
                "blob_url": { "type": "string", "format": "uri" },
                "bundle_url": { "type": "string", "format": "uri" },
                "log_index": { "type": "integer" },
                "sha256": hex64,
                "blake3": hex64,
                "size": { "type": "integer" },
                "created_package": { "type": "boolean" },
            },
        },
        "IndexEntry": {
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "version": { "type": "string" },
                "sha256": hex64,
                "blake3": hex64,
                "size": { "type": "integer" },
                "blob_url": { "type": "string", "format": "uri" },
                "bundle_url": { "type": "string", "format": "uri" },
                "log_index": { "type": "integer" },
                "published_at": { "type": "string", "format": "date-time" },
                "publisher": {
                    "type": "object",
                    "properties": {
                        "identity": { "type": "string" },
                        "issuer": { "type": "string" },
                        "provider": { "type": ["string", "null"] },
                        "repository": { "type": ["string", "null"] },
                        "workflow": { "type": ["string", "null"] },
                        "environment": { "type": ["string", "null"] },
                        "binding_id": { "type": ["integer", "null"] },
                    },
                },
                "artifacts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "filename": { "type": "string" },
                            "size": { "type": "integer" },
                            "sha256": hex64,
                            "blake3": hex64,
                        },
                    },
                },
            },
        },
        "PackageVersions": {
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "versions": { "type": "array", "items": r("IndexEntry") },
            },
        },
    })
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect()
}

/// The document for a server whose log is mounted at `log_prefix`.
pub fn document(log_prefix: &str, server_url: &str) -> Value {
    let mut paths = Map::new();
    for op in ops() {
        let path = op.path.replace("PREFIX", log_prefix);
        let mut responses = Map::new();
        responses.insert(
            op.ok.0.into(),
            json!({ "description": "success", "content": { op.ok.1: { "schema": op.ok.2 } } }),
        );
        for status in op.errors.iter().chain(["500"].iter()) {
            responses.insert(
                (*status).into(),
                json!({ "description": "error with a stable code", "content": { "application/json": { "schema": r("ApiError") } } }),
            );
        }
        let mut operation = json!({
            "tags": [op.tag],
            "summary": op.summary,
            "responses": Value::Object(responses),
        });
        let params = path_params(&path);
        if let Some(o) = operation.as_object_mut() {
            if !params.is_empty() {
                o.insert("parameters".into(), Value::Array(params));
            }
            if let Some((media, schema)) = op.request {
                o.insert(
                    "requestBody".into(),
                    json!({ "required": true, "content": { media: { "schema": schema } } }),
                );
            }
            if op.owner_auth {
                o.insert("security".into(), json!([{ "ownerToken": [] }]));
            }
            if op.admin_auth {
                o.insert("security".into(), json!([{ "adminToken": [] }]));
            }
            if op.dev_only {
                o.insert("x-vouch-dev-only".into(), Value::Bool(true));
            }
        }
        let entry = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(op.method.into(), operation);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vouch registry",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Packages with verifiable provenance: trusted publishing, the index, blobs, the transparency log and the Sigstore services of one `vouch serve`.",
        },
        "servers": [{ "url": server_url }],
        "paths": Value::Object(paths),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "ownerToken": { "type": "http", "scheme": "bearer", "description": "A package owner's API token (vouch_...)" },
                "adminToken": { "type": "http", "scheme": "bearer", "description": "An administrator token" },
            },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document_route(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(document(&state.packages.log_prefix, &state.public_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_31_with_every_operation() {
        let d = document("/log", "http://h");
        assert_eq!(d["openapi"], "3.1.0");
        let paths = d["paths"].as_object().unwrap();
        for op in ops() {
            let p = op.path.replace("PREFIX", "/log");
            assert!(paths[&p][op.method].is_object(), "{} {p}", op.method);
        }
        assert!(
            paths["/api/v1/packages/{scope}/{name}/{version}"]["get"]["parameters"]
                .as_array()
                .is_some_and(|p| p.len() == 3)
        );
        // Every $ref resolves.
        let text = d.to_string();
        for name in text.split("#/components/schemas/").skip(1) {
            let name: String = name.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(d["components"]["schemas"][&name].is_object(), "{name}");
        }
    }
}
