#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]
//! The instance's TUF repository (issue 20) against the real clients: sigstore-python 4.5.1 `trust-instance` with the root from a running `vouch serve --dev`, then `--instance URL sign` and `verify identity`; after a CA key rotation (`vouch admin keys reset-sigstore`) the refreshed client verifies new bundles and still verifies old ones; `vouch audit roots` reports the changed root and refuses the server's old timestamp (rollback) and expired metadata (freeze) with their codes.

mod sealed_keys_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealed_keys_support::*;

struct Py {
    python: PathBuf,
    home: PathBuf,
    tuf: String,
}

impl Py {
    fn sigstore(&self) -> Command {
        let mut c = Command::new(&self.python);
        c.args(["-m", "sigstore", "--instance", &self.tuf])
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_DATA_HOME", self.home.join("data"));
        c
    }

    fn sign(&self, base: &str, file: &Path, bundle: &Path) {
        let token = dev_token(base);
        ok(self
            .sigstore()
            .args(["sign", "--identity-token", &token, "--bundle"])
            .arg(bundle)
            .arg(file)
            .output()
            .unwrap());
    }

    fn verify(&self, base: &str, file: &Path, bundle: &Path) -> Output {
        self.sigstore()
            .args(["verify", "identity", "--bundle"])
            .arg(bundle)
            .args([
                "--cert-identity",
                &format!("https://github.com/{REPOSITORY}/{WORKFLOW}@{REF}"),
                "--cert-oidc-issuer",
                &format!("{base}/oidc"),
            ])
            .arg(file)
            .output()
            .unwrap()
    }
}

fn audit_roots(base: &str, cache: &Path, extra: &[&str]) -> Output {
    vouch()
        .args(["audit", "roots", "--instance", base, "--json", "--cache"])
        .arg(cache)
        .args(extra)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sigstore_python_follows_the_instance_through_tuf_across_a_ca_rotation() {
    let python = vouch_testkit::process::py_venv();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cache = dir.path().join("vouch-cache");
    let port = free_port();
    let server = start(&data, port);
    let base = server.base.clone();
    let py = Py {
        python,
        home: dir.path().join("home"),
        tuf: format!("{base}/tuf"),
    };

    // The root, obtained out of band (here: from the server itself, once).
    let root = dir.path().join("root.json");
    std::fs::write(&root, get(&base, "/tuf/1.root.json")).unwrap();
    ok(py
        .sigstore()
        .arg("trust-instance")
        .arg(&root)
        .output()
        .unwrap());
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed before the rotation\n").unwrap();
    let old_bundle = dir.path().join("old.sigstore.json");
    py.sign(&base, &artifact, &old_bundle);
    ok(py.verify(&base, &artifact, &old_bundle));

    // vouch's own client: first use needs --root, later runs use the cached root.
    let out = audit_roots(&base, &cache, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TUF_E010"));
    let first = json(&ok(audit_roots(
        &base,
        &cache,
        &["--root", root.to_str().unwrap()],
    )));
    assert_eq!(first["targets_version"], 1, "{first}");
    assert_eq!(first["changed"], false);
    let old_timestamp = std::fs::read(data.join("tiles/tuf/meta/timestamp.json")).unwrap();

    // Rotate the CA, TSA and CT keys offline; the restarted server publishes new targets.
    drop(server);
    ok(reset_sigstore(&data, &["--yes"]));
    let server = start(&data, port);
    let after = json(&ok(audit_roots(&base, &cache, &[])));
    assert_eq!(after["targets_version"], 2, "{after}");
    assert_eq!(after["changed"], true, "{after}");
    assert_eq!(
        after["previous_trusted_root_sha256"],
        first["trusted_root_sha256"]
    );
    vouch_testkit::assert_ca_rotated(&after);

    // sigstore-python refreshes by itself: new bundles verify, and so do old ones.
    let new_bundle = dir.path().join("new.sigstore.json");
    py.sign(&base, &artifact, &new_bundle);
    ok(py.verify(&base, &artifact, &new_bundle));
    ok(py.verify(&base, &artifact, &old_bundle));

    // Freeze: the same repository seen from two days later has expired metadata.
    let mut req = vouch_trust::Refresh::new(
        vouch_trust::Instance::vouch_server(&base),
        None,
        cache.clone(),
    );
    req.now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    let err = vouch_trust::refresh(&req).unwrap_err();
    assert_eq!(err.code(), "TUF_E002", "{err}");

    // Rollback: the server made to serve its old timestamp is refused.
    std::fs::write(data.join("tiles/tuf/meta/timestamp.json"), &old_timestamp).unwrap();
    let out = audit_roots(&base, &cache, &[]);
    assert_eq!(out.status.code(), Some(1), "{:?}", out);
    let v = json(&out);
    assert_eq!(v["error"]["code"], "TUF_E001", "{v}");
    // Offline: the cached, verified root is still there, with no connection.
    drop(server);
    let offline = json(&ok(audit_roots(&base, &cache, &["--offline"])));
    assert_eq!(offline["trusted_root_sha256"], after["trusted_root_sha256"]);
    assert_eq!(offline["refreshed"], false);
}
