//! The web UI in a real browser: starts `vouch serve --dev`, drives Debian's headless Chromium with playwright-core (tests/web/script.mjs) to visit the landing page and the package list, sign in, rotate the registry key through its confirmation page and find the rotation in the audit log, then asserts here on the JSON the script prints. Screenshots land in target/web-screenshots/ (kept by CI).
//!
//! Needs /usr/bin/chromium, node and npm. When Chromium is missing the test installs
//! it with apt-get if it runs as root. A prerequisite that is still missing fails the
//! test with a message naming the tool, everywhere: a browser test that cannot run
//! must never pass (.ci/run installs chromium).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The browser session's bound (launch, sign-in, rotate, audit, sign-out).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test: the browser cannot run, and a skipped browser test would pass
/// silently.
fn unavailable(what: &str) -> ! {
    panic!("web_browser cannot run: {what}; install it (.ci/run installs chromium as root)");
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn run_quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Makes sure Debian's chromium is installed (apt-get as root).
fn ensure_chromium() {
    if Path::new(CHROMIUM).exists() {
        return;
    }
    if !is_root() {
        unavailable(
            "chromium (/usr/bin/chromium) is missing and apt-get needs root (apt-get install chromium)",
        );
    }
    eprintln!("web_browser: installing Debian's chromium with apt-get");
    let apt = |args: &[&str]| {
        run_quiet(
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    let installed = apt(&["update", "-qq"])
        && apt(&[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
        ])
        && Path::new(CHROMIUM).exists();
    if !installed {
        unavailable("chromium: apt-get install chromium failed");
    }
}

/// `npm ci` in tests/web: playwright-core exactly as package-lock.json pins it.
fn ensure_driver() {
    if !run_quiet(Command::new("node").arg("--version").stdout(Stdio::null())) {
        unavailable("node is not installed (or `node --version` failed)");
    }
    let ok = run_quiet(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(root().join("tests/web"))
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .stdout(Stdio::null()),
    );
    if !ok {
        unavailable(
            "npm: `npm ci` in tests/web failed (is npm installed and its registry reachable?)",
        );
    }
}

// Kills the server when the test ends, however it ends.
use vouch_testkit::process::ChildGuard as Server;

fn start_server(data: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting vouch serve");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = lines.read_to_end(&mut sink);
    });
    (server, base)
}

/// Runs the node script with a hard deadline; returns its stdout.
fn run_script(base: &str, data: &Path, shots: &Path) -> String {
    let mut child = Command::new("node")
        .arg(root().join("tests/web/script.mjs"))
        .current_dir(root().join("tests/web"))
        .env("VOUCH_BASE_URL", base)
        .env("VOUCH_ADMIN_TOKEN_FILE", data.join("admin.token"))
        .env("VOUCH_SCREENSHOT_DIR", shots)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting node");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser script did not finish within {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(|s| s.trim().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn rotate_the_registry_key_in_headless_chromium() {
    ensure_chromium();
    ensure_driver();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, base) = start_server(&data);
    let shots = root().join("target/web-screenshots");

    let started = Instant::now();
    let out = run_script(&base, &data, &shots);
    let elapsed = started.elapsed();
    drop(server);
    let line = out.lines().last().unwrap_or("");
    let r: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("script output {out:?}: {e}"));
    eprintln!(
        "web_browser: {elapsed:?} in Chromium {}",
        r["browserVersion"]
    );
    assert_eq!(
        r["ok"], true,
        "the script stopped at {}: {}",
        r["step"], r["error"]
    );

    assert_eq!(
        r["redirectedToLogin"], true,
        "signed-out visit goes to the sign-in page"
    );
    assert_eq!(r["landingTitle"], "vouch registry", "the landing page at /");
    let links = strings(&r["landingLinks"]);
    for href in [
        "/packages",
        "/api/v1/trust-config",
        "/log/checkpoint",
        "/admin/login",
    ] {
        assert!(links.iter().any(|l| l == href), "{href} not in {links:?}");
    }
    assert_eq!(
        r["packagesTitle"], "Packages",
        "the package list at /packages"
    );
    assert_eq!(r["packagesEmpty"], "No packages yet.");
    assert_eq!(r["signedIn"], true);
    assert_eq!(
        r["headerBackground"], "rgb(24, 32, 43)",
        "the stylesheet loads under the CSP"
    );

    let before = r["kidBefore"].as_str().unwrap().to_owned();
    let after = r["kidAfter"].as_str().unwrap().to_owned();
    assert_eq!(before.len(), 16, "kid is 16 hex characters: {before:?}");
    assert!(before.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        strings(&r["previousBefore"]).is_empty(),
        "a fresh server has no previous key"
    );
    assert_eq!(
        r["confirmKid"],
        before.as_str(),
        "the confirmation names the current key"
    );
    assert_ne!(after, before, "rotation made a new key current");
    assert_eq!(after.len(), 16);
    assert_eq!(
        strings(&r["previousAfter"]),
        vec![before.clone()],
        "the old key is listed as previous"
    );
    assert!(r["notice"].as_str().unwrap().starts_with("Rotated:"));

    let actions = strings(&r["auditActions"]);
    assert_eq!(actions, vec!["registry.signing_key.rotate".to_owned()]);
    // The details are a definition list now (issue 15, item 7), not raw JSON.
    let details = strings(&r["auditDetails"]).join(" ");
    let pairs: Vec<(String, String)> = r["auditDetailPairs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p[0].as_str().unwrap_or("").into(),
                p[1].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(
        pairs.contains(&("oldKid".into(), before.clone()))
            && pairs.contains(&("newKid".into(), after.clone())),
        "{pairs:?} in {details}"
    );
    assert!(!details.contains('{'), "no raw JSON: {details}");
    assert_eq!(r["signedOut"], true);

    let csp_violations: Vec<String> = strings(&r["consoleErrors"])
        .into_iter()
        .filter(|e| e.contains("Content Security Policy"))
        .collect();
    assert!(csp_violations.is_empty(), "{csp_violations:?}");

    for shot in ["landing.png", "security.png", "audit.png"] {
        let png = std::fs::read(shots.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is a PNG");
        assert!(
            png.len() > 10_000,
            "{shot} has content ({} bytes)",
            png.len()
        );
    }
    assert!(elapsed < SCRIPT_TIMEOUT);
}
