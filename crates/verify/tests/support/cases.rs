//! The sigstore-conformance bundle-verify cases, with the suite's defaults and the error
//! code each `_fail` case must produce. Shared by the library test (`conformance.rs`) and
//! the CLI test in the root crate (`tests/conformance_cli.rs`), so both pin the same reasons.

use std::path::{Path, PathBuf};

pub const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
pub const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The error code each failing case must produce. Every `_fail` case is listed; a new
/// one in the vectors fails the test until its expected reason is written down here.
pub const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // x509CertificateChain with no certificates (it also lacks a checkpoint; the chain
    // is checked first, as sigstore-python does).
    ("bundle-empty-certificate-chain_fail", "VERIFY_E027"),
    // A staging bundle: its Rekor log is not in the public-good root.
    ("bundle-from-wrong-instance_fail", "VERIFY_E016"),
    ("bundle-invalid-base64-signature_fail", "VERIFY_E003"),
    ("bundle-malformed-json_fail", "VERIFY_E003"),
    ("bundle-negative-log-index_fail", "VERIFY_E003"),
    ("bundle-unknown-version_fail", "VERIFY_E004"),
    // Its inclusion proof has no checkpoint, which fails first; sigstore-python fails it
    // for the same reason (and only warns about the root certificate in the chain).
    ("bundle-with-root-cert_fail", "VERIFY_E018"),
    ("checkpoint-bad-keyhint_fail", "VERIFY_E018"),
    ("checkpoint-wrong-roothash_fail", "VERIFY_E017"),
    ("dsse-invalid-sig_fail", "VERIFY_E012"),
    ("dsse-mismatch-envelope_fail", "VERIFY_E020"),
    ("dsse-mismatch-sig_fail", "VERIFY_E020"),
    // The log entry's body was altered: its SET no longer verifies.
    ("incorrect-public-key_fail", "VERIFY_E019"),
    ("inclusion-proof-corrupted-hash_fail", "VERIFY_E017"),
    // Built when its integrated time was in the future; the clock has since passed it,
    // and the certificate had expired by then (sigstore-python: the same reason).
    ("integrated-time-in-future_fail", "VERIFY_E014"),
    ("intoto-expired-certificate_fail", "VERIFY_E014"),
    // The intoto body's signature is not the bundle's (nor double-base64 as intoto needs).
    ("intoto-log-entry-mismatch_fail", "VERIFY_E020"),
    ("intoto-missing-inclusion-proof_fail", "VERIFY_E017"),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "VERIFY_E014",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "VERIFY_E014",
    ),
    ("invalid-checkpoint-signature_fail", "VERIFY_E018"),
    ("invalid-ct-key_fail", "VERIFY_E015"),
    // Its inclusion proof has no checkpoint (sigstore-python: the same reason).
    ("invalid-inclusion-proof_fail", "VERIFY_E018"),
    ("managed-key-no-key_fail", "VERIFY_E010"),
    // key.pub's base64 ends in a non-canonical symbol; pyca/cryptography refuses to load
    // it too, so the "wrong key" never gets as far as a signature check anywhere.
    ("managed-key-wrong-key_fail", "VERIFY_E008"),
    ("message-digest-mismatch_fail", "VERIFY_E011"),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        "VERIFY_E018",
    ),
    ("rekor2-checkpoint-missing-origin_fail", "VERIFY_E018"),
    ("rekor2-checkpoint-missing-root-hash_fail", "VERIFY_E018"),
    ("rekor2-checkpoint-missing-size_fail", "VERIFY_E018"),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        "VERIFY_E018",
    ),
    ("rekor2-dsse-invalid-sig_fail", "VERIFY_E012"),
    ("rekor2-dsse-mismatch-envelope_fail", "VERIFY_E020"),
    ("rekor2-dsse-mismatch-sig_fail", "VERIFY_E020"),
    ("rekor2-no-inclusion-proof_fail", "VERIFY_E017"),
    ("rekor2-no-timestamp_fail", "VERIFY_E023"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "VERIFY_E022",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "VERIFY_E022",
    ),
    ("rekor2-timestamp-payload-mismatch_fail", "VERIFY_E022"),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "VERIFY_E022",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "VERIFY_E022",
    ),
    // Its timestamp is base64 wrapped at 76 columns (accepted, as protojson does); the
    // genuine TSA time (2025-07-15) is a month after the signing certificate expired
    // (sigstore-python: the same reason).
    ("rekor2-timestamp-with-incorrect-time_fail", "VERIFY_E014"),
    ("set-invalid-signature_fail", "VERIFY_E019"),
    ("signature-mismatch_fail", "VERIFY_E012"),
    ("trust-root-tlog-missing-validity-start_fail", "VERIFY_E007"),
    // The signature and digest match the artifact; the log entry logged another hash.
    ("wrong-hashedrekord-artifact_fail", "VERIFY_E020"),
    ("wrong-hashedrekord-cert-and-sig_fail", "VERIFY_E020"),
    ("wrong-hashedrekord-entry_fail", "VERIFY_E020"),
    ("wrong-material_fail", "VERIFY_E011"),
];

