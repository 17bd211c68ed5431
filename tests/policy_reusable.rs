//! Policy files and reusable workflows end to end, against one `vouch serve --dev`: a
//! binding naming a reusable workflow in another repository and its caller, publishes
//! through it (and refusals of another reusable workflow or caller), then fetch, verify,
//! audit and lock under a policy file with two allowed signers, a third signer refused
//! naming every rule tried, and a lockfile written under another policy refused.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod install_support;
mod serve_support;

use std::path::Path;
use std::process::Output;

use install_support::{clean_command, ok, vouch_in as vouch};

const SHARED: &str = "acme/shared/.github/workflows/publish.yml";
const CALLER: &str = ".github/workflows/ci.yml";

#[track_caller]
fn refused(out: &Output, exit: i32, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(exit), "stderr: {err}");
    assert!(
        err.starts_with(&format!("error[{code}]")),
        "expected {code}: {err}"
    );
    err
}

struct World<'a> {
    work: &'a Path,
    url: &'a str,
    owner: String,
}

impl World<'_> {
    fn register(&self, package: &str, repo: &str, workflow: Option<&str>, signer: Option<&str>) {
        let mut args = vec![
            "publish",
            "register",
            "--server",
            self.url,
            "--token-file",
            &self.owner,
            "--package",
            package,
            "--provider",
            "github",
            "--repo",
            repo,
            "--json",
        ];
        if let Some(w) = workflow {
            args.extend(["--workflow", w]);
        }
        if let Some(s) = signer {
            args.extend(["--signer-workflow", s]);
        }
        ok(&vouch(self.work, &args));
    }

    /// A dev token for `repo`'s `workflow`; with `job`, the reusable workflow it ran.
    fn token(&self, repo: &str, workflow: &str, job: Option<&str>) -> String {
        let mut args = vec![
            "dev",
            "token",
            "--server",
            self.url,
            "--repository",
            repo,
            "--workflow",
            workflow,
            "--ref",
            "refs/heads/main",
        ];
        if let Some(j) = job {
            args.extend(["--job-workflow-ref", j]);
        }
        let out = vouch(self.work, &args);
        ok(&out);
        let path = self.work.join(format!("token-{}", rand_name()));
        std::fs::write(&path, String::from_utf8(out.stdout).unwrap().trim()).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn publish(&self, package: &str, version: &str, token: &str) -> Output {
        let dir = self
            .work
            .join(format!("{}-{version}", package.replace(['@', '/'], "_")));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("vouch.toml"),
            format!("[package]\nname = \"{package}\"\nversion = \"{version}\"\n"),
        )
        .unwrap();
        std::fs::write(dir.join("src/lib.txt"), format!("{package} {version}\n")).unwrap();
        vouch(
            self.work,
            &[
                "publish",
                dir.to_str().unwrap(),
                "--server",
                self.url,
                "--identity-token-file",
                token,
                "--json",
            ],
        )
    }

    fn fetch(&self, spec: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "fetch", spec, "--server", self.url, "--out", "out", "--json",
        ];
        args.extend(extra);
        vouch(self.work, &args)
    }
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

const POLICY: &str = r#"
version = 1

[[rule]]
name = "shared publisher"
subjects = ["@acme/widget"]
issuer = { regexp = "http://127\\.0\\.0\\.1:[0-9]+/oidc" }
identity = { regexp = "https://github\\.com/acme/shared/\\.github/workflows/publish\\.yml@.*" }
signer_workflow = { regexp = "https://github\\.com/acme/shared/\\.github/workflows/publish\\.yml@.*" }
workflow = { regexp = "https://github\\.com/acme/widget/\\.github/workflows/ci\\.yml@.*" }

[[rule]]
name = "gadget release"
subjects = ["@acme/*"]
issuer = { regexp = "http://127\\.0\\.0\\.1:[0-9]+/oidc" }
identity = { regexp = "https://github\\.com/acme/gadget/\\.github/workflows/release\\.yml@refs/heads/main" }
repository = "https://github.com/acme/gadget"
"#;

