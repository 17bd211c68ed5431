//! Signing from a laptop, end to end: `vouch sign FILE --server URL` with no token and no
//! CI prints the dev email issuer's sign-in URL, headless Chromium (driven by
//! tests/web/laptop.mjs) types an email and presses the button, the loopback redirect
//! completes, the bundle verifies for that email; and the issuer's refusals, by code: a
//! wrong PKCE verifier, a reused code, a non-loopback redirect_uri.
//!
//! Needs /usr/bin/chromium, node and npm, as tests/web_browser.rs (installs Debian's
//! chromium when missing and root; a missing prerequisite fails the test).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod browser_support;
mod serve_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

const EMAIL: &str = "ada@example.org";
/// The SSH variables that would choose the device flow.
const SSH_VARS: [&str; 2] = ["SSH_CONNECTION", "SSH_TTY"];

fn ensure_browser() {
    browser_support::ensure_browser("laptop_sign", "laptop-web", "laptop.mjs");
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut u = reqwest::Url::parse("http://x/").unwrap();
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or("").to_owned()
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in at the authorization endpoint as a browser would; answers the code.
fn code_for(base: &str, redirect_uri: &str, challenge: &str) -> String {
    let resp = http()
        .post(format!("{base}/oidc/email/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("response_type", "code"),
            ("client_id", "sigstore"),
            ("redirect_uri", redirect_uri),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "s1"),
            ("email", EMAIL),
        ]))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(redirect_uri), "{location}");
    let url = reqwest::Url::parse(&location).unwrap();
    let code = url.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    code.into_owned()
}

fn exchange(
    base: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> (u16, serde_json::Value) {
    let resp = http()
        .post(format!("{base}/oidc/email/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", "sigstore"),
        ]))
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.json().unwrap())
}

// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn refusals(base: &str) {
    let redirect = "http://127.0.0.1:9/callback";
    // Discovery advertises the flow.
    let d: serde_json::Value = http()
        .get(format!(
            "{base}/oidc/email/.well-known/openid-configuration"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        d["authorization_endpoint"],
        format!("{base}/oidc/email/authorize")
    );
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // A non-loopback redirect_uri: refused before the page is shown.
    let resp = http()
        .get(format!(
            "{base}/oidc/email/authorize?{}",
            form(&[
                ("response_type", "code"),
                ("client_id", "sigstore"),
                ("redirect_uri", "http://attacker.example:80/cb"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
        ))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().unwrap();
    assert_eq!(body["code"], "OIDC_E028", "{body}");
    // A wrong verifier: refused, and the code is spent.
    let code = code_for(base, redirect, CHALLENGE);
    let (status, body) = exchange(base, &code, redirect, &"w".repeat(43));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("OIDC_E030")),
        "{body}"
    );
    let (_, body) = exchange(base, &code, redirect, VERIFIER);
    assert_eq!(body["code"], "OIDC_E029", "{body}");
    // The right verifier once, then the code is refused as reused.
    let code = code_for(base, redirect, CHALLENGE);
    let (status, body) = exchange(base, &code, redirect, VERIFIER);
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].as_str().is_some());
    let (status, body) = exchange(base, &code, redirect, VERIFIER);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("OIDC_E029")),
        "{body}"
    );
}

#[test]
fn sign_from_a_laptop_in_headless_chromium() {
    ensure_browser();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_support::start(&dir.path().join("data"), &[]);
    let base = server.url.clone();
    refusals(&base);

    let file = dir.path().join("hello.txt");
    std::fs::write(&file, b"hello from a laptop\n").unwrap();
    let bundle = dir.path().join("hello.sigstore.json");
    let mut sign = Command::new(env!("CARGO_BIN_EXE_vouch"));
    for v in SSH_VARS.iter().chain(&browser_support::CI_TOKEN_VARS) {
        sign.env_remove(v);
    }
    let mut sign = sign
        .args(["sign"])
        .arg(&file)
        .args(["--server", &base, "--bundle"])
        .arg(&bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(sign.stderr.take().unwrap());
    let mut url = String::new();
    while url.is_empty() {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "vouch sign printed no URL"
        );
        if line.trim().starts_with("http") {
            url = line.trim().to_owned();
        }
    }
    assert!(
        url.starts_with(&format!("{base}/oidc/email/authorize?")),
        "{url}"
    );
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });

    let r = browser_support::run_script(
        "laptop-web",
        "laptop.mjs",
        &[("SIGN_IN_URL", url.as_str()), ("SIGN_IN_EMAIL", EMAIL)],
    );
    assert!(
        r["finalText"].as_str().unwrap().starts_with("Signed in"),
        "{r}"
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = sign.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vouch sign did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    sign.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        status.success(),
        "vouch sign failed: {stdout}{}",
        drain.join().unwrap()
    );
    assert!(stdout.contains(EMAIL), "{stdout}");

    // The trusted root the server hands out, then verify for the email identity.
    let tc: serde_json::Value = http()
        .get(format!("{base}/api/v1/trust-config"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let root_json = dir.path().join("root.json");
    std::fs::write(&root_json, tc["trustedRoot"].to_string()).unwrap();
    let issuer = format!("{base}/oidc/email");
    let verify = |identity: &str| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .arg("verify")
            .arg(&file)
            .arg("--bundle")
            .arg(&bundle)
            .args([
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                &issuer,
            ])
            .arg("--trusted-root")
            .arg(&root_json)
            .output()
            .unwrap()
    };
    let ok = verify(EMAIL);
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    let other = verify("eve@example.org");
    assert_eq!(other.status.code(), Some(1));
}
