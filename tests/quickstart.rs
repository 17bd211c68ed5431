//! The README's main job: `vouch quickstart` must complete every step on a fresh
//! machine with nothing but the binary.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// `vouch quickstart --keep` up to the line saying where its server keeps running: the
/// child, the server's URL and data directory, and the narration before that line (the
/// rest of its output is drained).
fn keep() -> (Child, String, PathBuf, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["quickstart", "--keep"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run vouch quickstart --keep");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut narration = Vec::new();
    let (url, dir) = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!(
                "quickstart ended before keeping its server:\n{}",
                narration.join("\n")
            );
        };
        if let Some(rest) = line.strip_prefix("The server keeps running at ") {
            let (url, rest) = rest.split_once(" with its data in ").unwrap();
            let dir = rest.strip_suffix(". Ctrl-C stops it.").unwrap();
            break (url.to_owned(), PathBuf::from(dir));
        }
        narration.push(line);
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url, dir, narration)
}

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
    let (mut child, url, dir, _) = keep();
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

/// Newcomer defects (issue 15, item 7), through the real binary: the narration cut JSON
/// answers mid-object, listed its URLs twice, showed no command for step 7 and showed
/// the forged-entry command identical to the genuine one. And `verify integrity` named
/// the version without its package; it runs here against the server quickstart kept.
#[test]
fn narration_is_complete_and_verify_integrity_names_the_package() {
    let (mut child, url, dir, narration) = keep();
    let text = narration.join("\n");

    // Every `--json` command's answer is shown whole: its indented block parses.
    let mut json_commands = 0;
    for (i, line) in narration.iter().enumerate() {
        if line.starts_with("  $ vouch ") && line.ends_with(" --json") {
            let block: Vec<&str> = narration[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("    "))
                .map(|l| &l[4..])
                .collect();
            let parsed = serde_json::from_str::<serde_json::Value>(&block.join("\n"));
            assert!(
                parsed.is_ok(),
                "cut JSON after {line}:\n{}",
                block.join("\n")
            );
            json_commands += 1;
        }
    }
    assert!(json_commands >= 5, "{text}");
    // One URL list.
    assert_eq!(text.matches("/api/v1/trust-config").count(), 1, "{text}");
    assert_eq!(text.matches("URLs").count(), 1, "{text}");
    // Step 7 shows the request it makes.
    let step7 = narration.iter().position(|l| l.starts_with("7. ")).unwrap();
    let cmd = narration[step7..]
        .iter()
        .find(|l| l.starts_with("  $ "))
        .unwrap();
    assert!(
        cmd.contains("/log/internal/add-entry") && cmd.contains("@entry-0.txt"),
        "{cmd}"
    );
    assert!(narration[step7..]
        .iter()
        .take_while(|l| !l.starts_with("8. "))
        .any(|l| l.starts_with("  $ ")));
    // The genuine and the forged verify-proof commands differ, by the entry file.
    let proofs: Vec<&String> = narration
        .iter()
        .filter(|l| l.starts_with("  $ vouch log verify-proof"))
        .collect();
    assert_eq!(proofs.len(), 2, "{text}");
    assert_ne!(proofs[0], proofs[1]);
    assert!(proofs[1].contains("forged-entry.txt"), "{}", proofs[1]);

    // `verify integrity` of the published version names package and version. The
    // record is written by a group commit after the publish: wait for it briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let spec = "@quickstart/hello@1.0.0";
    // `vouch verify integrity --server URL --package SPEC EXTRA..`.
    let integrity = |spec: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["verify", "integrity", "--server", &url, "--package", spec])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = loop {
        let out = integrity(spec, &[]);
        if out.status.success() || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("verified: integrity record of @quickstart/hello 1.0.0 signed by "),
        "{stdout}"
    );
    let out = integrity(spec, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["package"].as_str(), v["version"].as_str()),
        (Some("@quickstart/hello"), Some("1.0.0"))
    );
    // A malformed package spec is refused with its code.
    let out = integrity("not-a-spec", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[INTEGRITY_E203]"));

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}
