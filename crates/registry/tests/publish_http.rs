//! Trusted publishing over HTTP against a real loopback `vouch serve --dev` (SQLite, and PostgreSQL for the main story): bindings, publish with bundles made by the real signing stack, every PUB_E001..E008 and every bad-input case of issue #5, the index, blobs, and the OpenAPI document's coverage of every mounted route.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_registry::{App, Runtime, Secrets, ServeConfig};
use vouch_testkit::pg::PgDatabase;

const REPO: &str = "octo/widget";
const WORKFLOW: &str = ".github/workflows/release.yml";
const PKG: &str = "@octo/widget";

// --- harness --------------------------------------------------------------------------

struct Server {
    base: String,
    dir: tempfile::TempDir,
    app: App,
    owner: String,
    http: reqwest::Client,
    _pg: Option<PgDatabase>,
}

async fn start(pg: bool) -> Server {
    start_with(pg, |_| {}).await
}

/// Like [`start`], with the configuration edited first.
async fn start_with(pg: bool, edit: impl FnOnce(&mut ServeConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = ServeConfig::dev(dir.path());
    edit(&mut cfg);
    let mut secrets = Secrets::dev(dir.path(), &cfg).unwrap();
    let db = if pg {
        let db = PgDatabase::create();
        secrets.database_url = Some(db.url());
        Some(db)
    } else {
        None
    };
    let app = vouch_registry::open(
        &cfg,
        secrets,
        Runtime::dev(dir.path(), &base),
        Arc::new(vouch_log::SystemClock),
    )
    .await
    .unwrap();
    let served = app.clone();
    tokio::spawn(async move {
        let _ = vouch_registry::serve(listener, served, std::future::pending()).await;
    });
    let token_file = dir.path().join("owner.token");
    let owner = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner.token must be private");
    }
    Server {
        base,
        dir,
        app,
        owner,
        http: reqwest::Client::new(),
        _pg: db,
    }
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
    /// A PUB_E005 refusal naming `check` (a VERIFY code or a statement check) first.
    #[track_caller]
    fn refused_at(&self, check: &str) {
        self.expect(400, "PUB_E005");
        let detail = self.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.starts_with(&format!("bundle verification failed: {check}")),
            "expected the check {check:?} in the detail: {detail}"
        );
    }

    #[track_caller]
    fn expect(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

async fn done(r: reqwest::Response) -> Resp {
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

impl Server {
    async fn get(&self, path: &str) -> Resp {
        done(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn register_as(&self, token: Option<&str>, body: Value) -> Resp {
        let mut req = self
            .http
            .post(format!("{}/api/v1/publishers", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        done(req.send().await.unwrap()).await
    }

    async fn register(&self, package: &str, workflow: &str, env: Option<&str>) -> Resp {
        self.register_as(
            Some(&self.owner),
            json!({"package": package, "provider": "github", "repository": REPO,
                   "workflow": workflow, "environment": env}),
        )
        .await
    }

    /// A dev OIDC token for `repo`'s `workflow`.
    async fn token(
        &self,
        repo: &str,
        workflow: &str,
        env: Option<&str>,
        event: &str,
        owner_id: &str,
    ) -> String {
        let r = done(
            self.http
                .post(format!("{}/oidc/dev/token", self.base))
                .json(
                    &json!({"repository": repo, "workflow": workflow, "ref": "refs/tags/v1",
                              "environment": env, "event_name": event,
                              "repository_owner_id": owner_id}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["token"].as_str().unwrap().to_owned()
    }

    async fn signer(&self, token: &str) -> vouch_sign::KeylessSigner {
        let cfg = vouch_sign::TrustConfig::fetch(&self.http, &self.base)
            .await
            .unwrap();
        vouch_sign::KeylessSigner::new(&cfg, token, self.http.clone())
            .await
            .unwrap()
    }

    /// A signer for the registered repository and workflow.
    async fn ci_signer(&self) -> vouch_sign::KeylessSigner {
        let t = self.token(REPO, WORKFLOW, None, "push", "1001").await;
        self.signer(&t).await
    }

    async fn upload_raw(&self, content_type: &str, body: Vec<u8>) -> Resp {
        done(
            self.http
                .post(format!("{}/api/v1/publish", self.base))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn upload(&self, archive: &[u8], bundle: &[u8]) -> Resp {
        let (ct, body) = multipart(&[("archive", archive), ("bundle", bundle)]);
        self.upload_raw(&ct, body).await
    }

    fn state(&self) -> &vouch_registry::AppState {
        &self.app.state
    }
}

const BOUNDARY: &str = "vouch-test-boundary-7MA4YWxkTrZu0gW";

fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let mut b = Vec::new();
    for (name, data) in parts {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), b)
}

/// A real package archive for `name`@`version` (packed by `vouch-package`).
fn archive(name: &str, version: &str) -> Vec<u8> {
    archive_with(
        &format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\n"),
        &[("src/lib.txt", b"hello")],
    )
}

fn archive_with(manifest: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vouch.toml"), manifest).unwrap();
    for (p, data) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    let mut out = Vec::new();
    vouch_package::pack(
        dir.path(),
        &vouch_package::Filter::default(),
        None,
        &mut out,
    )
    .unwrap();
    out
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn statement(digest: &[u8; 32], predicate_type: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "pkg.tar.zst", "digest": {"sha256": hex::encode(digest)}}],
        "predicateType": predicate_type,
        "predicate": {
            "buildDefinition": {"buildType": "https://vouch.dev/publish/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://github.com/actions/runner"}}
        }
    }))
    .unwrap()
}

const SLSA: &str = "https://slsa.dev/provenance/v1";

async fn bundle_for(signer: &vouch_sign::KeylessSigner, archive: &[u8]) -> Vec<u8> {
    signer
        .sign_in_toto(&statement(&sha256(archive), SLSA))
        .await
        .unwrap()
}

/// One ustar header as `vouch-package` writes them.
fn ustar(name: &str, size: u64, type_flag: u8, link: &str) -> [u8; 512] {
    fn octal(field: &mut [u8], value: u64) {
        let digits = field.len() - 1;
        field[..digits].copy_from_slice(format!("{value:0digits$o}").as_bytes());
        field[digits] = 0;
    }
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = type_flag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
}

/// A zstd tar with a valid vouch.toml plus one hostile entry.
fn hostile(name: &str, type_flag: u8, link: &str, data: &[u8]) -> Vec<u8> {
    let manifest = format!("[package]\nname = \"{PKG}\"\nversion = \"6.6.6\"\n");
    let mut tar = Vec::new();
    for (n, t, l, d) in [
        ("vouch.toml", b'0', "", manifest.as_bytes()),
        (name, type_flag, link, data),
    ] {
        tar.extend_from_slice(&ustar(n, d.len() as u64, t, l));
        tar.extend_from_slice(d);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    zstd::encode_all(&tar[..], 3).unwrap()
}

/// Objects under `blobs/` and `bundles/` of the dev object store (`DATA/tiles`).
fn blob_count(dir: &Path) -> usize {
    ["blobs", "bundles"]
        .iter()
        .map(|d| {
            let p: PathBuf = dir.join("tiles").join(d);
            std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0)
        })
        .sum()
}

async fn versions_in_index(s: &Server) -> usize {
    let r = s.get(&format!("/api/v1/packages/{PKG}")).await;
    if r.status == 404 {
        return 0;
    }
    r.json()["versions"].as_array().unwrap().len()
}

// --- the main story -------------------------------------------------------------------

async fn main_story(s: Server) {
    // Pending binding: the package does not exist yet.
    let r = s.register(PKG, WORKFLOW, None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["pending"], true);
    let listed = s
        .get(&format!("/api/v1/packages/{PKG}/publishers"))
        .await
        .json();
    assert_eq!(listed["publishers"][0]["pending"], true);

    let signer = s.ci_signer().await;
    let a = archive(PKG, "1.0.0");
    let bundle = bundle_for(&signer, &a).await;
    let r = s.upload(&a, &bundle).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let out = r.json();
    assert_eq!(out["name"], PKG);
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(out["created_package"], true);
    assert_eq!(out["sha256"], hex::encode(sha256(&a)));
    assert_eq!(out["blake3"], blake3::hash(&a).to_hex().as_str());
    assert_eq!(out["size"], a.len());
    let index_url = out["index_url"].as_str().unwrap();
    assert_eq!(index_url, format!("{}/api/v1/packages/{PKG}/1.0.0", s.base));
    // log_index is the bundle's own tlog entry.
    let b: Value = serde_json::from_slice(&bundle).unwrap();
    let logged: u64 = b["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(out["log_index"], logged);

    // The pending binding became active; the owner owns the package.
    let listed = s
        .get(&format!("/api/v1/packages/{PKG}/publishers"))
        .await
        .json();
    assert_eq!(listed["publishers"][0]["pending"], false);
    assert_eq!(
        listed["publishers"][0]["repository_owner_id_recorded"],
        true
    );

    // Index entry.
    let e = s.get(&format!("/api/v1/packages/{PKG}/1.0.0")).await;
    assert_eq!(e.status, 200);
    let e = e.json();
    assert_eq!(e["blob_url"], out["blob_url"]);
    assert_eq!(e["bundle_url"], out["bundle_url"]);
    assert_eq!(e["log_index"], out["log_index"]);
    assert_eq!(
        e["publisher"]["identity"],
        format!("https://github.com/{REPO}/{WORKFLOW}@refs/tags/v1")
    );
    assert_eq!(e["publisher"]["repository"], REPO);
    assert_eq!(e["publisher"]["workflow"], WORKFLOW);
    assert_eq!(e["artifacts"][0]["filename"], "octo-widget-1.0.0.tar.zst");
    assert_eq!(e["artifacts"][0]["sha256"], out["sha256"]);

    // Blob and bundle, byte for byte, with immutable caching.
    let blob_path = format!("/blobs/{}", out["blake3"].as_str().unwrap());
    let got = s.get(&blob_path).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, a);
    assert_eq!(got.headers["content-type"], "application/zstd");
    assert!(got.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = got.headers["etag"].to_str().unwrap().to_owned();
    let again = done(
        s.http
            .get(format!("{}{blob_path}", s.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, 304);
    let got = s.get(&format!("{blob_path}.sigstore")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, bundle);
    assert_eq!(
        got.headers["content-type"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );

    // The stored bundle verifies offline with vouch-verify against the server's root.
    let cfg = vouch_sign::TrustConfig::fetch(&s.http, &s.base)
        .await
        .unwrap();
    let root = vouch_verify::TrustRoot::from_json(cfg.trusted_root_json()).unwrap();
    let verifier = vouch_verify::Verifier::new(&root).unwrap();
    let policy = vouch_verify::Policy::Keyless(vouch_verify::IdentityPolicy::new(
        vouch_verify::Matcher::exact(
            vouch_verify::PolicyField::Identity,
            e["publisher"]["identity"].as_str().unwrap(),
        )
        .unwrap(),
        vouch_verify::Matcher::exact(
            vouch_verify::PolicyField::Issuer,
            e["publisher"]["issuer"].as_str().unwrap(),
        )
        .unwrap(),
    ));
    verifier
        .verify(
            &vouch_verify::Artifact::bytes(a.clone()),
            &vouch_verify::ParsedBundle::from_json(&got.body).unwrap(),
            &policy,
        )
        .unwrap();

    // A second version through the now-active binding; the list has both. This one is
    // over the 1 MiB the registry holds in memory (incompressible content), so the
    // upload goes through a temporary file and is stored from there.
    let noise: Vec<u8> = {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..(3 << 19))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let a2 = archive_with(
        &format!("[package]\nname = \"{PKG}\"\nversion = \"1.1.0\"\n"),
        &[("data/noise.bin", &noise)],
    );
    assert!(a2.len() > 1 << 20, "{} bytes", a2.len());
    let r = s.upload(&a2, &bundle_for(&signer, &a2).await).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let out2 = r.json();
    assert_eq!(out2["created_package"], false);
    assert_eq!(out2["size"], a2.len());
    let blob2 = s
        .get(&format!("/blobs/{}", blake3::hash(&a2).to_hex()))
        .await;
    assert_eq!(blob2.status, 200);
    assert_eq!(blob2.body, a2);
    assert!(
        std::fs::read_dir(s.state().data_dir.join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "the spilled upload's temporary file is removed"
    );
    let list = s.get(&format!("/api/v1/packages/{PKG}")).await.json();
    let versions: Vec<&str> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0"]);

    // PUB_E007: the same version again, even with identical bytes; nothing changes.
    let r = s.upload(&a, &bundle_for(&signer, &a).await).await;
    r.expect(409, "PUB_E007");
    assert_eq!(s.get(&format!("{blob_path}.sigstore")).await.body, bundle);

    // Audit trail.
    let events = s
        .state()
        .meta
        .list_audit(&vouch_store::meta::AuditFilter {
            event_prefix: Some("package.publish".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event == "package.publish")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn main_story_sqlite() {
    main_story(start(false).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn main_story_postgres() {
    main_story(start(true).await).await;
}

// --- PUB_E001..E008 ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_refusals_carry_their_codes_and_store_nothing() {
    let s = start(false).await;
    let signer = s.ci_signer().await;
    let a = archive(PKG, "1.0.0");
    let good = bundle_for(&signer, &a).await;

    // PUB_E001: no binding at all for the package.
    s.upload(&a, &good).await.expect(403, "PUB_E001");
    assert_eq!(blob_count(s.dir.path()), 0, "nothing stored on refusal");

    // PUB_E006 (job_workflow_ref): a binding for another workflow file.
    s.register(PKG, ".github/workflows/other.yml", None)
        .await
        .expect(201, "");
    let r = s.upload(&a, &good).await;
    r.expect(403, "PUB_E006");
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("job_workflow_ref"));

    // PUB_E006 (environment): the binding demands an environment the job lacks.
    s.register(PKG, WORKFLOW, Some("production"))
        .await
        .expect(201, "");
    let r = s.upload(&a, &good).await;
    r.expect(403, "PUB_E006");
    assert!(r.json()["detail"].as_str().unwrap().contains("environment"));

    // A job in that environment (case differs) may publish.
    let t = s
        .token(REPO, WORKFLOW, Some("Production"), "push", "1001")
        .await;
    let prod = s.signer(&t).await;
    let r = s.upload(&a, &bundle_for(&prod, &a).await).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // PUB_E006 (event_name): pull_request_target and workflow_run never publish.
    for event in ["pull_request_target", "workflow_run"] {
        let t = s
            .token(REPO, WORKFLOW, Some("production"), event, "1001")
            .await;
        let sg = s.signer(&t).await;
        let a3 = archive(PKG, "3.0.0");
        let r = s.upload(&a3, &bundle_for(&sg, &a3).await).await;
        r.expect(403, "PUB_E006");
        assert!(r.json()["detail"].as_str().unwrap().contains("event_name"));
    }

    // PUB_E006 (repository_owner_id): the owner account was re-registered.
    let t = s
        .token(REPO, WORKFLOW, Some("production"), "push", "6666")
        .await;
    let resurrected = s.signer(&t).await;
    let a4 = archive(PKG, "4.0.0");
    let r = s.upload(&a4, &bundle_for(&resurrected, &a4).await).await;
    r.expect(403, "PUB_E006");
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("repository_owner_id"));

    // Bundle for another identity: another repository.
    let t = s
        .token("evil/widget", WORKFLOW, Some("production"), "push", "1001")
        .await;
    let evil = s.signer(&t).await;
    let a5 = archive(PKG, "5.0.0");
    let r = s.upload(&a5, &bundle_for(&evil, &a5).await).await;
    r.expect(403, "PUB_E006");
    assert!(r.json()["detail"].as_str().unwrap().contains("repository"));

    // PUB_E005: the archive's digest disagrees with the bundle's subject.
    let a6 = archive(PKG, "6.0.0");
    let other = archive(PKG, "6.0.1");
    let r = s.upload(&a6, &bundle_for(&prod, &other).await).await;
    r.refused_at("subject digest: ");

    // PUB_E005: wrong predicate type.
    let b = prod
        .sign_in_toto(&statement(&sha256(&a6), "https://example.com/not-slsa"))
        .await
        .unwrap();
    let r = s.upload(&a6, &b).await;
    r.refused_at("predicate type: expected https://slsa.dev/provenance/v1");

    // PUB_E005: a message signature, not a DSSE statement.
    let b = prod.sign_artifact_digest(sha256(&a6)).await.unwrap();
    s.upload(&a6, &b)
        .await
        .refused_at("content: expected a DSSE envelope");

    // PUB_E005: a tampered bundle (signature no longer verifies).
    let mut tampered: Value = serde_json::from_slice(&bundle_for(&prod, &a6).await).unwrap();
    let sig = tampered["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = base64_decode(&sig);
    raw[10] ^= 1;
    tampered["dsseEnvelope"]["signatures"][0]["sig"] = json!(base64_encode(&raw));
    let r = s.upload(&a6, &serde_json::to_vec(&tampered).unwrap()).await;
    // The TSA's timestamp covers the signature bytes and is checked first.
    r.refused_at("VERIFY_E022: ");

    // PUB_E005: not a bundle at all.
    s.upload(&a6, b"{\"hello\":1}")
        .await
        .refused_at("bundle format (VERIFY_E004): ");

    // PUB_E007 with different bytes for a taken version.
    let again = archive_with(
        &format!("[package]\nname = \"{PKG}\"\nversion = \"1.0.0\"\ndescription = \"x\"\n"),
        &[],
    );
    s.upload(&again, &bundle_for(&prod, &again).await)
        .await
        .expect(409, "PUB_E007");

    // PUB_E008: a key rotation holds the gate.
    let gate = s.state().packages.rotation.begin_rotation().await;
    let a8 = archive(PKG, "8.0.0");
    let r = s.upload(&a8, &bundle_for(&prod, &a8).await).await;
    r.expect(503, "PUB_E008");
    assert!(r.headers.contains_key("retry-after"));
    drop(gate);
    let r = s.upload(&a8, &bundle_for(&prod, &a8).await).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // Only the two successful publishes are in the index and storage.
    assert_eq!(versions_in_index(&s).await, 2);
    let refused = s
        .state()
        .meta
        .list_audit(&vouch_store::meta::AuditFilter {
            event_prefix: Some("package.publish.refused".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        refused.len() >= 6,
        "refusals are audited: {}",
        refused.len()
    );
}

/// Every PUB_E005 check that rests on the bundle itself, each named in the detail: a
/// valid bundle from another instance (its CA, log and TSA are not this one's), a DSSE
/// payload type other than in-toto, a statement `_type` that is not in-toto v1, and a
/// managed-key bundle (no Fulcio certificate).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bundles_failing_verification_name_the_check() {
    let s = start(false).await;
    let other = start(false).await;
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let a = archive(PKG, "1.0.0");

    // Signed by the other instance's CA, logged in its log, timestamped by its TSA.
    let foreign = bundle_for(&other.ci_signer().await, &a).await;
    // Its log is the first check to fail: this registry's trusted root has no such log.
    // (Another instance's CA alone, with this log and TSA, is VERIFY_E013: see
    // tests/verify_trust_boundaries.rs.)
    s.upload(&a, &foreign)
        .await
        .refused_at("VERIFY_E016: trusted root has no matching transparency log");

    let good: Value = serde_json::from_slice(&bundle_for(&s.ci_signer().await, &a).await).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        serde_json::to_vec(&b).unwrap()
    };

    let b = edit(&|b| b["dsseEnvelope"]["payloadType"] = json!("application/json"));
    s.upload(&a, &b).await.refused_at(
        "payload type: expected application/vnd.in-toto+json, found \"application/json\"",
    );

    let b = edit(&|b| {
        let payload = &mut b["dsseEnvelope"]["payload"];
        let mut st: Value =
            serde_json::from_slice(&base64_decode(payload.as_str().unwrap())).unwrap();
        st["_type"] = json!("https://in-toto.io/Statement/v0.1");
        *payload = json!(base64_encode(&serde_json::to_vec(&st).unwrap()));
    });
    s.upload(&a, &b).await.refused_at(
        "statement type: expected https://in-toto.io/Statement/v1, found https://in-toto.io/Statement/v0.1",
    );

    // A managed-key bundle: the same signature, but a public-key hint instead of the
    // certificate. The registry accepts only Fulcio certificates.
    let b = edit(&|b| {
        let vm = b["verificationMaterial"].as_object_mut().unwrap();
        vm.remove("certificate");
        vm.insert("publicKey".into(), json!({"hint": "managed-key-1"}));
    });
    s.upload(&a, &b).await.refused_at("VERIFY_E010: ");

    // The untouched bundle is accepted: every refusal above was its edit's.
    let r = s.upload(&a, &serde_json::to_vec(&good).unwrap()).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// PUB_E010 for the archive: one byte over `[registry] max_blob_bytes` is refused
/// while it streams, and nothing is stored; exactly the limit is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_archive_over_the_limit_is_refused() {
    // Incompressible content, so the archive is larger than its bundle (the same limit
    // bounds stored bundles).
    let mut noise = Vec::with_capacity(64 << 10);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while noise.len() < 64 << 10 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let a = archive_with(
        &format!("[package]\nname = \"{PKG}\"\nversion = \"1.0.0\"\n"),
        &[("data.bin", &noise)],
    );
    let limit = a.len() as u64 - 1;
    let s = start_with(false, |cfg| cfg.registry.max_blob_bytes = limit).await;
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let b = bundle_for(&s.ci_signer().await, &a).await;
    let r = s.upload(&a, &b).await;
    r.expect(413, "PUB_E010");
    assert_eq!(
        r.json()["detail"],
        format!("the archive is over the registry's limit of {limit} bytes")
    );
    assert_eq!(blob_count(s.dir.path()), 0, "nothing stored on refusal");

    let s = start_with(false, |cfg| cfg.registry.max_blob_bytes = limit + 1).await;
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let b = bundle_for(&s.ci_signer().await, &a).await;
    let r = s.upload(&a, &b).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// --- bad input ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_archives_and_manifests_are_refused_with_package_codes() {
    let s = start(false).await;
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let signer = s.ci_signer().await;
    let bomb = {
        let manifest = format!("[package]\nname = \"{PKG}\"\nversion = \"6.6.6\"\n");
        let zeros = vec![0u8; 3 << 20];
        archive_with(&manifest, &[("zeros.bin", &zeros)])
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "absolute path",
            hostile("/etc/passwd", b'0', "", b"x"),
            "PKG_E013",
        ),
        ("dot-dot", hostile("a/../../x", b'0', "", b"x"), "PKG_E014"),
        (
            "escaping symlink",
            hostile("evil", b'2', "../../etc/passwd", b""),
            "PKG_E019",
        ),
        (
            "hard link",
            hostile("evil", b'1', "/etc/passwd", b""),
            "PKG_E020",
        ),
        ("device", hostile("dev", b'3', "", b""), "PKG_E021"),
        ("bomb", bomb, "PKG_E026"),
        (
            "bad name",
            archive_with("[package]\nname = \"NoScope\"\nversion = \"1.0.0\"\n", &[]),
            "PKG_E005",
        ),
        (
            "bad version",
            archive_with(
                &format!("[package]\nname = \"{PKG}\"\nversion = \"1.0\"\n"),
                &[],
            ),
            "PKG_E006",
        ),
        (
            "not zstd",
            b"definitely not an archive".to_vec(),
            "PKG_E017",
        ),
    ];
    for (what, a, code) in cases {
        let b = bundle_for(&signer, &a).await;
        let r = s.upload(&a, &b).await;
        assert_eq!(
            (r.status, r.code()),
            (400, code.to_owned()),
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // No vouch.toml in the archive.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
    let mut bare = Vec::new();
    vouch_package::pack(
        dir.path(),
        &vouch_package::Filter::default(),
        None,
        &mut bare,
    )
    .unwrap();
    let r = s.upload(&bare, &bundle_for(&signer, &bare).await).await;
    r.expect(400, "PUB_E011");
    assert_eq!(blob_count(s.dir.path()), 0);
    assert_eq!(versions_in_index(&s).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_uploads_are_refused() {
    let s = start(false).await;
    let a = archive(PKG, "1.0.0");
    let (_, body) = multipart(&[("archive", &a)]);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    s.upload_raw(&ct, body).await.expect(400, "PUB_E009");
    let (_, body) = multipart(&[("archive", &a), ("bundle", b"{}"), ("extra", b"x")]);
    s.upload_raw(&ct, body).await.expect(400, "PUB_E009");
    let (_, body) = multipart(&[("archive", &a), ("archive", &a), ("bundle", b"{}")]);
    s.upload_raw(&ct, body).await.expect(400, "PUB_E009");
    s.upload_raw("application/json", b"{}".to_vec())
        .await
        .expect(400, "PUB_E009");
    let (_, mut body) = multipart(&[("archive", &a), ("bundle", b"{}")]);
    body.truncate(body.len() - 10);
    s.upload_raw(&ct, body).await.expect(400, "PUB_E009");
    // Over the bundle limit.
    let huge = vec![b'x'; (vouch_verify::limits::MAX_BUNDLE_BYTES + 1) as usize];
    let (_, body) = multipart(&[("archive", &a), ("bundle", &huge)]);
    s.upload_raw(&ct, body).await.expect(413, "PUB_E010");
    assert_eq!(blob_count(s.dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_of_one_version_have_exactly_one_winner() {
    for pg in [false, true] {
        let s = Arc::new(start(pg).await);
        s.register(PKG, WORKFLOW, None).await.expect(201, "");
        let signer = Arc::new(s.ci_signer().await);
        // Different bytes (a description differs), same version, all racing through
        // the pending binding's promotion too.
        let mut uploads = Vec::new();
        for i in 0..6 {
            let a = archive_with(
                &format!(
                    "[package]\nname = \"{PKG}\"\nversion = \"2.0.0\"\ndescription = \"run {i}\"\n"
                ),
                &[],
            );
            let b = bundle_for(&signer, &a).await;
            uploads.push((a, b));
        }
        let mut tasks = Vec::new();
        for (a, b) in uploads {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move { s.upload(&a, &b).await }));
        }
        let mut codes = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            codes.push((r.status, r.code()));
        }
        let wins = codes.iter().filter(|(st, _)| *st == 201).count();
        let lost = codes
            .iter()
            .filter(|c| **c == (409, "PUB_E007".to_owned()))
            .count();
        assert_eq!((wins, lost), (1, 5), "pg={pg}: {codes:?}");
        assert_eq!(versions_in_index(&s).await, 1);
    }
}

/// Issue 13, finding 14: a publish held the key-rotation gate while its body streamed,
/// so one slow client made a rotation queue behind it and every other publish fail
/// with PUB_E008 until that connection died. Now the gate is taken only around the
/// commit: the rotation proceeds at once and other publishes go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_publish_body_does_not_hold_the_rotation_gate() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let s = start(false).await;
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let signer = s.ci_signer().await;
    // The slow client: headers and the start of a multipart body, then nothing.
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        b"POST /api/v1/publish HTTP/1.1\r\nhost: x\r\n\
          content-type: multipart/form-data; boundary=b\r\ncontent-length: 100000\r\n\r\n\
          --b\r\ncontent-disposition: form-data; name=\"archive\"\r\n\r\nslow",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A rotation is granted at once.
    let gate = tokio::time::timeout(
        Duration::from_secs(2),
        s.state().packages.rotation.begin_rotation(),
    )
    .await
    .expect("the rotation gate is not held by a body still arriving");
    drop(gate);
    // And another publish goes through meanwhile.
    let a = archive(PKG, "3.0.0");
    let r = s.upload(&a, &bundle_for(&signer, &a).await).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    drop(slow);
}

/// Issue 13: an anonymous upload could force up to the archive cap of decompression
/// before the bundle was looked at. Now a bundle whose statement does not name the
/// uploaded bytes is refused first (before that, this bomb got an archive error, after
/// decompressing it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compression_bomb_with_someone_elses_bundle_is_refused_before_decompression() {
    let s = start(false).await;
    let signer = s.ci_signer().await;
    let other = archive(PKG, "1.0.0");
    let bundle = bundle_for(&signer, &other).await;
    let bomb = zstd::bulk::compress(&vec![0u8; 32 << 20], 19).unwrap();
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let started = std::time::Instant::now();
    let r = s.upload(&bomb, &bundle).await;
    r.expect(400, "PUB_E005");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("subject"), "{detail}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(blob_count(s.dir.path()), 0);
}

// --- bindings and owners ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_owners_register_and_requests_are_validated() {
    let s = start(false).await;
    let body = json!({"package": PKG, "provider": "github", "repository": REPO, "workflow": "release.yml"});
    s.register_as(None, body.clone())
        .await
        .expect(401, "AUTH_E001");
    s.register_as(Some("vouch_0000"), body.clone())
        .await
        .expect(401, "AUTH_E002");
    let r = s.register_as(Some(&s.owner), body.clone()).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json()["workflow"],
        WORKFLOW,
        "bare names mean .github/workflows/"
    );
    s.register_as(Some(&s.owner), body.clone())
        .await
        .expect(409, "BIND_E002");

    // Another user may not add bindings to a package they do not own.
    let meta = &s.state().meta;
    let now = vouch_store::meta::Timestamp::now();
    let mallory = meta.create_user("mallory", None, now).await.unwrap();
    let (_, secret) = meta.create_token(mallory.id, "t", None, now).await.unwrap();
    meta.create_package(
        "@octo/owned",
        s.state()
            .meta
            .user_by_name("dev")
            .await
            .unwrap()
            .unwrap()
            .id,
        now,
    )
    .await
    .unwrap();
    let owned = json!({"package": "@octo/owned", "provider": "github", "repository": "evil/x", "workflow": "r.yml"});
    s.register_as(Some(secret.expose()), owned)
        .await
        .expect(403, "AUTH_E003");

    for (bad, code) in [
        (
            json!({"package": "bad", "provider": "github", "repository": REPO, "workflow": "r.yml"}),
            "PKG_E005",
        ),
        (
            json!({"package": PKG, "provider": "travis", "repository": REPO, "workflow": "r.yml"}),
            "BIND_E001",
        ),
        (
            json!({"package": PKG, "provider": "github", "repository": "octo", "workflow": "r.yml"}),
            "BIND_E001",
        ),
        (
            json!({"package": PKG, "provider": "github", "repository": REPO, "workflow": "../r.yml"}),
            "BIND_E001",
        ),
        (
            json!({"package": PKG, "provider": "email", "email": "x"}),
            "BIND_E001",
        ),
        (
            json!({"package": PKG, "provider": "github", "repository": REPO, "workflow": "r.yml", "surprise": 1}),
            "BIND_E001",
        ),
    ] {
        let r = s.register_as(Some(&s.owner), bad.clone()).await;
        assert_eq!((r.status, r.code()), (400, code.to_owned()), "{bad}");
    }

    // The cap.
    let mut last = None;
    for i in 0..25 {
        let r = s
            .register_as(
                Some(&s.owner),
                json!({"package": "@octo/capped", "provider": "github", "repository": REPO, "workflow": format!("w{i}.yml")}),
            )
            .await;
        last = Some((i, r.status, r.code()));
        if r.status != 201 {
            break;
        }
    }
    assert_eq!(
        last,
        Some((
            vouch_store::meta::MAX_BINDINGS_PER_PACKAGE,
            409,
            "BIND_E003".into()
        ))
    );
}

// --- index, blobs, orphans --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orphans_and_unknown_names_are_not_served() {
    let s = start(false).await;
    // A blob stored without an index entry (what a crash before the commit leaves).
    let info = s.state().blobs.put_bytes(b"orphan").await.unwrap();
    let hexb3 = hex::encode(info.blake3);
    s.get(&format!("/blobs/{hexb3}"))
        .await
        .expect(404, "SERVE_E002");
    s.get(&format!("/blobs/{hexb3}.sigstore"))
        .await
        .expect(404, "SERVE_E002");
    s.get("/blobs/not-a-digest").await.expect(404, "SERVE_E002");
    s.get(&format!("/blobs/{}", hexb3.to_uppercase()))
        .await
        .expect(404, "SERVE_E002");
    s.get(&format!("/api/v1/packages/{PKG}"))
        .await
        .expect(404, "SERVE_E002");
    s.get(&format!("/api/v1/packages/{PKG}/1.0.0"))
        .await
        .expect(404, "SERVE_E002");
    s.get("/api/v1/packages/NoScope/x")
        .await
        .expect(400, "PKG_E005");
}

// --- OpenAPI ----------------------------------------------------------------------------

/// Every `.route("...")` the registry crate mounts (`{prefix}` is the log's `/log`).
fn mounted_routes() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut routes = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices(".route(") {
            let rest = text[i + 7..].trim_start();
            let rest = rest.strip_prefix("&format!(").unwrap_or(rest).trim_start();
            let literal = if let Some(lit) = rest.strip_prefix('"') {
                lit[..lit.find('"').unwrap()].to_owned()
            } else {
                // A constant: `.route(NAME, ...)` with `const NAME: &str = "...";` in the file.
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let decl = format!("const {ident}: &str = \"");
                let at = text
                    .find(&decl)
                    .unwrap_or_else(|| panic!("{}: cannot resolve route {ident}", f.display()));
                let lit = &text[at + decl.len()..];
                lit[..lit.find('"').unwrap()].to_owned()
            };
            let path = literal
                .replace("{prefix}", "/log")
                .replace("{{", "{")
                .replace("}}", "}");
            routes.push(path);
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

/// `/a/{x}/b` and `/a/{*rest}` both become `/a/{}`.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openapi_documents_every_mounted_route() {
    let s = start(false).await;
    let r = s.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| shape(p))
        .collect();
    let mounted = mounted_routes();
    assert!(
        mounted.len() >= 15,
        "route scan found too little: {mounted:?}"
    );
    let missing: Vec<&String> = mounted
        .iter()
        .filter(|m| !documented.contains(&shape(m)))
        .collect();
    assert!(
        missing.is_empty(),
        "mounted but not in openapi.json: {missing:?}"
    );
    let mounted_shapes: Vec<String> = mounted.iter().map(|m| shape(m)).collect();
    let stale: Vec<&String> = documented
        .iter()
        .filter(|d| !mounted_shapes.contains(d))
        .collect();
    assert!(stale.is_empty(), "documented but not mounted: {stale:?}");
}

// --- throughput (run on demand) -----------------------------------------------------------

/// Server-side publishes per second on loopback: bundles are made first, then
/// `VOUCH_PUBLISH_BENCH_N` (default 200) small-package uploads run 16 at a time.
/// `cargo nextest run -p vouch-registry --test publish_http --run-ignored only publish_throughput --no-capture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run on demand"]
async fn publish_throughput() {
    let n: usize = std::env::var("VOUCH_PUBLISH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = Arc::new(start(false).await);
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let signer = s.ci_signer().await;
    let mut jobs = Vec::new();
    for i in 0..n {
        let a = archive(PKG, &format!("0.0.{i}"));
        let b = bundle_for(&signer, &a).await;
        jobs.push((a, b));
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(
        std::env::var("VOUCH_PUBLISH_BENCH_C")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16),
    ));
    let t0 = std::time::Instant::now();
    let mut tasks = Vec::new();
    for (a, b) in jobs {
        let (s, sem) = (Arc::clone(&s), Arc::clone(&sem));
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let r = s.upload(&a, &b).await;
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "{n} publishes in {secs:.2} s: {:.0} publishes/s (SQLite, concurrency VOUCH_PUBLISH_BENCH_C, default 16, loopback)",
        n as f64 / secs
    );
}

// --- issue 13: hostile clients (items 4, 9, 10) ----------------------------------------

/// Issue 13 item 4 (pending-binding squat), item 9 (confusable names) and item 10
/// (build-metadata twins), performed over HTTP against a `--dev` server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_scope_squat_confusable_name_and_build_metadata_are_refused() {
    let s = start(false).await;
    let meta = &s.state().meta;
    let now = vouch_store::meta::Timestamp::now();
    let dev = meta.user_by_name("dev").await.unwrap().unwrap();
    let mallory = meta.create_user("mallory", None, now).await.unwrap();
    let (_, secret) = meta.create_token(mallory.id, "t", None, now).await.unwrap();
    let mallory_token = secret.expose().to_owned();

    // The attack: mallory reserves @dev/lib3 for the victim's own workflow, so that the
    // victim's first CI publish would create a package mallory owns.
    let squat = json!({"package": "@dev/lib3", "provider": "github", "repository": REPO,
                       "workflow": WORKFLOW});
    let r = s.register_as(Some(&mallory_token), squat).await;
    r.expect(403, "BIND_E005");
    assert!(
        s.get("/api/v1/packages/@dev/lib3/publishers").await.json()["publishers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The victim registers and publishes; the package is the victim's.
    let r = s.register("@dev/lib3", WORKFLOW, None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let signer = s.ci_signer().await;
    let a = archive("@dev/lib3", "1.0.0");
    let r = s.upload(&a, &bundle_for(&signer, &a).await).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let owners: Vec<_> = meta
        .owners("@dev/lib3")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(owners, [dev.id]);

    // In an unclaimed scope the first user wins; the second learns only "claimed".
    let r = s
        .register_as(
            Some(&mallory_token),
            json!({"package": "@fresh/a", "provider": "github", "repository": "m/a",
                   "workflow": "r.yml"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = s.register("@fresh/b", WORKFLOW, None).await;
    r.expect(403, "BIND_E005");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("claimed"), "{detail}");
    assert!(!detail.contains("mallory"), "leaks the owner: {detail}");
    // An administrator grants the scope; then the second user may register in it.
    let admin = std::fs::read_to_string(s.dir.path().join("admin.token")).unwrap();
    let grant = |token: Option<String>, user: &str| {
        let mut req = s
            .http
            .post(format!("{}/api/admin/scopes/@fresh/owners", s.base))
            .json(&json!({ "user": user }));
        if let Some(t) = token {
            req = req.bearer_auth(t.trim());
        }
        req.send()
    };
    done(grant(None, "dev").await.unwrap())
        .await
        .expect(401, "ADMIN_E001");
    done(grant(Some(admin.clone()), "nobody").await.unwrap())
        .await
        .expect(400, "ADMIN_E006");
    let r = done(grant(Some(admin), "dev").await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut owners: Vec<String> = serde_json::from_value(r.json()["owners"].clone()).unwrap();
    owners.sort();
    assert_eq!(owners, ["dev", "mallory"]);
    let audit = meta
        .list_audit(&vouch_store::meta::AuditFilter {
            event_prefix: Some("scope.grant".into()),
            subject: None,
            since: None,
            until: None,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "one grant audited");
    let r = s.register("@fresh/b", WORKFLOW, None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // Item 10: 1.0.0+evil beside 1.0.0 is the same SemVer release.
    let evil = archive("@dev/lib3", "1.0.0+evil");
    let r = s.upload(&evil, &bundle_for(&signer, &evil).await).await;
    r.expect(409, "PUB_E007");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("existing version 1.0.0 "), "{detail}");
    assert_eq!(meta.versions("@dev/lib3").await.unwrap().len(), 1);

    // Item 9: @dev/l.ib3 and @dev/l_ib3 are @dev/l-ib3 under PEP 503.
    meta.create_package("@dev/l-ib3", dev.id, now)
        .await
        .unwrap();
    for name in ["@dev/l.ib3", "@dev/l_ib3", "@dev/l-_ib3"] {
        let r = s.register(name, WORKFLOW, None).await;
        r.expect(409, "BIND_E006");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("@dev/l-ib3"), "{detail}");
    }
}

/// Issue 14, `PUB_E013`: the package's bindings change between the publish's read of
/// them and its commit, in both rounds the commit allows. The store's re-check inside
/// the commit transaction refuses the stale binding each time, so the publish ends
/// with 409 PUB_E013 (`Retry-After: 1`) and writes nothing: no version, no index
/// change, no integrity record, nothing appended to the log, the blob not served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_changed_during_the_commit_refuse_with_pub_e013_and_write_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use vouch_store::meta::{MetaStore, RecordKind, Timestamp};

    let s = start(false).await;
    s.register(PKG, WORKFLOW, None).await.expect(201, "");
    let signer = s.ci_signer().await;
    let first = archive(PKG, "1.0.0");
    s.upload(&first, &bundle_for(&signer, &first).await)
        .await
        .expect(201, "");
    let a = archive(PKG, "1.0.1");
    let bundle = bundle_for(&signer, &a).await;

    // Between every context read and its commit: remove the package's active binding
    // and register the same publisher again (a new id), as a concurrent owner would.
    let meta: Arc<dyn MetaStore> = Arc::clone(&s.state().meta);
    let rounds = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&rounds);
    s.state()
        .packages
        .set_before_commit(Some(Arc::new(move |package: String| {
            let meta = Arc::clone(&meta);
            seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let now = Timestamp::now();
                for b in meta.bindings(&package).await.unwrap() {
                    meta.remove_binding(b.id, "test", now).await.unwrap();
                    meta.add_binding(&package, &b.publisher, b.created_by, now)
                        .await
                        .unwrap();
                }
            })
        })));

    let size_before = s.state().log.local().unwrap().current().unwrap().size;
    let index_before = s.get(&format!("/api/v1/packages/{PKG}")).await.body;
    let r = s.upload(&a, &bundle).await;
    r.expect(409, "PUB_E013");
    assert_eq!(
        r.json()["detail"],
        format!("the publisher bindings of {PKG} changed during the publish; retry")
    );
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(rounds.load(Ordering::SeqCst), 2, "both commit rounds ran");

    s.state().packages.set_before_commit(None);
    let meta = &s.state().meta;
    assert!(meta.version(PKG, "1.0.1").await.unwrap().is_none());
    assert!(meta
        .integrity_record(RecordKind::Package, PKG, Some("1.0.1"))
        .await
        .unwrap()
        .is_none());
    s.get(&format!("/api/v1/packages/{PKG}/1.0.1"))
        .await
        .expect(404, "SERVE_E002");
    assert_eq!(
        s.get(&format!("/api/v1/packages/{PKG}")).await.body,
        index_before
    );
    s.get(&format!("/blobs/{}", blake3::hash(&a).to_hex()))
        .await
        .expect(404, "SERVE_E002");
    assert_eq!(
        s.state().log.local().unwrap().current().unwrap().size,
        size_before
    );

    // Without the interference the same upload goes through.
    s.upload(&a, &bundle).await.expect(201, "");
}

// --- Python uploads: a registry-signed integrity record per file ------------------------

/// A one-member stored ZIP holding `name` (the upload reads only the wheel's METADATA;
/// the CRC is not checked).
fn zip_with(name: &str, body: &[u8]) -> Vec<u8> {
    vouch_testkit::zip::stored(name, body)
}

/// PyPI's upload form (`POST /legacy/`) for one file.
fn upload_form(filename: &str, filetype: &str, content: &[u8]) -> (String, Vec<u8>) {
    let mut b = Vec::new();
    let fields = [
        (":action", "file_upload"),
        ("name", "hello-vouch"),
        ("version", "0.1.0"),
        ("filetype", filetype),
        ("sha256_digest", &hex::encode(sha256(content))),
    ];
    for (name, value) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    b.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    b.extend_from_slice(content);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), b)
}

/// Trusted publishing as uv runs it: the audience, a CI token for it, an upload token.
async fn pypi_upload_token(s: &Server) -> String {
    let aud = s.get("/_/oidc/audience").await.json()["audience"]
        .as_str()
        .unwrap()
        .to_owned();
    let ci = done(
        s.http
            .post(format!("{}/oidc/dev/token", s.base))
            .json(
                &json!({"repository": REPO, "workflow": WORKFLOW, "ref": "refs/tags/v1",
                          "audience": aud}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ci = ci.json()["token"].as_str().unwrap().to_owned();
    let minted = done(
        s.http
            .post(format!("{}/_/oidc/mint-token", s.base))
            .json(&json!({"token": ci}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        minted.status,
        200,
        "{}",
        String::from_utf8_lossy(&minted.body)
    );
    minted.json()["token"].as_str().unwrap().to_owned()
}

async fn pypi_upload(s: &Server, token: &str, filename: &str, kind: &str, bytes: &[u8]) -> Resp {
    let (ct, body) = upload_form(filename, kind, bytes);
    done(
        s.http
            .post(format!("{}/legacy/", s.base))
            .basic_auth("__token__", Some(token))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Every accepted Python file gets its own registry-signed, logged integrity record:
/// a wheel and an sdist of one release, uploaded separately, both verify with the
/// client library `vouch verify integrity --file` uses (key set, record, log inclusion,
/// the downloaded file), the record commits to the provenance document served beside
/// it (the trusted publisher), and a tampered file or record fails with its code.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_uploads_get_a_signed_logged_record_per_file() {
    use vouch_api_client::integrity::{verify, Check, Target};
    let s = start(false).await;
    s.register("@pypi/hello-vouch", WORKFLOW, None)
        .await
        .expect(201, "");
    let token = pypi_upload_token(&s).await;
    let wheel_name = "hello_vouch-0.1.0-py3-none-any.whl";
    let sdist_name = "hello_vouch-0.1.0.tar.gz";
    let wheel = zip_with(
        "hello_vouch-0.1.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: hello-vouch\nVersion: 0.1.0\n",
    );
    let sdist = b"not really a tarball, the index does not open sdists".to_vec();
    for (name, kind, bytes) in [
        (wheel_name, "bdist_wheel", &wheel),
        (sdist_name, "sdist", &sdist),
    ] {
        let r = pypi_upload(&s, &token, name, kind, bytes).await;
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.body).as_ref()),
            (200, "OK")
        );
    }
    let downloads = s.dir.path().join("dist");
    std::fs::create_dir(&downloads).unwrap();
    std::fs::write(downloads.join(wheel_name), &wheel).unwrap();
    std::fs::write(downloads.join(sdist_name), &sdist).unwrap();
    let target = |file: &str| {
        Target::given(None, Some("@pypi/hello-vouch@0.1.0"))
            .and_then(|t| t.with_file(Some(file)))
            .unwrap()
    };
    let check = |file: &str| Check {
        server: s.base.clone(),
        target: target(file),
        assets: Some(downloads.clone()),
        log_key: None,
    };
    let mut indices = Vec::new();
    for file in [wheel_name, sdist_name] {
        let v = verify(&check(file)).await.unwrap();
        assert_eq!(v.package.as_deref(), Some("@pypi/hello-vouch"));
        assert_eq!(v.version, "0.1.0");
        assert_eq!(v.record_assets, vec![file.to_owned()]);
        assert_eq!(v.assets_verified, Some(vec![file.to_owned()]));
        indices.push(v.log_index);
        // The record commits to the provenance document served beside it.
        let doc = s
            .get(&format!("/integrity/hello-vouch/0.1.0/{file}/record"))
            .await
            .json();
        assert_eq!(doc["version"], "0.1.0");
        let provenance = doc["provenance"].as_str().unwrap();
        assert_eq!(
            doc["record"]["manifest_sha256"],
            hex::encode(sha256(provenance.as_bytes()))
        );
        let p: Value = serde_json::from_str(provenance).unwrap();
        assert_eq!(p["filename"], file);
        assert_eq!(p["published_by"]["repository"], REPO);
        assert_eq!(p["published_by"]["workflow"], WORKFLOW);
        assert_eq!(p["attestations_blake3"], Value::Null);
    }
    assert_ne!(indices[0], indices[1], "one log entry per file");
    // The same bytes again: nothing new is signed or logged.
    let again = pypi_upload(&s, &token, sdist_name, "sdist", &sdist).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        verify(&check(sdist_name)).await.unwrap().log_index,
        indices[1]
    );

    // A tampered download fails with the asset-digest code.
    let mut bad = sdist.clone();
    bad[0] ^= 1;
    std::fs::write(downloads.join(sdist_name), &bad).unwrap();
    let e = verify(&check(sdist_name)).await.unwrap_err();
    assert_eq!(e.code(), "INTEGRITY_E028", "{e}");
    std::fs::write(downloads.join(sdist_name), &sdist).unwrap();
    // A tampered record (another digest in the signed payload) fails its signature.
    let doc = s
        .get(&format!("/integrity/hello-vouch/0.1.0/{wheel_name}/record"))
        .await
        .json();
    let jws = doc["jws"].as_str().unwrap();
    let parts: Vec<&str> = jws.split('.').collect();
    let payload = base64_url_decode(parts[1]);
    let text = String::from_utf8(payload).unwrap();
    let forged = text.replace(&hex::encode(sha256(&wheel)), &hex::encode(sha256(b"evil")));
    assert_ne!(forged, text);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64_url_encode(forged.as_bytes()),
        parts[2]
    );
    let jwks = s.get("/.well-known/registry-key.json").await;
    let keys = vouch_integrity::KeySet::from_jwks(&jwks.body).unwrap();
    vouch_integrity::verify_record(jws, &keys).unwrap();
    assert_eq!(
        vouch_integrity::verify_record(&forged, &keys)
            .unwrap_err()
            .code(),
        "INTEGRITY_E021"
    );
    // A file of another release, or one never uploaded, has no record.
    for path in [
        format!("/integrity/hello-vouch/0.2.0/{wheel_name}/record"),
        "/integrity/hello-vouch/0.1.0/hello_vouch-0.1.0-py2-none-any.whl/record".to_owned(),
    ] {
        let r = s.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
    }
    // --file is for Python releases only.
    let e = Target::given(None, Some("@octo/widget@1.0.0"))
        .and_then(|t| t.with_file(Some(wheel_name)))
        .unwrap_err();
    assert_eq!(e.code(), "INTEGRITY_E203");
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn base64_url_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