/// Cases whose verdict is knowingly different from the suite's. Keep empty; any entry
/// needs a comment saying why and what would fix it.
pub const KNOWN_EXCEPTIONS: &[&str] = &[];

/// One case with the suite's defaults applied (see the issue's Done-when).
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub bundle: PathBuf,
    /// The case's `artifact`, or the suite's shared `a.txt`.
    pub artifact: PathBuf,
    /// From the case's `identity` file, or the suite default.
    pub identity: String,
    /// From the case's `issuer` file, or the suite default.
    pub issuer: String,
    /// The case's `key.pub`: the managed-key form.
    pub key: Option<PathBuf>,
    /// The case's `trusted_root.json`; otherwise the embedded public-good root.
    pub trusted_root: Option<PathBuf>,
    /// `Some(code)` for `_fail` cases.
    pub expected_code: Option<&'static str>,
}

impl Case {
    pub fn is_exception(&self) -> bool {
        KNOWN_EXCEPTIONS.contains(&self.name.as_str())
    }
}

/// The suite directory: `$VOUCH_VECTORS/sigstore-conformance/bundle-verify`, by default
/// the `shared/vectors` checked out beside the repository.
pub fn suite_dir(manifest_dir: &Path, depth_to_repo: usize) -> PathBuf {
    let vectors = std::env::var_os("VOUCH_VECTORS").map_or_else(
        || {
            let mut repo = manifest_dir.to_path_buf();
            for _ in 0..depth_to_repo {
                repo.pop();
            }
            repo.join("../shared/vectors")
        },
        PathBuf::from,
    );
    vectors.join("sigstore-conformance/bundle-verify")
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.exists().then_some(path)
}

/// Loads every case, sorted by name. Panics (this is test support) if the suite is absent.
pub fn load(suite: &Path) -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(suite)
        .unwrap_or_else(|e| panic!("conformance vectors at {}: {e}", suite.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let expected_code = EXPECTED_FAILURES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c);
            Case {
                bundle: dir.join("bundle.sigstore.json"),
                artifact: existing(dir.join("artifact")).unwrap_or_else(|| suite.join("a.txt")),
                identity: read_trimmed(&dir.join("identity")).unwrap_or(DEFAULT_IDENTITY.into()),
                issuer: read_trimmed(&dir.join("issuer")).unwrap_or(DEFAULT_ISSUER.into()),
                key: existing(dir.join("key.pub")),
                trusted_root: existing(dir.join("trusted_root.json")),
                expected_code,
                name,
            }
        })
        .collect()
}

/// Problems with the tables themselves: a `_fail` case without an expected code, a code
/// listed for a case that is not `_fail` or not in the vectors, too few cases.
pub fn table_problems(cases: &[Case]) -> Vec<String> {
    let mut problems = Vec::new();
    if cases.len() < 70 {
        problems.push(format!(
            "expected the full suite (71 cases), found {}",
            cases.len()
        ));
    }
    for case in cases {
        if case.name.ends_with("_fail") != case.expected_code.is_some() {
            problems.push(format!(
                "{}: `_fail` suffix and EXPECTED_FAILURES disagree",
                case.name
            ));
        }
    }
    for (name, _) in EXPECTED_FAILURES {
        if !cases.iter().any(|c| c.name == *name) {
            problems.push(format!("{name}: listed but not in the vectors"));
        }
    }
    problems
}

/// Compares an outcome with the expectation; `None` when it is right.
pub fn judge(case: &Case, how: &str, outcome: Result<(), String>) -> Option<String> {
    match (outcome, case.expected_code) {
        (Ok(()), None) => None,
        (Ok(()), Some(code)) => Some(format!("{} ({how}): verified, expected {code}", case.name)),
        (Err(e), None) => Some(format!("{} ({how}): failed: {e}", case.name)),
        (Err(e), Some(code)) if !e.starts_with(code) => {
            Some(format!("{} ({how}): {e} (expected {code})", case.name))
        }
        (Err(_), Some(_)) => None,
    }
}
