//! `vouch verify FILE_OR_DIGEST --bundle ...` and `vouch bench verify` end to end: human and
//! JSON output, regex and CI-claim policy, and every bad-input class with its code and
//! exit status (1 rejected, 2 bad input), one line on stderr, never a panic.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

mod pipe_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn suite() -> PathBuf {
    let vectors = std::env::var_os("VOUCH_VECTORS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
        PathBuf::from,
    );
    vectors.join("sigstore-conformance/bundle-verify")
}

fn happy_bundle() -> PathBuf {
    suite().join("happy-path-v0.3/bundle.sigstore.json")
}

fn artifact() -> PathBuf {
    suite().join("a.txt")
}

fn vouch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .output()
        .expect("vouch runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// `verify ARTIFACT --bundle BUNDLE` for the conformance workflow's identity and issuer.
fn verify_args<'a>(artifact: &'a str, bundle: &'a str) -> Vec<&'a str> {
    vec![
        "verify",
        artifact,
        "--bundle",
        bundle,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ]
}

/// Runs `vouch verify` on the happy-path bundle with the default policy plus `extra`.
fn verify_happy(artifact: &str, extra: &[&str]) -> Output {
    let bundle = happy_bundle();
    let mut args = vec!["verify", artifact, "--bundle", s(&bundle)];
    if !extra
        .iter()
        .any(|a| a.starts_with("--certificate-identity") || *a == "--key")
    {
        args.extend(["--certificate-identity", IDENTITY]);
    }
    if !extra
        .iter()
        .any(|a| a.starts_with("--certificate-oidc-issuer") || *a == "--key")
    {
        args.extend(["--certificate-oidc-issuer", ISSUER]);
    }
    args.extend(extra);
    vouch(&args)
}

/// Asserts a failure: exit status, code, and exactly one `error[CODE]: ...` line on stderr.
fn assert_fails(out: &Output, exit: i32, code: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(exit), "stderr: {stderr}");
    let prefix = format!("error[{code}]: ");
    assert!(
        stderr.starts_with(&prefix),
        "expected {prefix}..., got {stderr:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn happy_path_human_output() {
    let out = verify_happy(s(&artifact()), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("verified: "), "{stdout}");
    assert!(
        stdout.contains(IDENTITY) && stdout.contains(ISSUER),
        "{stdout}"
    );
    assert!(stdout.contains("log entry:  index "), "{stdout}");
}

#[test]
fn happy_path_json_output_by_digest() {
    let digest = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
    let out = verify_happy(digest, &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["verified"], true);
    assert_eq!(v["artifact"], digest);
    assert_eq!(v["bundle_version"], "0.3");
    assert_eq!(v["content"]["kind"], "message_signature");
    assert_eq!(v["signer"]["kind"], "certificate");
    assert_eq!(v["signer"]["identity"], IDENTITY);
    assert_eq!(v["signer"]["issuer"], ISSUER);
    assert_eq!(
        v["signer"]["claims"]["source_repository_ref"],
        "refs/heads/main"
    );
    assert!(v["log_entries"][0]["log_index"].is_u64());
    assert!(v["trust_root"].as_str().unwrap().contains("public-good"));
}

#[test]
fn dsse_bundle_reports_its_subjects() {
    let bundle = suite().join("happy-path-intoto-in-dsse-v3/bundle.sigstore.json");
    let art = artifact();
    let mut args = verify_args(s(&art), s(&bundle));
    args.push("--json");
    let out = vouch(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["content"]["kind"], "dsse");
    assert!(
        v["content"]["subjects"][0]["digest"]["sha256"].is_string(),
        "{v}"
    );
}

#[test]
fn regex_identity_is_anchored() {
    let ok = verify_happy(
        s(&artifact()),
        &[
            "--certificate-identity-regexp",
            "https://github\\.com/sigstore-conformance/.*@refs/heads/main",
        ],
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A prefix alone does not match: the pattern must cover the whole identity.
    let prefix = verify_happy(
        s(&artifact()),
        &[
            "--certificate-identity-regexp",
            "https://github\\.com/sigstore-conformance/",
        ],
    );
    assert_fails(&prefix, 1, "VERIFY_E024");
    let issuer = verify_happy(
        s(&artifact()),
        &[
            "--certificate-oidc-issuer-regexp",
            "https://token\\.actions\\.githubusercontent\\.com",
        ],
    );
    assert_eq!(issuer.status.code(), Some(0));
}

#[test]
fn mismatches_name_the_claim_expected_and_found() {
    let err = assert_fails(
        &verify_happy(s(&artifact()), &["--source-ref", "refs/heads/release"]),
        1,
        "VERIFY_E026",
    );
    assert!(
        err.contains("source_repository_ref")
            && err.contains("expected refs/heads/release")
            && err.contains("found refs/heads/main"),
        "{err}"
    );
    let err = assert_fails(
        &verify_happy(s(&artifact()), &["--runner-environment", "self-hosted"]),
        1,
        "VERIFY_E026",
    );
    assert!(err.contains("runner_environment"), "{err}");
    let err = assert_fails(
        &verify_happy(
            s(&artifact()),
            &["--certificate-oidc-issuer", "https://accounts.google.com"],
        ),
        1,
        "VERIFY_E025",
    );
    assert!(err.contains(&format!("found {ISSUER}")), "{err}");
    let ok = verify_happy(
        s(&artifact()),
        &[
            "--source-repository",
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon",
            "--source-ref",
            "refs/heads/main",
            "--runner-environment",
            "github-hosted",
        ],
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn json_failure_carries_the_code() {
    let out = verify_happy(
        s(&artifact()),
        &["--certificate-identity", "x@example.com", "--json"],
    );
    assert_fails(&out, 1, "VERIFY_E024");
    let v = json_of(&out);
    assert_eq!(v["verified"], false);
    assert_eq!(v["error"]["code"], "VERIFY_E024");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("identity mismatch"));
}

#[test]
fn bundle_for_another_artifact_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.txt");
    std::fs::write(&other, b"not the signed artifact\n").unwrap();
    assert_fails(&verify_happy(s(&other), &[]), 1, "VERIFY_E011");
    let zeros = format!("sha256:{}", "0".repeat(64));
    assert_fails(&verify_happy(&zeros, &[]), 1, "VERIFY_E011");
}

#[test]
fn bad_inputs_are_coded_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let a = artifact();
    let a = s(&a);
    let run = |bundle: &Path, artifact: &str| {
        vouch(&[
            "verify",
            artifact,
            "--bundle",
            s(bundle),
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ])
    };

    let malformed = write("malformed.json", b"{\"mediaType\": ");
    assert_fails(&run(&malformed, a), 2, "VERIFY_E003");
    let unknown = write(
        "unknown.json",
        br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.9+json"}"#,
    );
    assert!(assert_fails(&run(&unknown, a), 2, "VERIFY_E004").contains("v0.9"));
    let missing_type = write("no-type.json", br#"{"verificationMaterial": {}}"#);
    assert_fails(&run(&missing_type, a), 2, "VERIFY_E004");
    let big = write("big.json", &vec![b' '; (16 << 20) + 1]);
    assert!(assert_fails(&run(&big, a), 2, "VERIFY_E002").contains("16777216-byte limit"));
    assert_fails(&run(&dir.path().join("absent.json"), a), 2, "VERIFY_E001");
    assert_fails(
        &run(&happy_bundle(), s(&dir.path().join("absent.txt"))),
        2,
        "VERIFY_E001",
    );
    assert_fails(&run(&happy_bundle(), s(dir.path())), 2, "VERIFY_E001");
    for digest in [
        "sha256:abcd",
        &format!("sha256:{}", "a".repeat(65)),
        &format!("sha256:{}", "g".repeat(64)),
        &format!("sha512:{}", "a".repeat(64)),
    ] {
        assert_fails(&run(&happy_bundle(), digest), 2, "VERIFY_E005");
    }
}

#[test]
fn bad_policy_and_trust_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let a = artifact();
    assert_fails(
        &verify_happy(s(&a), &["--certificate-identity-regexp", "("]),
        2,
        "VERIFY_E006",
    );
    assert_fails(
        &verify_happy(s(&a), &["--certificate-identity", ""]),
        2,
        "VERIFY_E006",
    );

    let bad_root = dir.path().join("root.json");
    std::fs::write(&bad_root, b"{not json").unwrap();
    assert_fails(
        &verify_happy(s(&a), &["--trusted-root", s(&bad_root)]),
        2,
        "VERIFY_E007",
    );

    // A trusted root without any certificate authority cannot vouch for a keyless bundle.
    let mut root: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/verify/trust-roots/public-good/trusted_root.json"),
        )
        .unwrap(),
    )
    .unwrap();
    root["certificateAuthorities"] = serde_json::json!([]);
    let no_ca = dir.path().join("no-ca.json");
    std::fs::write(&no_ca, serde_json::to_vec(&root).unwrap()).unwrap();
    let err = assert_fails(
        &verify_happy(s(&a), &["--trusted-root", s(&no_ca)]),
        1,
        "VERIFY_E016",
    );
    assert!(err.contains("certificate authority"), "{err}");
    // Nor one whose logs are someone else's (here: the staging instance's).
    assert_fails(&verify_happy(s(&a), &["--staging"]), 1, "VERIFY_E016");

    // Managed-key flag on a keyless bundle, and an unparsable key.
    let key = suite().join("managed-key-happy-path/key.pub");
    assert_fails(&verify_happy(s(&a), &["--key", s(&key)]), 1, "VERIFY_E010");
    let bad_key = dir.path().join("bad.pub");
    std::fs::write(
        &bad_key,
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    assert_fails(
        &verify_happy(s(&a), &["--key", s(&bad_key)]),
        2,
        "VERIFY_E008",
    );
}

