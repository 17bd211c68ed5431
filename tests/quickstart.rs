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
