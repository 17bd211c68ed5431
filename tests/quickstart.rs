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
    assert_eq!(step("refused")["code"], "PUB_E006");
    assert_eq!(step("append")["indexes"].as_array().map(Vec::len), Some(5));
    assert_eq!(step("proof")["forgery_refused"], true);
    assert_eq!(step("sigstore")["other_identity_refused"], true);
}