#[test]
fn reusable_workflows_and_policy_files() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve_support::start(&tmp.path().join("data"), &[]);
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let w = World {
        work: &work,
        url: &server.url,
        owner: server.data.join("owner.token").to_str().unwrap().to_owned(),
    };
    let shared_at = format!("{SHARED}@refs/heads/v1");

    // A reusable workflow in another repository, called from acme/widget's ci.yml.
    w.register("@acme/widget", "acme/widget", Some(CALLER), Some(SHARED));
    let t = w.token("acme/widget", CALLER, Some(&shared_at));
    let published = ok(&w.publish("@acme/widget", "1.0.0", &t));
    assert_eq!(published["name"], "@acme/widget");
    // Another reusable workflow: job_workflow_ref differs (PUB_E006).
    let t = w.token(
        "acme/widget",
        CALLER,
        Some("evil/shared/.github/workflows/publish.yml@refs/heads/main"),
    );
    let err = refused(&w.publish("@acme/widget", "1.0.1", &t), 1, "PUB_E006");
    assert!(err.contains("job_workflow_ref"), "{err}");
    // The bound reusable workflow, called from another workflow: workflow_ref differs.
    let t = w.token(
        "acme/widget",
        ".github/workflows/other.yml",
        Some(&shared_at),
    );
    let err = refused(&w.publish("@acme/widget", "1.0.1", &t), 1, "PUB_E006");
    assert!(err.contains("workflow_ref"), "{err}");
    // A binding naming only the caller (today's form) refuses the reusable workflow.
    w.register("@acme/plain", "acme/widget", Some(CALLER), None);
    let t = w.token("acme/widget", CALLER, Some(&shared_at));
    let err = refused(&w.publish("@acme/plain", "1.0.0", &t), 1, "PUB_E006");
    assert!(err.contains("job_workflow_ref"), "{err}");
    // A bad signer workflow is refused at registration.
    let out = vouch(
        &work,
        &[
            "publish",
            "register",
            "--server",
            w.url,
            "--token-file",
            &w.owner,
            "--package",
            "@acme/x",
            "--provider",
            "github",
            "--repo",
            "acme/widget",
            "--signer-workflow",
            "acme/../x.yml",
        ],
    );
    let err = refused(&out, 2, "BIND_E001");
    assert!(err.contains("signer_workflow"), "{err}");
    // A dev token's job_workflow_ref must be OWNER/REPO/PATH@REF.
    let out = vouch(
        &work,
        &[
            "dev",
            "token",
            "--server",
            w.url,
            "--repository",
            "acme/widget",
            "--workflow",
            CALLER,
            "--ref",
            "main",
            "--job-workflow-ref",
            "acme/shared/publish.yml",
        ],
    );
    let err = refused(&out, 2, "DEV_E003");
    assert!(
        err.contains("OIDC_E027") && err.contains("job_workflow_ref"),
        "{err}"
    );

    // A plain binding for a second signer and a third package signed by someone else.
    w.register(
        "@acme/gadget",
        "acme/gadget",
        Some(".github/workflows/release.yml"),
        None,
    );
    let t = w.token("acme/gadget", ".github/workflows/release.yml", None);
    ok(&w.publish("@acme/gadget", "2.0.0", &t));
    w.register(
        "@acme/thing",
        "acme/thing",
        Some(".github/workflows/release.yml"),
        None,
    );
    let t = w.token("acme/thing", ".github/workflows/release.yml", None);
    ok(&w.publish("@acme/thing", "3.0.0", &t));

    // Fetch re-checks the reusable-workflow binding on the consumer side.
    let policy = work.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let p = policy.to_str().unwrap();
    let widget = ok(&w.fetch("@acme/widget@1.0.0", &["--policy", p]));
    assert!(
        widget["identity"].as_str().unwrap().contains("acme/shared"),
        "{widget}"
    );
    ok(&w.fetch("@acme/gadget@2.0.0", &["--policy", p]));
    // The third signer: every rule covering it is named with the claim it failed on.
    let err = refused(
        &w.fetch("@acme/thing@3.0.0", &["--policy", p]),
        1,
        "POLICY_E004",
    );
    assert!(
        err.contains("rule \"gadget release\" failed on identity"),
        "{err}"
    );
    assert!(
        !err.contains("shared publisher"),
        "the rule does not cover @acme/thing: {err}"
    );
    let lock = std::fs::read_to_string(work.join("vouch.lock")).unwrap();
    let digest = format!("sha256:{}", sha256_hex(POLICY.as_bytes()));
    assert!(lock.contains(&format!("policy = \"{digest}\"")), "{lock}");
    assert!(
        !lock.contains("@acme/thing"),
        "a refused fetch locks nothing"
    );

    // Offline checks under the policy, and under another one.
    ok(&vouch(
        &work,
        &["audit", "signatures", "--policy", p, "--json"],
    ));
    ok(&vouch(&work, &["lock", "--check", "--policy", p, "--json"]));
    let strict = work.join("strict.toml");
    std::fs::write(
        &strict,
        POLICY.replace(
            "subjects = [\"@acme/*\"]",
            "subjects = [\"@acme/gadget-*\"]",
        ),
    )
    .unwrap();
    let s = strict.to_str().unwrap();
    refused(
        &vouch(&work, &["lock", "--check", "--policy", s]),
        1,
        "LOCK_E006",
    );
    let out = vouch(&work, &["audit", "signatures", "--policy", s, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert_eq!(codes, ["POLICY_E003"], "{report}");

    // `vouch verify --policy` on the fetched archive and its cached bundle.
    let b3 = widget["blake3"].as_str().unwrap();
    let bundle = work.join(format!(".vouch/bundles/{b3}.sigstore"));
    let root = std::fs::read_dir(work.join(".vouch/trust"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let archive = widget["archive"].as_str().unwrap();
    let verify = |policy: &str| {
        let file = work.join("verify-policy.toml");
        std::fs::write(&file, policy).unwrap();
        vouch(
            &work,
            &[
                "verify",
                archive,
                "--bundle",
                bundle.to_str().unwrap(),
                "--trusted-root",
                root.to_str().unwrap(),
                "--policy",
                file.to_str().unwrap(),
                "--json",
            ],
        )
    };
    let for_archives = POLICY.replace(
        "subjects = [\"@acme/widget\"]",
        "subjects = [\"acme-widget-*.tar.zst\"]",
    );
    let v = ok(&verify(&for_archives));
    assert_eq!(v["policy_rule"], "shared publisher");
    let err = refused(&verify(POLICY), 1, "POLICY_E003");
    assert!(err.contains("acme-widget-1.0.0.tar.zst"), "{err}");
    refused(
        &verify("version = 1\n[[rule]]\nname = 'x'\n"),
        2,
        "POLICY_E002",
    );

    ambient_github_token_signs(&w, &work);
}

/// `vouch sign` without a token flag asks GitHub Actions' token endpoint, as publish
/// does (here a one-shot loopback endpoint answering a dev token), and without any CI
/// says what is missing (PUB_E002).
fn ambient_github_token_signs(w: &World<'_>, work: &Path) {
    use std::io::{BufRead, BufReader, Write};
    let shared_at = format!("{SHARED}@refs/heads/v1");
    let jwt = std::fs::read_to_string(w.token("acme/widget", CALLER, Some(&shared_at))).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/token", listener.local_addr().unwrap());
    let served = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut request = String::new();
        reader.read_line(&mut request).unwrap();
        let mut auth = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.to_ascii_lowercase().starts_with("authorization:") {
                auth = line.trim().to_owned();
            }
            if line.trim().is_empty() {
                break;
            }
        }
        let body = format!("{{\"value\":\"{}\"}}", jwt.trim());
        write!(
            conn,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        (request, auth)
    });
    let file = work.join("artifact.bin");
    std::fs::write(&file, b"signed from CI\n").unwrap();
    let sign = |ci: bool| {
        let mut cmd = clean_command();
        cmd.env_remove("BUILDKITE").env_remove("CIRCLECI");
        // Outside CI, `vouch sign` would start the browser sign-in (tests/laptop_sign.rs):
        // the refusal case is GitHub Actions without `id-token: write`.
        cmd.env("GITHUB_ACTIONS", "true");
        if ci {
            cmd.env("ACTIONS_ID_TOKEN_REQUEST_URL", &endpoint)
                .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-secret");
        }
        let file = file.to_str().unwrap();
        cmd.args([
            "sign",
            file,
            "--bundle",
            "artifact.sigstore.json",
            "--server",
            w.url,
            "--json",
        ])
        .current_dir(work)
        .output()
        .unwrap()
    };
    refused(&sign(false), 2, "PUB_E002");
    let signed = ok(&sign(true));
    assert!(
        signed["identity"].as_str().unwrap().contains("acme/shared"),
        "{signed}"
    );
    let (request, auth) = served.join().unwrap();
    assert!(request.contains("audience=sigstore"), "{request}");
    assert_eq!(
        auth.to_ascii_lowercase(),
        "authorization: bearer runner-secret"
    );
    assert!(work.join("artifact.sigstore.json").is_file());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
