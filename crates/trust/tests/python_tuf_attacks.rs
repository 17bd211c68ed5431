#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]
//! TUF attacks on repositories built by python-tuf (an independent implementation, pinned in target/py-venv): the client trusts a good repository first, then the same server offers rollback, freeze, mix-and-match, a root rotation below its threshold and an oversized target; each is refused with its code.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use vouch_trust::{Instance, Refresh};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let root = workspace();
    let st = Command::new("bash")
        .arg(root.join("scripts/py-venv.sh"))
        .status()
        .unwrap();
    assert!(st.success(), "scripts/py-venv.sh failed");
    root.join("target/py-venv/bin/python")
}

struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tuf_repos.py");
        let py = python();
        let st = Command::new(&py)
            .arg(&script)
            .arg("build")
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "building the python-tuf repositories failed");
        std::os::unix::fs::symlink(dir.join("good"), dir.join("current")).unwrap();
        let mut child = Command::new(&py)
            .arg(&script)
            .arg("serve")
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap().to_owned();
        Server {
            child,
            dir: dir.to_owned(),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Serve `scenario` from now on.
    fn switch(&self, scenario: &str) {
        let tmp = self.dir.join("current.new");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(self.dir.join(scenario), &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("current")).unwrap();
    }
}

fn refresh(
    url: &str,
    cache: &Path,
    root: Option<Vec<u8>>,
) -> Result<vouch_trust::Refreshed, vouch_trust::Error> {
    vouch_trust::refresh(&Refresh {
        instance: Instance::Url(url.to_owned()),
        bootstrap_root: root,
        cache_root: cache.to_owned(),
        now: jiff::Timestamp::now(),
        ca_pem: None,
    })
}

#[test]
fn python_tuf_repositories_attacks_are_refused_with_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("repos"));
    let root = std::fs::read(tmp.path().join("repos/good/1.root.json")).unwrap();

    // No root given and none cached: nothing to start from.
    let err = refresh(&server.url, &tmp.path().join("empty-cache"), None).unwrap_err();
    assert_eq!(err.code(), "TUF_E010", "{err}");

    for (scenario, code) in [
        ("ts_rollback", "TUF_E001"),
        ("snap_rollback", "TUF_E001"),
        ("freeze", "TUF_E002"),
        ("mix_and_match", "TUF_E005"),
        ("bad_threshold", "TUF_E003"),
        ("oversized", "TUF_E007"),
        ("wrong_target", "TUF_E006"),
        ("root_version", "TUF_E004"),
        ("no_trusted_root", "TUF_E011"),
        ("malformed", "TUF_E009"),
    ] {
        let cache = tmp.path().join(format!("cache-{scenario}"));
        server.switch("good");
        let good = refresh(&server.url, &cache, Some(root.clone())).unwrap();
        assert_eq!(good.timestamp_version, Some(2));
        assert_eq!(good.targets_version, Some(2));
        assert!(good.trusted_root.starts_with(b"{\"mediaType\""));
        // The cached root is enough from now on (no --root).
        server.switch(scenario);
        let err = refresh(&server.url, &cache, None).unwrap_err();
        assert_eq!(err.code(), code, "{scenario}: {err}");
        // The refusal left the verified cache usable offline.
        let offline =
            vouch_trust::read_offline(&cache, &Instance::Url(server.url.clone())).unwrap();
        assert_eq!(offline.trusted_root_sha256, good.trusted_root_sha256);
        assert!(!offline.refreshed);
    }
}

#[test]
fn unreachable_repository_and_tampered_cache_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("repos"));
    let root = std::fs::read(tmp.path().join("repos/good/1.root.json")).unwrap();
    let cache = tmp.path().join("cache");
    let good = refresh(&server.url, &cache, Some(root.clone())).unwrap();
    // A listener that is gone: nothing answers.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = refresh(&format!("http://127.0.0.1:{port}"), &cache, Some(root)).unwrap_err();
    assert_eq!(err.code(), "TUF_E008", "{err}");
    // The cached trusted root changed behind the client's back: refused offline.
    std::fs::write(good.cache_dir.join("targets/trusted_root.json"), b"{}").unwrap();
    let err = vouch_trust::read_offline(&cache, &Instance::Url(server.url.clone())).unwrap_err();
    assert_eq!(err.code(), "TUF_E012", "{err}");
}

#[test]
fn offline_read_without_a_cache_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let err =
        vouch_trust::read_offline(tmp.path(), &Instance::Url("http://127.0.0.1:9/tuf".into()))
            .unwrap_err();
    assert_eq!(err.code(), "TUF_E014");
}