#[test]
fn bench_verify_reports_throughput() {
    let bundle = happy_bundle();
    let out = vouch(&[
        "bench",
        "verify",
        "--bundle",
        s(&bundle),
        "--artifact",
        s(&artifact()),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        "--seconds",
        "0.3",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert!(v["verifies_per_s"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["threads"].as_u64().unwrap() >= 1, "{v}");
    // The floor is measured in the same run: the happy-path bundle (keyless, one Rekor v1
    // entry with a SET and a checkpoint) needs five signature checks and one hash.
    assert!(v["floor_verifies_per_s"].as_f64().unwrap() > 0.0, "{v}");
    let ratio = v["ratio_to_floor"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio.is_finite(), "{v}");
    let checks: Vec<&str> = v["floor_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for what in [
        "certificate chain",
        "SCT",
        "SET",
        "checkpoint",
        "artifact signature",
        "artifact SHA-256",
    ] {
        assert_eq!(
            checks.iter().filter(|c| c.starts_with(what)).count(),
            1,
            "{what}: {checks:?}"
        );
    }
    // A bundle that does not verify is refused rather than measured.
    let out = vouch(&[
        "bench",
        "verify",
        "--bundle",
        s(&bundle),
        "--artifact",
        s(&artifact()),
        "--certificate-identity",
        "x@example.com",
        "--certificate-oidc-issuer",
        ISSUER,
        "--seconds",
        "0.1",
        "--json",
    ]);
    assert_fails(&out, 1, "VERIFY_E024");
}

/// Newcomer report (issue 15): `vouch verify - --bundle B` did not read the artifact from
/// standard input, as `sha256sum -` and cosign do. It does now, piped or redirected; a
/// different input on stdin is refused like a different file.
#[test]
fn verify_reads_the_artifact_from_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    let bundle = happy_bundle();
    let run = |input: &[u8], json: bool| {
        let mut args = verify_args("-", s(&bundle));
        if json {
            args.push("--json");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vouch runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let content = std::fs::read(artifact()).unwrap();
    let out = run(&content, false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("verified: -\n"));
    let v = json_of(&run(&content, true));
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["artifact"], "-", "{v}");
    assert_fails(&run(b"not the artifact", false), 1, "VERIFY_E011");

    // Redirected from a file, stdin is a regular file: the same verdict.
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(verify_args("-", s(&bundle)))
        .stdin(std::fs::File::open(artifact()).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// Defect (issue 12): `vouch verify ... | head -1` panicked ("failed printing to stdout:
/// Broken pipe", exit 101) in two runs out of three. Human and `--json` output alike now
/// end quietly with exit 0 when the reader has gone.
#[test]
fn verify_piped_into_head_exits_quietly() {
    let bundle = happy_bundle();
    let art = artifact();
    let base = verify_args(s(&art), s(&bundle));
    pipe_support::assert_quiet_on_closed_stdout(None, &base);
    let mut json = base.clone();
    json.push("--json");
    pipe_support::assert_quiet_on_closed_stdout(None, &json);
}

fn custom_root_case() -> PathBuf {
    suite().join("intoto-with-custom-trust-root")
}

/// Defect (issue 12): a client trust config (what `vouch trust-config --out` writes)
/// given as `--trusted-root` failed with "the trusted root lists no certificate
/// authorities". Its `trustedRoot` is used now.
#[test]
fn trust_config_is_accepted_as_trusted_root() {
    let case = custom_root_case();
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("trusted_root.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trust_config.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": root,
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            },
        })
        .to_string(),
    )
    .unwrap();
    let out = verify_with(&case, &["--trusted-root", s(&config), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A signing config is not a root: refused, and named.
    let signing = dir.path().join("signing_config.json");
    std::fs::write(
        &signing,
        r#"{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"}"#,
    )
    .unwrap();
    let out = verify_with(&case, &["--trusted-root", s(&signing)]);
    let err = assert_fails(&out, 2, "VERIFY_E007");
    assert!(err.contains("found a signing config"), "{err}");
}

/// Defect (issue 12): a bundle from another instance checked against the embedded root
/// said only that the log was unknown. It now says the log is not in the embedded root
/// and suggests `--trusted-root`.
#[test]
fn foreign_bundle_without_trusted_root_suggests_it() {
    let out = verify_with(&custom_root_case(), &[]);
    let err = assert_fails(&out, 1, "VERIFY_E016");
    assert!(
        err.contains("not in the embedded Sigstore public-good root"),
        "{err}"
    );
    assert!(err.contains("--trusted-root FILE"), "{err}");
}

/// `vouch verify` of the custom-root conformance case with `extra` flags.
fn verify_with(case: &Path, extra: &[&str]) -> Output {
    let artifact = case.join("artifact");
    let bundle = case.join("bundle.sigstore.json");
    let mut args = verify_args(s(&artifact), s(&bundle));
    args.extend(extra);
    vouch(&args)
}
