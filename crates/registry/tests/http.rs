//! HTTP tests through the router (`oneshot`): cache headers, range checks, bad paths as 4xx, the internal add-entry endpoint, pushback, and the built-in witness.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod harness;
use harness::{app_with as app, call, get, Resp};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use vouch_registry::App;
use vouch_tlog::{KeyType, Signer};

fn token(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("internal.token"))
        .unwrap()
        .trim()
        .to_owned()
}

async fn add(app: &App, dir: &std::path::Path, body: Vec<u8>) -> Resp {
    let req = Request::post("/log/internal/add-entry")
        .header("authorization", format!("Bearer {}", token(dir)))
        .body(Body::from(body))
        .unwrap();
    call(app, req).await
}

#[tokio::test]
async fn checkpoint_and_tiles_have_the_right_cache_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |c| c.log.batch_interval_ms = Some(1)).await;
    let cp = get(&app, "/log/checkpoint").await;
    assert_eq!(cp.status, StatusCode::OK);
    assert_eq!(cp.header("cache-control"), "no-cache");
    assert!(String::from_utf8(cp.body)
        .unwrap()
        .starts_with("localhost/vouch-dev\n0\n"));

    for i in 0..300u32 {
        let r = add(&app, dir.path(), format!("entry {i}").into_bytes()).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{:?}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let size = app.state.log.local().unwrap().latest().size;
    assert_eq!(size, 300);
    let full = get(&app, "/log/tile/0/000").await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body.len(), 256 * 32);
    assert_eq!(
        full.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let bundle = get(&app, "/log/tile/entries/000").await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert_eq!(
        bundle.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let partial = get(&app, "/log/tile/0/001.p/44").await;
    assert_eq!(partial.status, StatusCode::OK);
    assert_eq!(partial.body.len(), 44 * 32);
    assert_eq!(partial.header("cache-control"), "public, max-age=60");
    // A width that was never a checkpoint size is cut from the wider tile.
    let narrower = get(&app, "/log/tile/0/001.p/3").await;
    assert_eq!(narrower.status, StatusCode::OK);
    assert_eq!(narrower.body, partial.body[..3 * 32]);
    let e = get(&app, "/log/tile/entries/001.p/2").await;
    assert_eq!(e.status, StatusCode::OK);
    assert_eq!(vouch_tlog::decode_entry_bundle(&e.body).unwrap().len(), 2);
    let level1 = get(&app, "/log/tile/1/000.p/1").await;
    assert_eq!(level1.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_and_out_of_range_tile_paths_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |_| {}).await;
    add(&app, dir.path(), b"one".to_vec()).await;
    for (path, want) in [
        ("/log/tile/0/000", StatusCode::NOT_FOUND), // beyond size 1
        ("/log/tile/0/000.p/2", StatusCode::NOT_FOUND), // beyond size 1
        ("/log/tile/entries/001.p/1", StatusCode::NOT_FOUND),
        ("/log/tile/1/000.p/1", StatusCode::NOT_FOUND),
        ("/log/tile/0/000.p/1", StatusCode::OK),
        ("/log/tile/0/0", StatusCode::BAD_REQUEST),
        ("/log/tile/0/x000/000", StatusCode::BAD_REQUEST),
        ("/log/tile/0/000.p/0", StatusCode::BAD_REQUEST),
        ("/log/tile/0/000.p/256", StatusCode::BAD_REQUEST),
        ("/log/tile/64/000", StatusCode::BAD_REQUEST),
        ("/log/tile/0/../lock.db", StatusCode::BAD_REQUEST),
        ("/log/tile/entries/abc", StatusCode::BAD_REQUEST),
        (
            "/log/tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            StatusCode::BAD_REQUEST,
        ),
        ("/log/nothing", StatusCode::NOT_FOUND),
    ] {
        let r = get(&app, path).await;
        assert_eq!(
            r.status,
            want,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if want != StatusCode::OK {
            let j = r.json();
            assert!(
                j["code"].as_str().unwrap().starts_with("SERVE_E00"),
                "{path}: {j}"
            );
            assert_eq!(j["status"], want.as_u16());
        }
    }
}

#[tokio::test]
async fn internal_add_entry_needs_the_token_and_caps_entries() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |_| {}).await;
    let no_auth = call(
        &app,
        Request::post("/log/internal/add-entry")
            .body(Body::from("x"))
            .unwrap(),
    )
    .await;
    assert_eq!(no_auth.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_auth.json()["code"], "SERVE_E006");
    let wrong = call(
        &app,
        Request::post("/log/internal/add-entry")
            .header("authorization", "Bearer nope")
            .body(Body::from("x"))
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let big = add(&app, dir.path(), vec![0u8; 65_536]).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(big.json()["code"], "SERVE_E004");
    let ok = add(&app, dir.path(), vec![0u8; 65_535]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["index"], 0);
    assert_eq!(
        app.state.log.local().unwrap().latest().size,
        1,
        "nothing else was written"
    );
}

#[tokio::test]
async fn a_full_pool_is_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |c| {
        c.log.batch_interval_ms = Some(3_600_000);
        c.log.batch_max_entries = Some(1000);
        c.log.pool_max_entries = Some(2);
    })
    .await;
    // The first batch is due at once; after it the sequencer waits an hour.
    assert_eq!(
        add(&app, dir.path(), b"a".to_vec()).await.status,
        StatusCode::OK
    );
    let pending: Vec<_> = (0..2)
        .map(|_| {
            app.state
                .log
                .local()
                .unwrap()
                .enqueue(bytes::Bytes::from_static(b"p"))
                .unwrap()
        })
        .collect();
    let r = add(&app, dir.path(), b"c".to_vec()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["code"], "SERVE_E003");
    let retry: u64 = r.header("retry-after").parse().unwrap();
    assert!(retry >= 1);
    app.state.log.shutdown().await;
    for p in pending {
        p.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn the_built_in_witness_cosigns_our_log_and_refuses_rollbacks() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |_| {}).await;
    for i in 0..10u32 {
        add(&app, dir.path(), format!("w{i}").into_bytes()).await;
    }
    let cp = app.state.log.local().unwrap().latest();
    let body = format!("old 0\n\n{}", String::from_utf8(cp.note.to_vec()).unwrap());
    let post = |body: String| {
        Request::post("/add-checkpoint")
            .body(Body::from(body))
            .unwrap()
    };
    let r = call(&app, post(body.clone())).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(String::from_utf8(r.body)
        .unwrap()
        .starts_with("— localhost/vouch-dev-witness "));
    // Replaying old 0 now conflicts: 409 with the latest size as text/x.tlog.size.
    let r = call(&app, post(body)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.header("content-type"), "text/x.tlog.size");
    assert_eq!(r.body, b"10\n");
    // Unknown origins are 404, garbage is 400, a foreign key is 403.
    let other = Signer::from_seed("other.example/log", KeyType::Ed25519, &[9; 32]).unwrap();
    let text =
        vouch_tlog::Checkpoint::new("other.example/log", 1, vouch_tlog::leaf_hash(b"x")).to_text();
    let note = vouch_tlog::sign_note(&text, &[&other]).unwrap();
    assert_eq!(
        call(&app, post(format!("old 0\n\n{note}"))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, post("garbage".into())).await.status,
        StatusCode::BAD_REQUEST
    );
    let forged = Signer::from_seed("localhost/vouch-dev", KeyType::Ed25519, &[9; 32]).unwrap();
    let text = vouch_tlog::Checkpoint::new("localhost/vouch-dev", 11, vouch_tlog::leaf_hash(b"x"))
        .to_text();
    let note = vouch_tlog::sign_note(&text, &[&forged]).unwrap();
    assert_eq!(
        call(&app, post(format!("old 10\n\n{note}"))).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Issue 13 item 13: the framework's own refusals (a body over a route's limit, a bad
/// path parameter, a wrong method) were plain text or empty, so clients found no
/// `code`. Every one is now the `{status, code, detail}` envelope.
#[tokio::test]
async fn framework_rejections_answer_in_the_json_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |_| {}).await;
    // Over the add-entry route's 128 KiB DefaultBodyLimit (the handler never runs).
    let big = add(&app, dir.path(), vec![0u8; 200 << 10]).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(big.header("content-type").starts_with("application/json"));
    assert_eq!(big.json()["code"], "SERVE_E020");
    assert_eq!(big.json()["status"], 413);
    // Over axum's default 2 MB limit on a route with no limit of its own.
    let req = Request::post("/api/v1/publishers")
        .header("authorization", "Bearer x")
        .body(Body::from(vec![b' '; 3 << 20]))
        .unwrap();
    let r = call(&app, req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["code"], "SERVE_E020");
    // A path parameter of the wrong type.
    let r = get(&app, "/api/v1/releases/not-a-number").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["code"], "SERVE_E001");
    assert!(r.json()["detail"].as_str().unwrap().len() > 3);
    // A method the route does not take keeps its `Allow` header.
    let r = call(
        &app,
        Request::delete("/api/v1/publishers")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["code"], "SERVE_E021");
    assert!(r.header("allow").contains("POST"), "{:?}", r.headers);
    // Answers that are not errors, and deliberate non-JSON error bodies, are untouched.
    let ok = get(&app, "/log/checkpoint").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.header("content-type").starts_with("text/plain"));
}

/// Issue 15: `AppState`'s `Debug` named the internal token in clear (it derived
/// `Debug`); a `{state:?}` in a log line would have leaked it. Neither it nor the
/// TOKEN_ENC_KEY may appear.
#[tokio::test]
async fn app_state_debug_prints_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), |_| {}).await;
    let token = token(dir.path());
    assert!(token.len() >= 16, "the dev internal token exists");
    let printed = format!("{:?}", app.state);
    assert!(!printed.contains(&token), "{printed}");
    let enc_key = std::fs::read_to_string(dir.path().join("token_enc.key")).unwrap();
    assert!(!enc_key.trim().is_empty(), "the dev TOKEN_ENC_KEY exists");
    assert!(!printed.contains(enc_key.trim()), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
    assert!(printed.contains("public_url"), "{printed}");
}
