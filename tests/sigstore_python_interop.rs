//! Interoperability with sigstore-python 4.5.1 (issue #4, Done when): against a running `vouch serve --dev`, sigstore-python signs and attests with vouch's trust config and dev tokens, `vouch verify` accepts both for the right identity and refuses another, `vouch sign` output verifies with sigstore-python, and a tampered artifact fails on both sides.
//!
//! Everything is loopback: the server runs the dev OIDC issuer, the CA, the Rekor v2
//! entry API and the TSA; sigstore-python is pointed at them with `--trust-config`.
//! The venv comes from `scripts/py-venv.sh` (PyPI, pinned), which this test runs.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const REPOSITORY: &str = "octo/demo";
const WORKFLOW: &str = ".github/workflows/release.yml";
const REF: &str = "refs/heads/main";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path) -> Server {
    let mut child = vouch()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

/// `GET path` with `Connection: close`; returns status and body.
fn get(base: &str, path: &str) -> (u16, Vec<u8>) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "chunked answers are not handled here"
    );
    (status, resp[split + 4..].to_vec())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh single-use dev token (each `jti` is spent by one signing).
fn token(base: &str) -> String {
    let out = ok(
        run(vouch().args([
            "dev",
            "token",
            "--server",
            base,
            "--repository",
            REPOSITORY,
            "--workflow",
            WORKFLOW,
            "--ref",
            REF,
        ])),
        "vouch dev token",
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

struct Py {
    python: PathBuf,
    trust_config: PathBuf,
    home: PathBuf,
}

impl Py {
    fn sigstore(&self) -> Command {
        let mut c = Command::new(&self.python);
        c.args(["-m", "sigstore", "--trust-config"])
            .arg(&self.trust_config)
            // Keep sigstore-python's caches inside the test's directory.
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_DATA_HOME", self.home.join("data"));
        c
    }

    fn verify_identity(&self, file: &Path, bundle: &Path, identity: &str, issuer: &str) -> Output {
        run(self
            .sigstore()
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(bundle)
            .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
            .arg(file))
    }
}

fn vouch_verify(
    file: &Path,
    bundle: &Path,
    identity: &str,
    issuer: &str,
    trusted_root: &Path,
) -> Output {
    run(vouch()
        .arg("verify")
        .arg(file)
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ])
        .arg("--trusted-root")
        .arg(trusted_root)
        .arg("--json"))
}

/// Asserts a sigstore-python refusal: exit 1 and the reason on stderr.
fn py_refused(out: &Output, reason: &str, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(err.contains(reason), "{what}: expected {reason:?}: {err}");
}

/// Asserts a `vouch verify --json` refusal: exit 1 and exactly the expected code.
fn refused(out: Output, code: &str, what: &str) {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{what}: no JSON on stdout; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(1), "{what}: {v}");
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
}

