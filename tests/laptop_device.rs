//! Signing and publishing from a machine whose browser cannot reach a loopback listener
//! (issue 20, item 5): the device authorization grant (RFC 8628) at the `--dev` email
//! issuer. `vouch sign --device` prints the verification URI and a user code and polls;
//! headless Chromium (tests/web/device.mjs) opens the page, types the code and an email;
//! the bundle verifies for that email. `vouch publish --device` does the same, and the
//! package's email binding accepts the certificate (another email is refused, PUB_E006).
//! A denied sign-in fails with OIDC_E034; a code nobody enters expires with OIDC_E033
//! (a server whose codes live 3 s, the flow chosen by itself in an SSH session without
//! a display).
//!
//! Needs /usr/bin/chromium, node and npm, as tests/laptop_sign.rs.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod browser_support;
mod serve_support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EMAIL: &str = "ada@example.org";
/// Variables beside the CI tokens that would make the command use a server, a token or a
/// local browser.
const AMBIENT: [&str; 5] = [
    "VOUCH_SERVER",
    "VOUCH_IDENTITY_TOKEN",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "BROWSER",
];

fn ensure_browser() {
    browser_support::ensure_browser("laptop_device", "device-web", "device.mjs");
}

/// A `vouch` command with no CI token, no display and no browser around.
fn vouch(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    for v in browser_support::CI_TOKEN_VARS.iter().chain(&AMBIENT) {
        cmd.env_remove(v);
    }
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

/// A command waiting for its device sign-in: the URI and code it printed.
struct Waiting {
    child: Child,
    verify_url: String,
    user_code: String,
    stderr: std::thread::JoinHandle<String>,
}

fn start_waiting(mut cmd: Command) -> Waiting {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut verify_url, mut user_code, mut seen) = (String::new(), String::new(), String::new());
    while verify_url.is_empty() || user_code.is_empty() {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the command printed no verification URI and code: {seen}"
        );
        seen.push_str(&line);
        let t = line.trim();
        if t.starts_with("http") && verify_url.is_empty() {
            verify_url = t.to_owned();
        } else if t.len() == 9 && t.as_bytes()[4] == b'-' {
            user_code = t.to_owned();
        }
    }
    let stderr = std::thread::spawn(move || {
        let mut rest = seen;
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    Waiting {
        child,
        verify_url,
        user_code,
        stderr,
    }
}

impl Waiting {
    /// Waits (at most 90 s) for the command; its exit code, stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "the command did not finish");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (status.code(), out, self.stderr.join().unwrap())
    }
}

/// Headless Chromium types the code (and email) and presses the button.
fn browser(w: &Waiting, email: &str, action: &str) -> String {
    let r = browser_support::run_script(
        "device-web",
        "device.mjs",
        &[
            ("VERIFY_URL", w.verify_url.as_str()),
            ("USER_CODE", w.user_code.as_str()),
            ("SIGN_IN_EMAIL", email),
            ("ACTION", action),
        ],
    );
    r["finalText"].as_str().unwrap().to_owned()
}

fn sign_cmd(cwd: &Path, base: &str, file: &Path, bundle: &Path) -> Command {
    let mut cmd = vouch(cwd);
    cmd.arg("sign")
        .arg(file)
        .args(["--server", base, "--bundle"])
        .arg(bundle);
    cmd
}

