//! The README's main job: `vouch quickstart` must complete every step on a fresh
//! machine with nothing but the binary.

use std::process::Command;

#[test]
fn quickstart_runs_every_step_and_reports_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["quickstart", "--json"])
        .output()
        .expect("run vouch quickstart");
    assert!(
        out.status.success(),
        "quickstart failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("quickstart --json prints one object");
    assert_eq!(report["ok"], true);
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps array")
        .iter()
        .map(|s| s["step"].as_str().expect("step name"))
        .collect();
    assert_eq!(
        steps,
        [
            "serve",
            "register",
            "publish",
            "fetch",
            "audit",
            "refused",
            "append",
            "checkpoint",
            "proof",
            "sigstore",
            "release"
        ]
    );
    let step = |name: &str| {
        report["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["step"] == name))
            .map(|s| s["detail"].clone())
            .unwrap_or_default()
    };
    // Publishing appended the package's signing event to the same log first.
    assert!(step("publish")["log_index"].is_u64(), "{}", step("publish"));
    assert_eq!(step("fetch")["verified"], true);
    assert_eq!(step("audit")["verified"], 1);
    assert_eq!(step("audit")["transparency_ok"], true);
    // Each refusal reports what was observed: exit 1 and the refused step's own code.
    let refusal = |v: serde_json::Value, code: &str| {
        assert_eq!(v, serde_json::json!({ "exit": 1, "code": code }), "{v}");
    };
    refusal(step("refused")["publish"].clone(), "PUB_E006");
    assert_eq!(step("append")["indexes"].as_array().map(Vec::len), Some(5));
    let passed = serde_json::json!({ "exit": 0, "code": null });
    assert_eq!(step("proof")["verify"], passed);
    refusal(step("proof")["forgery"].clone(), "LOG_E002");
    assert_eq!(step("sigstore")["verify"], passed);
    refusal(step("sigstore")["other_identity"].clone(), "VERIFY_E024");
    assert_eq!(step("release")["verify"], passed);
}

/// Defect (issue 12): SIGTERM to `vouch quickstart --keep` ended quickstart and left its
/// `vouch serve` child running. quickstart now passes the signal on and waits for it.
#[test]
fn sigterm_to_quickstart_keep_stops_its_server() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["quickstart", "--keep"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run vouch quickstart --keep");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (url, dir) = loop {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            _ => {
                let _ = child.kill();
                panic!("quickstart ended before keeping its server");
            }
        };
        if let Some(rest) = line.strip_prefix("The server keeps running at ") {
            let (url, rest) = rest.split_once(" with its data in ").unwrap();
            let dir = rest.strip_suffix(". Ctrl-C stops it.").unwrap();
            break (url.to_owned(), std::path::PathBuf::from(dir));
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let addr = url.strip_prefix("http://").unwrap().to_owned();
    assert!(std::net::TcpStream::connect(&addr).is_ok(), "server is up");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "quickstart ignored SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The server went with it: nothing listens on its address any more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the vouch serve child of quickstart is still running at {url}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(dir);
}