#[test]
fn sigstore_python_and_vouch_sign_and_verify_each_other() {
    let venv = ok(
        run(Command::new("bash")
            .arg(root().join("scripts/py-venv.sh"))
            .current_dir(root())),
        "scripts/py-venv.sh",
    );
    drop(venv);
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let base = server.base.clone();
    let issuer = format!("{base}/oidc");
    let identity = format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}");

    // The instance's client trust configuration, and its trusted root for vouch.
    let (status, body) = get(&base, "/api/v1/trust-config");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let trust_config = dir.path().join("trust-config.json");
    std::fs::write(&trust_config, &body).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        config["mediaType"],
        "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    );
    let trusted_root = dir.path().join("trusted_root.json");
    std::fs::write(
        &trusted_root,
        serde_json::to_vec(&config["trustedRoot"]).unwrap(),
    )
    .unwrap();
    let py = Py {
        python: root().join("target/py-venv/bin/python"),
        trust_config,
        home: dir.path().join("home"),
    };
    std::fs::create_dir_all(&py.home).unwrap();

    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"hello from vouch's interop test\n").unwrap();
    let tampered = dir.path().join("tampered.txt");
    std::fs::write(&tampered, b"hello from vouch's interop test!\n").unwrap();

    // sigstore-python signs (hashedrekord) and attests (DSSE, logged as a hashedrekord
    // over the PAE) against vouch.
    let signed = dir.path().join("artifact.sigstore.json");
    ok(
        run(py
            .sigstore()
            .args(["sign", "--identity-token", &token(&base), "--bundle"])
            .arg(&signed)
            .arg(&artifact)),
        "sigstore sign",
    );
    let predicate = dir.path().join("predicate.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://vouch.example/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://github.com/octo/demo/.github/workflows/release.yml@refs/heads/main"}}}"#,
    )
    .unwrap();
    let attested = dir.path().join("artifact.intoto.sigstore.json");
    ok(
        run(py
            .sigstore()
            .args([
                "attest",
                "--predicate-type",
                "https://slsa.dev/provenance/v1",
                "--predicate",
            ])
            .arg(&predicate)
            .args(["--identity-token", &token(&base), "--bundle"])
            .arg(&attested)
            .arg(&artifact)),
        "sigstore attest",
    );

    // Both bundles carry a Rekor v2 entry from vouch's log and an RFC 3161 timestamp.
    for b in [&signed, &attested] {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(b).unwrap()).unwrap();
        let entry = &v["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(entry["kindVersion"]["version"], "0.0.2", "{v}");
        assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
        assert!(
            v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
                ["signedTimestamp"]
                .is_string(),
            "{v}"
        );
    }

    // vouch verifies both with the expected identity and issuer...
    for b in [&signed, &attested] {
        ok(
            vouch_verify(&artifact, b, &identity, &issuer, &trusted_root),
            &format!("vouch verify {}", b.display()),
        );
    }
    // ...refuses them for another identity or issuer...
    let other = format!("https://github.com/{REPOSITORY}/.github/workflows/other.yml@{REF}");
    for b in [&signed, &attested] {
        refused(
            vouch_verify(&artifact, b, &other, &issuer, &trusted_root),
            "VERIFY_E024",
            "another identity",
        );
        refused(
            vouch_verify(
                &artifact,
                b,
                &identity,
                "https://token.actions.githubusercontent.com",
                &trusted_root,
            ),
            "VERIFY_E025",
            "another issuer",
        );
        // ...and refuses a tampered artifact.
        refused(
            vouch_verify(&tampered, b, &identity, &issuer, &trusted_root),
            "VERIFY_E011",
            "tampered artifact",
        );
    }

    // sigstore-python agrees on its own bundle, and fails the tampered artifact.
    ok(
        py.verify_identity(&artifact, &signed, &identity, &issuer),
        "sigstore verify identity (sigstore-python bundle)",
    );
    let out = py.verify_identity(&tampered, &signed, &identity, &issuer);
    py_refused(
        &out,
        "Bundle message digest mismatch",
        "sigstore-python, tampered artifact",
    );

    // `vouch sign` output verifies with sigstore-python (and with vouch), and a
    // tampered artifact fails on both sides.
    let vouch_bundle = dir.path().join("artifact.vouch.sigstore.json");
    ok(
        run(vouch()
            .arg("sign")
            .arg(&artifact)
            .args([
                "--identity-token",
                &token(&base),
                "--server",
                &base,
                "--bundle",
            ])
            .arg(&vouch_bundle)),
        "vouch sign",
    );
    ok(
        py.verify_identity(&artifact, &vouch_bundle, &identity, &issuer),
        "sigstore verify identity (vouch sign bundle)",
    );
    ok(
        vouch_verify(&artifact, &vouch_bundle, &identity, &issuer, &trusted_root),
        "vouch verify (vouch sign bundle)",
    );
    let out = py.verify_identity(&tampered, &vouch_bundle, &identity, &issuer);
    py_refused(
        &out,
        "Bundle message digest mismatch",
        "sigstore-python, tampered artifact",
    );
    refused(
        vouch_verify(&tampered, &vouch_bundle, &identity, &issuer, &trusted_root),
        "VERIFY_E011",
        "tampered artifact (vouch sign bundle)",
    );
}
