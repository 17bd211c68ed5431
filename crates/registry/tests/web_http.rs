//! The web UI through the router (`oneshot`): sign-in with a good and a bad administrator token, CSRF and cross-site refusals with their codes, escaping of hostile values, rotation and hash budget through the forms (and their audit entries), the backfill button, the public package, version and release pages, and the security headers.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;
use harness::app;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use vouch_registry::App;
use vouch_store::meta::{
    AssetStatus, AuditFilter, NewRelease, NewVersion, ReleaseAsset, Timestamp,
};

#[derive(Debug)]
struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of the first `name="csrf" value="..."` field.
    fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).expect("a csrf field") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }

    /// The text of the element with `id`.
    fn by_id(&self, id: &str) -> String {
        let marker = format!(r#"id="{id}">"#);
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no #{id} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('<').unwrap();
        self.body[start..start + end].to_owned()
    }

    /// The code shown on an error page.
    fn code(&self) -> String {
        self.by_id_attr("data-code")
    }

    fn by_id_attr(&self, attr: &str) -> String {
        let marker = format!(r#"{attr}=""#);
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {attr} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

async fn call(app: &App, req: Request<Body>) -> Resp {
    let r = harness::call(app, req).await;
    Resp {
        status: r.status,
        headers: r.headers,
        body: String::from_utf8(r.body).unwrap(),
    }
}

async fn get(app: &App, path: &str, cookie: Option<&str>) -> Resp {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    call(app, req.body(Body::empty()).unwrap()).await
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post(app: &App, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Resp {
    post_with(app, path, cookie, fields, &[]).await
}

async fn post_with(
    app: &App,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    call(app, req.body(Body::from(form(fields))).unwrap()).await
}

fn admin_token(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// `name=value` of the Set-Cookie named `name`.
fn cookie_pair(resp: &Resp, name: &str) -> String {
    resp.set_cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", resp.set_cookies()))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Signs in through the form; returns the session cookie (`vouch_session=...`).
async fn sign_in(app: &App, token: &str) -> Result<String, Resp> {
    let form_page = get(app, "/admin/login", None).await;
    assert_eq!(form_page.status, StatusCode::OK);
    let login_cookie = cookie_pair(&form_page, "vouch_login_csrf");
    let csrf = form_page.csrf();
    let resp = post(
        app,
        "/admin/login",
        Some(&login_cookie),
        &[("csrf", &csrf), ("token", token)],
    )
    .await;
    if resp.status != StatusCode::SEE_OTHER {
        return Err(resp);
    }
    assert_eq!(resp.header("location"), "/admin/security");
    Ok(cookie_pair(&resp, "vouch_session"))
}

async fn audit_events(app: &App, prefix: &str) -> Vec<vouch_store::meta::AuditEvent> {
    app.state
        .meta
        .list_audit(&AuditFilter {
            event_prefix: Some(prefix.into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_with_good_and_bad_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;

    // Not signed in: pages redirect to the sign-in form.
    let r = get(&app, "/admin/security", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/admin/login");

    // A wrong token is refused (WEB_E004), audited, and creates no session.
    let bad = sign_in(
        &app,
        "vouch_admin_0000000000000000000000000000000000000000000000000000000000000000",
    )
    .await
    .unwrap_err();
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.code(), "WEB_E004");
    assert!(bad
        .set_cookies()
        .iter()
        .all(|c| !c.starts_with("vouch_session=")));
    let failed = audit_events(&app, "admin.sign_in_failed").await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0].details_json.contains("\"via\":\"web\""));
    assert!(
        !failed[0].details_json.contains("vouch_admin_"),
        "the secret is never audited"
    );
    assert_eq!(app.state.web.sessions.len().await.unwrap(), 0);

    // An empty token is refused the same way.
    assert_eq!(sign_in(&app, "").await.unwrap_err().code(), "WEB_E004");

    // The right token: a session cookie with the safe attributes, an audit entry.
    let token = admin_token(dir.path());
    let form_page = get(&app, "/admin/login", None).await;
    let login_cookie = cookie_pair(&form_page, "vouch_login_csrf");
    let ok = post(
        &app,
        "/admin/login",
        Some(&login_cookie),
        &[("csrf", &form_page.csrf()), ("token", &token)],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let set = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("vouch_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(
        !set.contains("Secure"),
        "http public URL: no Secure attribute"
    );
    let session = set.split(';').next().unwrap().to_owned();
    let signed_in = audit_events(&app, "admin.sign_in").await;
    assert!(signed_in.iter().any(|e| e.event == "admin.sign_in"
        && e.actor.as_deref().unwrap_or("").starts_with("admin:dev#")));

    let page = get(&app, "/admin/security", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.by_id("current-kid"), app.state.integrity.current_kid());

    // A forged session cookie is not a session.
    let forged = get(&app, "/admin/security", Some("vouch_session=00ff")).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);

    // Sign-out needs the CSRF token, then ends the session.
    let refused = post(&app, "/admin/logout", Some(&session), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "WEB_E001");
    let out = post(
        &app,
        "/admin/logout",
        Some(&session),
        &[("csrf", &page.csrf())],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.header("location"), "/admin/login");
    let after = get(&app, "/admin/security", Some(&session)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(audit_events(&app, "admin.sign_out").await.len(), 1);
}

#[tokio::test]
async fn sign_in_form_needs_its_csrf_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let token = admin_token(dir.path());
    let form_page = get(&app, "/admin/login", None).await;
    // The field without the matching cookie (a cross-site login attempt).
    let r = post(
        &app,
        "/admin/login",
        None,
        &[("csrf", &form_page.csrf()), ("token", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "WEB_E001");
    // A cookie that does not match the field.
    let r = post(
        &app,
        "/admin/login",
        Some("vouch_login_csrf=abcd"),
        &[("csrf", &form_page.csrf()), ("token", &token)],
    )
    .await;
    assert_eq!(r.code(), "WEB_E001");
    assert_eq!(app.state.web.sessions.len().await.unwrap(), 0);
}

#[tokio::test]
async fn posts_without_the_session_csrf_token_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    let csrf = get(&app, "/admin/security", Some(&session)).await.csrf();
    let kid = app.state.integrity.current_kid();

    for path in [
        "/admin/security/rotate",
        "/admin/security/hash-budget",
        "/admin/security/backfill",
    ] {
        // No token.
        let r = post(&app, path, Some(&session), &[("confirm", "yes")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(r.code(), "WEB_E001", "{path}");
        // A wrong token of the right length.
        let wrong = "0".repeat(csrf.len());
        let r = post(
            &app,
            path,
            Some(&session),
            &[
                ("csrf", &wrong),
                ("confirm", "yes"),
                ("amount", "1"),
                ("unit", "MiB"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(r.code(), "WEB_E001", "{path}");
        // The right token, but cross-site.
        let r = post_with(
            &app,
            path,
            Some(&session),
            &[("csrf", &csrf), ("confirm", "yes")],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(r.code(), "WEB_E002", "{path}");
        // No session at all.
        let r = post(&app, path, None, &[("csrf", &csrf), ("confirm", "yes")]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.code(), "WEB_E003", "{path}");
    }
    // Another session's token does not work in this one.
    let other = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    let other_csrf = get(&app, "/admin/security", Some(&other)).await.csrf();
    assert_ne!(other_csrf, csrf);
    let r = post(
        &app,
        "/admin/security/rotate",
        Some(&session),
        &[("csrf", &other_csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.code(), "WEB_E001");

    assert_eq!(app.state.integrity.current_kid(), kid, "nothing rotated");
    assert!(audit_events(&app, "registry.signing_key.rotate")
        .await
        .is_empty());
    assert!(audit_events(&app, "settings.").await.is_empty());
}

#[tokio::test]
async fn rotate_through_the_confirmation_form() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    let old = app.state.integrity.current_kid();

    let sec = get(&app, "/admin/security", Some(&session)).await;
    assert_eq!(sec.by_id("current-kid"), old);
    assert!(sec.body.contains(r#"id="previous-keys-empty""#));
    assert!(sec.body.contains(r#"href="/admin/security/rotate""#));

    // The confirmation step names the key and changes nothing yet.
    let confirm = get(&app, "/admin/security/rotate", Some(&session)).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert_eq!(confirm.by_id("confirm-kid"), old);
    assert_eq!(app.state.integrity.current_kid(), old);

    // Without the confirmation field: WEB_E005, nothing rotated.
    let r = post(
        &app,
        "/admin/security/rotate",
        Some(&session),
        &[("csrf", &confirm.csrf())],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "WEB_E005");
    assert_eq!(app.state.integrity.current_kid(), old);

    let r = post(
        &app,
        "/admin/security/rotate",
        Some(&session),
        &[("csrf", &confirm.csrf()), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/admin/security");
    let new = app.state.integrity.current_kid();
    assert_ne!(new, old);

    let sec = get(&app, "/admin/security", Some(&session)).await;
    assert_eq!(sec.by_id("current-kid"), new);
    assert!(sec
        .body
        .contains(&format!(r#"<code class="kid">{old}</code>"#)));
    assert!(sec.body.contains("Rotated:"), "the result is shown once");
    let again = get(&app, "/admin/security", Some(&session)).await;
    assert!(!again.body.contains("Rotated:"));

    let rotations = audit_events(&app, "registry.signing_key.rotate").await;
    assert_eq!(rotations.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&rotations[0].details_json).unwrap();
    assert_eq!(details["oldKid"], old.as_str());
    assert_eq!(details["newKid"], new.as_str());
    assert!(rotations[0]
        .actor
        .as_deref()
        .unwrap()
        .starts_with("admin:dev#"));

    // The audit page lists it, and the filter narrows to it.
    let audit = get(
        &app,
        "/admin/audit?action=registry.signing_key",
        Some(&session),
    )
    .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit
        .body
        .contains(r#"<code class="action">registry.signing_key.rotate</code>"#));
    assert!(!audit
        .body
        .contains(r#"<code class="action">admin.sign_in</code>"#));

    // The key set still holds the retired key.
    let jwks = get(&app, "/.well-known/registry-key.json", None).await;
    assert!(jwks.body.contains(&old) && jwks.body.contains(&new));
}

#[tokio::test]
async fn hash_budget_form_validates_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    let csrf = get(&app, "/admin/security", Some(&session)).await.csrf();

    let r = post(
        &app,
        "/admin/security/hash-budget",
        Some(&session),
        &[("csrf", &csrf), ("amount", "2"), ("unit", "GiB")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.state.integrity.hash_budget(), 2 << 30);
    let page = get(&app, "/admin/security", Some(&session)).await;
    assert!(page.by_id("hash-budget").starts_with("2 GiB"));
    let audit = audit_events(&app, "settings.hash_budget").await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].details_json.contains(&format!("{}", 2u64 << 30)));

    // Over 16 GiB: the integrity service's range check, shown with its code.
    let r = post(
        &app,
        "/admin/security/hash-budget",
        Some(&session),
        &[("csrf", &csrf), ("amount", "17"), ("unit", "GiB")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "ADMIN_E004");
    // Not a number, an unknown unit.
    for (amount, unit) in [("lots", "MiB"), ("1", "TiB"), ("-5", "MiB")] {
        let r = post(
            &app,
            "/admin/security/hash-budget",
            Some(&session),
            &[("csrf", &csrf), ("amount", amount), ("unit", unit)],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{amount} {unit}");
        assert_eq!(r.code(), "WEB_E005", "{amount} {unit}");
    }
    assert_eq!(app.state.integrity.hash_budget(), 2 << 30, "unchanged");
    assert_eq!(audit_events(&app, "settings.hash_budget").await.len(), 1);
}

#[tokio::test]
async fn hostile_values_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let meta = &app.state.meta;
    let xss = "<script>alert(1)</script>";
    meta.append_audit(
        "test.hostile",
        Some(&format!("actor{xss}")),
        Some(&format!("subject\"'{xss}")),
        &serde_json::json!({ "note": xss }).to_string(),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let user = meta
        .create_user("web-test", None, Timestamp::now())
        .await
        .unwrap();
    meta.create_package("@acme/tool", user.id, Timestamp::now())
        .await
        .unwrap();
    meta.insert_version(
        "@acme/tool",
        None,
        &NewVersion {
            version: "1.0.0".into(),
            blake3: [0xb3; 32],
            sha256: [0x56; 32],
            size: 1234,
            bundle_key: format!("blobs/{}.sigstore", "b3".repeat(32)),
            log_index: 42,
            publisher: format!("https://github.com/o/r/.github/workflows/x.yml@{xss}"),
            issuer: format!("https://issuer.example/{xss}"),
            repository_owner_id: None,
            created_at: Timestamp::now(),
            audit: None,
        },
    )
    .await
    .unwrap();

    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    // The filter value is echoed into the form, escaped.
    let audit = get(
        &app,
        "/admin/audit?action=test.%3Cscript%3E",
        Some(&session),
    )
    .await;
    assert!(audit.body.contains("value=\"test.&lt;script&gt;\""));
    let audit = get(&app, "/admin/audit?action=test.", Some(&session)).await;
    assert_eq!(audit.status, StatusCode::OK);
    for page in [
        &audit,
        &get(&app, "/packages/@acme/tool", None).await,
        &get(&app, "/packages/@acme/tool/1.0.0", None).await,
    ] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            !page.body.contains("<script"),
            "unescaped markup in {}",
            page.body
        );
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
    let audit = &audit.body;
    assert!(audit.contains("subject&quot;&#39;&lt;script&gt;"));

    // The version page shows its provenance.
    let v = get(&app, "/packages/@acme/tool/1.0.0", None).await;
    assert_eq!(v.by_id("log-index"), "42");
    assert_eq!(v.by_id("sha256"), "56".repeat(32));
    assert_eq!(v.by_id("blake3"), "b3".repeat(32));
    assert!(v.body.contains(&format!(
        r#"href="http://127.0.0.1:0/blobs/{}.sigstore""#,
        "b3".repeat(32)
    )));
    assert!(v.body.contains("No integrity record yet"));
    // Unknown things are coded 404 pages.
    let r = get(&app, "/packages/@acme/none", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "WEB_E006")
    );
    let r = get(&app, "/packages/@acme/tool/9.9.9", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "WEB_E006")
    );
    let r = get(&app, "/releases/xyz", None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "WEB_E006")
    );
}

#[tokio::test]
async fn backfill_button_records_a_release_shown_on_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let meta = &app.state.meta;
    let (rel, _) = meta
        .upsert_release(&NewRelease {
            forge_id: "github".into(),
            repository: "acme/app".into(),
            tag: "v1.0.0".into(),
            upstream_id: "77".into(),
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
    for (name, status) in [
        ("app.tar.gz", AssetStatus::Hashed),
        ("huge.iso", AssetStatus::Skipped),
    ] {
        let hashed = status == AssetStatus::Hashed;
        meta.insert_release_asset(&ReleaseAsset {
            release_id: rel.id,
            name: name.into(),
            size: if hashed { 10 } else { 1 << 40 },
            download_url: format!("https://example.invalid/{name}"),
            sha256: hashed.then_some([1; 32]),
            blake3: hashed.then_some([2; 32]),
            status,
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
    }
    let page = get(&app, &format!("/releases/{}", rel.id), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.by_id("asset-counts"),
        "1 hashed, 1 skipped (over the hash budget)"
    );
    assert!(page.body.contains("No integrity record yet"));

    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    let sec = get(&app, "/admin/security", Some(&session)).await;
    assert!(sec.body.contains("No backfill has run yet."));
    let r = post(
        &app,
        "/admin/security/backfill",
        Some(&session),
        &[("csrf", &sec.csrf())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while audit_events(&app, "release.backfill_run").await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "backfill did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sec = get(&app, "/admin/security", Some(&session)).await;
    assert!(sec.body.contains("Backfill started"), "flash shown");
    let last = sec.by_id("backfill-last");
    assert!(last.starts_with("Last run finished"), "{last}");

    let page = get(&app, &format!("/releases/{}", rel.id), None).await;
    let kid = app.state.integrity.current_kid();
    assert!(
        page.body
            .contains(&format!(r#"<code class="record-kid">{kid}</code>"#)),
        "{}",
        page.body
    );
    assert!(page.body.contains("(current key)"));
    assert!(page
        .body
        .contains(&format!(r#"href="/api/v1/releases/{}/integrity""#, rel.id)));
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    for (path, cookie) in [
        ("/admin/login", None),
        ("/admin/security", Some(session.as_str())),
        ("/admin/security/rotate", Some(session.as_str())),
        ("/admin/audit", Some(session.as_str())),
        ("/packages/@acme/missing", None),
        ("/releases/1", None),
        ("/static/vouch.css", None),
    ] {
        let r = get(&app, path, cookie).await;
        let csp = r.header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(r.header("referrer-policy"), "no-referrer", "{path}");
        if path != "/static/vouch.css" {
            assert_eq!(r.header("cache-control"), "no-store", "{path}");
            assert!(r.header("content-type").starts_with("text/html"), "{path}");
            // No inline script or style: the CSP would block them anyway.
            assert!(
                !r.body.contains("<script") && !r.body.contains("<style"),
                "{path}"
            );
        } else {
            assert!(r.header("content-type").starts_with("text/css"));
        }
    }
}

#[tokio::test]
async fn signing_in_again_ends_the_previous_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let token = admin_token(dir.path());
    let first = sign_in(&app, &token).await.unwrap();
    let form_page = get(&app, "/admin/login", None).await;
    let cookies = format!("{}; {first}", cookie_pair(&form_page, "vouch_login_csrf"));
    let r = post(
        &app,
        "/admin/login",
        Some(&cookies),
        &[("csrf", &form_page.csrf()), ("token", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = cookie_pair(&r, "vouch_session");
    assert_ne!(second, first, "a new session id");
    assert_eq!(
        get(&app, "/admin/security", Some(&first)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        get(&app, "/admin/security", Some(&second)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.state.web.sessions.len().await.unwrap(), 1);
}

/// Issue 15, item 7: `/` and `/packages` answered JSON 404s and the audit log showed
/// details as raw JSON.
#[tokio::test]
async fn landing_page_package_list_and_readable_audit_details() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let home = get(&app, "/", None).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(home.header("content-type").starts_with("text/html"));
    assert_eq!(home.by_id("log-origin"), app.state.log.origin());
    for href in [
        r#"href="/packages""#,
        r#"href="/api/v1/trust-config""#,
        r#"href="/log/checkpoint""#,
        r#"href="/admin/login""#,
    ] {
        assert!(home.body.contains(href), "{href} missing: {}", home.body);
    }
    let empty = get(&app, "/packages", None).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains(r#"id="no-packages""#), "{}", empty.body);

    let meta = &app.state.meta;
    let user = meta
        .create_user("web-test", None, Timestamp::now())
        .await
        .unwrap();
    for name in ["@acme/tool", "@acme/a<b", "@zeta/unpublished"] {
        meta.create_package(name, user.id, Timestamp::now())
            .await
            .unwrap();
    }
    for v in ["1.0.0", "1.1.0"] {
        meta.insert_version(
            "@acme/tool",
            None,
            &NewVersion {
                version: v.into(),
                blake3: [v.len() as u8; 32],
                sha256: [0x56; 32],
                size: 1,
                bundle_key: format!("blobs/{v}.sigstore"),
                log_index: 1,
                publisher: "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main".into(),
                issuer: "https://issuer.example".into(),
                repository_owner_id: None,
                created_at: Timestamp(1_700_000_000),
                audit: None,
            },
        )
        .await
        .unwrap();
    }
    let list = get(&app, "/packages", None).await;
    assert_eq!(list.status, StatusCode::OK);
    let b = &list.body;
    assert!(!b.contains("a<b"), "unescaped name: {b}");
    assert!(
        b.contains(r#"href="/packages/@acme/a&lt;b">@acme/a&lt;b</a>"#),
        "{b}"
    );
    assert!(
        b.contains(r#"<a href="/packages/@acme/tool/1.1.0">1.1.0</a>"#),
        "the latest version links to its page: {b}"
    );
    assert!(b.contains("2023-11-14T22:13:20Z"), "publish time: {b}");
    assert!(b.contains("none yet"), "{b}");
    let names: Vec<_> = ["@acme/a&lt;b", "@acme/tool", "@zeta/unpublished"]
        .iter()
        .map(|n| {
            b.find(&format!(r#"class="package" href="/packages/{n}""#))
                .unwrap()
        })
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by name");
    let after = get(&app, "/packages?after=%40acme%2Ftool", None).await;
    assert!(after.body.contains("@zeta/unpublished") && !after.body.contains("1.1.0"));

    meta.append_audit(
        "test.details",
        None,
        None,
        &serde_json::json!({"oldKid": "k<1", "n": 2}).to_string(),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let session = sign_in(&app, &admin_token(dir.path())).await.unwrap();
    let audit = get(&app, "/admin/audit?action=test.", Some(&session)).await;
    assert!(
        audit.body.contains(
            r#"<dl class="details"><dt>n</dt><dd>2</dd><dt>oldKid</dt><dd>k&lt;1</dd></dl>"#
        ),
        "{}",
        audit.body
    );
}

/// Issue 16: behind a load balancer, sign in through node A, post a form with the
/// session and its CSRF token through node B (accepted; its message shows on A's next
/// page), sign out on B, and the session is over on A too.
#[tokio::test]
async fn a_session_from_one_node_works_on_another_and_ends_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path()).await;
    let b = harness::node(dir.path(), "lock-node-b.db", |_| {}).await;
    let session = sign_in(&a, &admin_token(dir.path())).await.unwrap();
    let page = get(&b, "/admin/security", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    assert_eq!(
        get(&a, "/admin/security", Some(&session)).await.csrf(),
        csrf
    );
    // A wrong token through B is still refused.
    let r = post(
        &b,
        "/admin/security/hash-budget",
        Some(&session),
        &[
            ("csrf", &"0".repeat(csrf.len())),
            ("amount", "3"),
            ("unit", "MiB"),
        ],
    )
    .await;
    assert_eq!(r.code(), "WEB_E001");
    let r = post(
        &b,
        "/admin/security/hash-budget",
        Some(&session),
        &[("csrf", &csrf), ("amount", "3"), ("unit", "MiB")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let shown = get(&a, "/admin/security", Some(&session)).await;
    assert!(shown.body.contains("Hash budget set to"), "{}", shown.body);
    assert_eq!(b.state.web.sessions.len().await.unwrap(), 1);

    let r = post(&b, "/admin/logout", Some(&session), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = get(&a, "/admin/security", Some(&session)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/admin/login");
    let r = post(
        &a,
        "/admin/security/backfill",
        Some(&session),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "WEB_E003");
    assert_eq!(a.state.web.sessions.len().await.unwrap(), 0);
}
