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
            "append",
            "checkpoint",
            "proof",
            "sigstore",
            "release"
        ]
    );
    assert_eq!(
        report["steps"][1]["detail"]["indexes"],
        serde_json::json!([0, 1, 2, 3, 4])
    );
    assert_eq!(report["steps"][3]["detail"]["forgery_refused"], true);
    assert_eq!(report["steps"][4]["detail"]["other_identity_refused"], true);
}