fn project(dir: &Path, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("vouch.toml"),
        format!("[package]\nname = \"@ada/notes\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("src/notes.txt"), version).unwrap();
    dir.to_owned()
}

#[test]
fn device_sign_in_signs_and_publishes_in_headless_chromium() {
    ensure_browser();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let server = serve_support::start(&data, &[]);
    let base = server.url.clone();

    // Discovery advertises the device endpoint and grant.
    let disc: serde_json::Value = reqwest::blocking::get(format!(
        "{base}/oidc/email/.well-known/openid-configuration"
    ))
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(
        disc["device_authorization_endpoint"],
        format!("{base}/oidc/email/device/code")
    );
    assert!(disc["grant_types_supported"]
        .to_string()
        .contains("urn:ietf:params:oauth:grant-type:device_code"));

    // 1. `vouch sign --device`: the user approves in the browser; the bundle verifies for
    //    the email.
    let file = d.join("hello.txt");
    std::fs::write(&file, b"hello from a device sign-in\n").unwrap();
    let bundle = d.join("hello.sigstore.json");
    let mut cmd = sign_cmd(d, &base, &file, &bundle);
    cmd.args(["--device", "--json"]);
    let waiting = start_waiting(cmd);
    assert!(
        waiting
            .verify_url
            .starts_with(&format!("{base}/oidc/email/device")),
        "{}",
        waiting.verify_url
    );
    let answer = browser(&waiting, EMAIL, "approve");
    assert!(answer.starts_with("Signed in"), "{answer}");
    let (code, stdout, stderr) = waiting.finish();
    assert_eq!(code, Some(0), "vouch sign failed: {stdout}{stderr}");
    let signed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(signed["identity"], EMAIL, "{signed}");
    let tc: serde_json::Value = reqwest::blocking::get(format!("{base}/api/v1/trust-config"))
        .unwrap()
        .json()
        .unwrap();
    let root_json = d.join("root.json");
    std::fs::write(&root_json, tc["trustedRoot"].to_string()).unwrap();
    let verify = |identity: &str| {
        vouch(d)
            .arg("verify")
            .arg(&file)
            .arg("--bundle")
            .arg(&bundle)
            .args(["--certificate-identity", identity])
            .args(["--certificate-oidc-issuer", &format!("{base}/oidc/email")])
            .arg("--trusted-root")
            .arg(&root_json)
            .output()
            .unwrap()
    };
    let verified = verify(EMAIL);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(verify("eve@example.org").status.code(), Some(1));

    // 2. A denied sign-in: the command stops with the issuer's code.
    let denied_bundle = d.join("denied.sigstore.json");
    let mut cmd = sign_cmd(d, &base, &file, &denied_bundle);
    cmd.arg("--device");
    let waiting = start_waiting(cmd);
    let answer = browser(&waiting, EMAIL, "deny");
    assert!(answer.starts_with("Sign-in denied"), "{answer}");
    let (code, _, stderr) = waiting.finish();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("error[OIDC_E034]"), "{stderr}");
    assert!(!denied_bundle.exists());

    // 3. `vouch publish --device` with an email binding: the binding's email publishes,
    //    another email is refused by the registry.
    let owner = data.join("owner.token");
    let registered = vouch(d)
        .args(["publish", "register", "--server", &base, "--token-file"])
        .arg(&owner)
        .args([
            "--package",
            "@ada/notes",
            "--provider",
            "email",
            "--email",
            EMAIL,
        ])
        .output()
        .unwrap();
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    let publish = |version: &str| {
        let pkg = project(&d.join(format!("notes-{version}")), version);
        let mut cmd = vouch(d);
        cmd.arg("publish")
            .arg(&pkg)
            .args(["--server", &base, "--device", "--json"]);
        start_waiting(cmd)
    };
    let waiting = publish("0.1.0");
    browser(&waiting, EMAIL, "approve");
    let (code, stdout, stderr) = waiting.finish();
    assert_eq!(code, Some(0), "vouch publish failed: {stdout}{stderr}");
    let published: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(published["identity"], EMAIL, "{published}");
    assert_eq!(published["token_source"], "device", "{published}");
    let waiting = publish("0.2.0");
    browser(&waiting, "eve@example.org", "approve");
    let (code, _, stderr) = waiting.finish();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error[PUB_E006]"), "{stderr}");
    drop(server);

    // 4. A code nobody enters expires (codes live 3 s here). No --device: an SSH session
    //    without a display chooses the device flow by itself.
    let short = d.join("short");
    std::fs::create_dir_all(&short).unwrap();
    let cfg = short.join("vouch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[log]\n[storage.objects]\nkind = \"local\"\npath = \"{0}/tiles\"\n\
             [storage.lock]\nkind = \"sqlite\"\npath = \"{0}/lock.db\"\n\
             [database]\nkind = \"sqlite\"\npath = \"{0}/meta.db\"\n\
             [internal]\ntoken_env = \"VOUCH_INTERNAL_TOKEN\"\n\
             [oidc]\ndev_device_code_secs = 3\n",
            short.display()
        ),
    )
    .unwrap();
    let server = serve_support::start(&short, &["--config", cfg.to_str().unwrap()]);
    let mut cmd = sign_cmd(d, &server.url, &file, &d.join("late.sigstore.json"));
    cmd.env("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22");
    let waiting = start_waiting(cmd);
    let (code, _, stderr) = waiting.finish();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("error[OIDC_E033]"), "{stderr}");
}
