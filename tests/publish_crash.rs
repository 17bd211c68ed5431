//! The publish crash test: a child `vouch serve --dev` takes concurrent publishes (real bundles from the signing stack) and is SIGKILLed at random instants; after each restart every index entry has its blob and bundle, every acknowledged publish is indexed, and nothing unindexed is served.
//!
//! Bounded to ~20 s (at least 3 iterations). The seed is printed; set
//! VOUCH_CRASH_SEED to replay a run.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PKG: &str = "@crash/pkg";
const REPO: &str = "crash/pkg";
const WORKFLOW: &str = ".github/workflows/release.yml";

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Starts the server on `data` and returns it with its base URL.
fn start(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    let mut token_file = false;
    while let Some(Ok(line)) = lines.next() {
        if let Some(url) = line.strip_prefix("listening on ") {
            base = Some(url.to_owned());
        }
        if line.starts_with("owner token file ") {
            token_file = true;
        }
        if base.is_some() && token_file {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base.expect("the server printed its address"))
}

fn archive(version: &str, salt: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!(
            "[package]\nname = \"{PKG}\"\nversion = \"{version}\"\ndescription = \"salt {salt}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("data.txt"), format!("payload {salt}")).unwrap();
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

fn statement(archive: &[u8]) -> Vec<u8> {
    let digest: [u8; 32] = Sha256::digest(archive).into();
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "pkg.tar.zst", "digest": {"sha256": hex::encode(digest)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://vouch.dev/publish/v1"}}
    }))
    .unwrap()
}

/// What an upload got: its 201 body, a refusal code, or nothing (connection cut).
enum Outcome {
    Published(Value),
    Refused(u16, String),
    Cut,
}

async fn upload(http: &reqwest::Client, base: &str, archive: &[u8], bundle: &[u8]) -> Outcome {
    const B: &str = "crash-boundary-Qx81";
    let mut body = Vec::new();
    for (name, data) in [("archive", archive), ("bundle", bundle)] {
        body.extend_from_slice(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
    let Ok(r) = http
        .post(format!("{base}/api/v1/publish"))
        .header("content-type", format!("multipart/form-data; boundary={B}"))
        .body(body)
        .send()
        .await
    else {
        return Outcome::Cut;
    };
    let status = r.status().as_u16();
    match r.json::<Value>().await {
        Ok(v) if status == 201 => Outcome::Published(v),
        Ok(v) => Outcome::Refused(status, v["code"].as_str().unwrap_or_default().to_owned()),
        Err(_) => Outcome::Cut,
    }
}

/// The invariants, checked on a freshly restarted server.
async fn check(
    http: &reqwest::Client,
    base: &str,
    data: &Path,
    acked: &BTreeMap<String, Value>,
    attempted: &BTreeSet<String>,
) -> usize {
    let r = http
        .get(format!("{base}/api/v1/packages/{PKG}"))
        .send()
        .await
        .unwrap();
    let versions: Vec<Value> = if r.status().as_u16() == 404 {
        Vec::new()
    } else {
        r.json::<Value>().await.unwrap()["versions"]
            .as_array()
            .unwrap()
            .clone()
    };
    let mut indexed = BTreeSet::new();
    for v in &versions {
        let b3 = v["blake3"].as_str().unwrap().to_owned();
        let blob = http
            .get(v["blob_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(blob.status().as_u16(), 200, "indexed blob missing: {v}");
        let bytes = blob.bytes().await.unwrap();
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), b3);
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            v["sha256"].as_str().unwrap()
        );
        let bundle = http
            .get(v["bundle_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(bundle.status().as_u16(), 200, "indexed bundle missing: {v}");
        let bundle: Value = bundle.json().await.unwrap();
        let logged = bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"]
            .as_str()
            .unwrap();
        assert_eq!(
            logged,
            v["log_index"].to_string(),
            "the bundle is the entry's own"
        );
        indexed.insert(b3);
    }
    // Every acknowledged publish survived.
    for (version, out) in acked {
        let found = versions.iter().find(|v| v["version"] == version.as_str());
        let found = found.unwrap_or_else(|| panic!("acknowledged {version} lost"));
        assert_eq!(found["blake3"], out["blake3"]);
        assert_eq!(found["log_index"], out["log_index"]);
    }
    // Nothing unindexed is served: every stored blob, and every archive we tried.
    let mut candidates: BTreeSet<String> = attempted.clone();
    if let Ok(dir) = std::fs::read_dir(data.join("tiles").join("blobs")) {
        for e in dir {
            candidates.insert(e.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    for b3 in &candidates {
        if indexed.contains(b3) {
            continue;
        }
        for suffix in ["", ".sigstore"] {
            let r = http
                .get(format!("{base}/blobs/{b3}{suffix}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 404, "unindexed {b3}{suffix} is served");
        }
    }
    versions.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_publishes_leaves_no_partial_entry_and_no_visible_orphan() {
    let seed = std::env::var("VOUCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("publish crash test seed {seed} (set VOUCH_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut acked: BTreeMap<String, Value> = BTreeMap::new();
    let mut attempted: BTreeSet<String> = BTreeSet::new();
    let mut iterations = 0u64;
    let mut killed_mid_flight = 0usize;
    let mut refused = 0usize;
    // How long the first acknowledgement took in the last "kill after the first ack"
    // iteration: the window for the random kills.
    let mut first_ack = Duration::from_millis(500);
    // At least 3 iterations; more (within the bound) until both a kill after an
    // acknowledgement and a kill that cut uploads off have happened.
    while iterations < 3
        || ((acked.is_empty() || killed_mid_flight == 0)
            && iterations < 12
            && started.elapsed() < Duration::from_secs(20))
    {
        iterations += 1;
        let (mut child, base) = start(&data);
        let indexed = check(&http, &base, &data, &acked, &attempted).await;
        if iterations == 1 {
            let owner = std::fs::read_to_string(data.join("owner.token")).unwrap();
            let r = http
                .post(format!("{base}/api/v1/publishers"))
                .bearer_auth(owner.trim())
                .json(&json!({"package": PKG, "provider": "github", "repository": REPO, "workflow": WORKFLOW}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
        }
        let token: Value = http
            .post(format!("{base}/oidc/dev/token"))
            .json(&json!({"repository": REPO, "workflow": WORKFLOW, "ref": "refs/heads/main"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cfg = vouch_sign::TrustConfig::fetch(&http, &base).await.unwrap();
        let signer =
            vouch_sign::KeylessSigner::new(&cfg, token["token"].as_str().unwrap(), http.clone())
                .await
                .unwrap();
        // Eight distinct versions plus two racing copies of one of them.
        let mut jobs = Vec::new();
        for i in 0..10u64 {
            let version = format!("{iterations}.{}.0", i.min(7));
            let a = archive(&version, rng.next());
            let b = signer.sign_in_toto(&statement(&a)).await.unwrap();
            attempted.insert(blake3::hash(&a).to_hex().to_string());
            jobs.push((version, a, b));
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let spawned = Instant::now();
        let total = jobs.len();
        for (version, a, b) in jobs {
            let (http, base, tx) = (http.clone(), base.clone(), tx.clone());
            tokio::spawn(async move {
                let _ = tx.send((version, upload(&http, &base, &a, &b).await));
            });
        }
        drop(tx);
        // Odd iterations kill right after the first acknowledgement (so some publishes
        // are acknowledged and the rest are in flight); even ones at a random instant
        // before the first acknowledgement took last time (so uploads are cut).
        let mut outcomes = Vec::new();
        if iterations % 2 == 1 {
            while let Some((version, out)) = rx.recv().await {
                let published = matches!(out, Outcome::Published(_));
                outcomes.push((version, out));
                if published {
                    first_ack = spawned.elapsed();
                    break;
                }
            }
        } else {
            let window = first_ack.as_millis().max(1) as u64;
            tokio::time::sleep(Duration::from_millis(rng.next() % window)).await;
        }
        child.kill().unwrap();
        let _ = child.wait();
        while let Some(done) = rx.recv().await {
            outcomes.push(done);
        }
        assert_eq!(outcomes.len(), total, "every upload task reported");
        for (version, out) in outcomes {
            match out {
                Outcome::Published(out) => {
                    assert!(
                        acked.insert(version.clone(), out).is_none(),
                        "{version} acknowledged twice"
                    );
                }
                // The racing copies of one version lose with PUB_E007; nothing else may
                // refuse a valid upload.
                Outcome::Refused(409, code) if code == "PUB_E007" => refused += 1,
                Outcome::Refused(status, code) => panic!("{version}: unexpected {status} {code}"),
                Outcome::Cut => killed_mid_flight += 1,
            }
        }
        eprintln!(
            "iteration {iterations}: {indexed} indexed before, {} acknowledged so far",
            acked.len()
        );
    }
    // A last restart checks the state the final kill left.
    let (mut child, base) = start(&data);
    let indexed = check(&http, &base, &data, &acked, &attempted).await;
    child.kill().unwrap();
    let _ = child.wait();
    eprintln!(
        "{iterations} iterations, {indexed} versions indexed, {} acknowledged, {refused} lost a race (PUB_E007), {killed_mid_flight} cut by a kill",
        acked.len()
    );
    assert!(iterations >= 3);
    // The kills must really have happened mid-flight, and publishes must have been
    // acknowledged: otherwise the invariants above were never put to the test.
    assert!(
        !acked.is_empty(),
        "no publish was acknowledged before a kill"
    );
    assert!(killed_mid_flight > 0, "no kill cut an upload off");
}
