//! `vouch bench publish`: small-package publishes per second end to end against a dev
//! server on this machine (pack, hash, CA certificate, transparency log, upload and the
//! registry's full verification), and optionally the lockfile `vouch bench audit` reads.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use super::audit_signatures::{blob_rel, bundle_rel};
use super::audit_transparency::{prove, Leaf};
use super::fetch::{log_facts, new_server_entry};
use super::provenance::Token;
use super::publish::sign_and_upload;
use super::registry_api::{base_url, http};
use crate::lockfile::{base_dir, write_atomic, LockedPackage, Lockfile};
use crate::output::{print_json, CodedError, Exit};

/// Publish COUNT small packages through a `vouch serve --dev` server on this machine, C at
/// a time, and report publishes per second.
///
/// Each publish is the whole `vouch publish` path after packing: a fresh key and a
/// 10-minute certificate from the CA, an in-toto SLSA statement signed, timestamped and
/// recorded in the transparency log (every answer checked as `vouch publish` checks
/// it), and the upload that the registry verifies fully and indexes. Two things a CI
/// runner does on its own machine happen before the clock starts, so that they do not
/// take the registry's cores: packing the archives (zstd level 19; timed separately as
/// `pack_seconds`) and minting identity tokens (the dev OIDC issuer stands in for the
/// platform). Bindings: one package per worker, registered with the owner token.
/// Loopback servers only (BENCH_E001).
///
/// With --lockfile, every published version is also recorded there (bundles and archives
/// cached beside it) for `vouch bench audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dev server's base URL (loopback only).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The owner API token file (`vouch serve --dev` writes DATA/owner.token).
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// Publishes to make.
    #[arg(long, default_value_t = 500)]
    count: usize,
    /// Publishes in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Also write a lockfile of every published version here.
    #[arg(long, value_name = "FILE")]
    lockfile: Option<PathBuf>,
}

fn refuse(msg: String) -> anyhow::Error {
    CodedError::new("BENCH_E001", Exit::Error, msg).into()
}

/// Insists the server is on this machine.
fn check_loopback(base: &str) -> anyhow::Result<()> {
    let host = base
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(""))
        .unwrap_or("");
    let host = host
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(host)
        .trim_matches(['[', ']']);
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(refuse(format!(
            "{base}: bench publish only targets a server on this machine (loopback)"
        )))
    }
}

/// One published version, as the lockfile needs it.
struct Published {
    name: String,
    version: String,
    archive: Vec<u8>,
    sha256: String,
    blake3: String,
    bundle: Vec<u8>,
    identity: String,
    issuer: String,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let base = base_url(&args.server)?;
    check_loopback(&base)?;
    if args.count == 0 || args.concurrency == 0 {
        return Err(CodedError::new(
            "BENCH_E002",
            Exit::Error,
            "--count and --concurrency must be at least 1",
        )
        .into());
    }
    let owner = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading {}", args.token_file.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(bench(args, base, owner.trim().to_owned()))
}

async fn bench(args: Args, base: String, owner: String) -> anyhow::Result<Exit> {
    let http = http()?;
    let workers = args.concurrency.min(args.count);
    let run_id = format!(
        "{:x}",
        std::process::id() ^ (Instant::now().elapsed().as_nanos() as u32)
    );
    let nonce = blake3::hash(
        format!(
            "{run_id}{:?}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
        )
        .as_bytes(),
    )
    .to_hex()[..10]
        .to_owned();
    let repo = format!("bench/r{nonce}");
    let workflow = ".github/workflows/release.yml";
    // One package per worker, each with a pending binding.
    for w in 0..workers {
        let package = format!("@bench/p{nonce}-{w}");
        let resp = http
            .post(format!("{base}/api/v1/publishers"))
            .bearer_auth(&owner)
            .json(
                &json!({"package": package, "provider": "github", "repository": repo,
                          "workflow": workflow, "environment": null, "email": null}),
            )
            .send()
            .await
            .context("registering a bench publisher")?;
        if !resp.status().is_success() {
            return Err(
                super::registry_api::api_error("registering a bench publisher", resp)
                    .await
                    .into(),
            );
        }
    }
    // Tokens are single-use (their jti is spent by the CA): one per publish, minted first.
    let mut tokens = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let v: serde_json::Value = http
            .post(format!("{base}/oidc/dev/token"))
            .json(&json!({"repository": repo, "workflow": workflow, "ref": "refs/heads/main"}))
            .send()
            .await
            .context("minting a dev token (is the server running with --dev?)")?
            .json()
            .await
            .context("reading a dev token")?;
        let jwt = v["token"]
            .as_str()
            .context("the dev issuer sent no token")?;
        tokens.push(Token::from_jwt(jwt, "dev")?);
    }
    let cfg = Arc::new(
        vouch_sign::TrustConfig::fetch(&http, &base)
            .await
            .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?,
    );
    // Publish i goes to worker i % workers as that package's version i / workers.
    let pack_started = Instant::now();
    let mut queues: Vec<Vec<(Packed, Token)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, token) in tokens.into_iter().enumerate() {
        let w = i % workers;
        let package = format!("@bench/p{nonce}-{w}");
        let packed = pack_one(&package, (i / workers) as u32, i)?;
        queues[w].push((packed, token));
    }
    let pack_seconds = pack_started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for queue in queues {
        let (http, cfg, base) = (http.clone(), Arc::clone(&cfg), base.clone());
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(queue.len());
            let mut latencies = Vec::with_capacity(queue.len());
            for (packed, token) in queue {
                let t0 = Instant::now();
                let p = publish_one(&http, &cfg, &base, packed, &token).await?;
                latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                out.push(p);
            }
            anyhow::Ok((out, latencies))
        });
    }
    let mut published = Vec::new();
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (p, l) = done.context("a bench worker panicked")??;
        published.extend(p);
        latencies.extend(l);
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let mut report = json!({
        "bench": "publish",
        "server": base,
        "count": published.len(),
        "concurrency": workers,
        "seconds": secs,
        "publishes_per_sec": published.len() as f64 / secs,
        "pack_seconds": pack_seconds,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
    });
    if let Some(lockfile) = &args.lockfile {
        write_lockfile(lockfile, &base, &http, &published).await?;
        report["lockfile"] = json!(lockfile.display().to_string());
    }
    print_json(&report)?;
    Ok(Exit::Ok)
}

/// An archive packed ahead of the clock.
struct Packed {
    name: String,
    version: String,
    filename: String,
    archive: Vec<u8>,
    sha256: String,
    blake3: String,
}

/// Packs version `1.0.VERSION` of `package` (contents unique to publish `i`) as
/// `vouch publish` would.
fn pack_one(package: &str, version: u32, i: usize) -> anyhow::Result<Packed> {
    let dir = tempfile::tempdir()?;
    let v = format!("1.0.{version}");
    std::fs::create_dir_all(dir.path().join("src"))?;
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!("[package]\nname = \"{package}\"\nversion = \"{v}\"\n"),
    )?;
    std::fs::write(
        dir.path().join("src/lib.txt"),
        format!("bench package {i}\n{}", "x".repeat(512)),
    )?;
    let archive_path = dir.path().join("a.tar.zst");
    let (_, packed) = super::publish::pack_dir(dir.path(), &archive_path)?;
    Ok(Packed {
        name: package.to_owned(),
        filename: format!(
            "{}-{v}.tar.zst",
            package.trim_start_matches('@').replace('/', "-")
        ),
        version: v,
        archive: std::fs::read(&archive_path)?,
        sha256: packed.digests.sha256_hex(),
        blake3: packed.digests.blake3_hex(),
    })
}

async fn publish_one(
    http: &reqwest::Client,
    cfg: &vouch_sign::TrustConfig,
    base: &str,
    p: Packed,
    token: &Token,
) -> anyhow::Result<Published> {
    let (answer, bundle) =
        sign_and_upload(http, cfg, base, &p.filename, &p.archive, &p.sha256, token).await?;
    Ok(Published {
        name: p.name,
        version: p.version,
        sha256: p.sha256,
        blake3: p.blake3,
        archive: p.archive,
        bundle,
        identity: answer["publisher"]["identity"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| token.subject_hint()),
        issuer: answer["publisher"]["issuer"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| token.claims["iss"].as_str().map(str::to_owned))
            .unwrap_or_default(),
    })
}

/// Records every published version as `vouch fetch` would, proving all of them against
/// the log's checkpoint at once.
async fn write_lockfile(
    path: &std::path::Path,
    base: &str,
    http: &reqwest::Client,
    published: &[Published],
) -> anyhow::Result<()> {
    let dir = base_dir(path);
    let mut lock = Lockfile::load_or_default(path)?;
    let trusted_root = super::registry_api::trusted_root(http, base).await?;
    let mut leaves = Vec::new();
    let mut server = lock.server(base).cloned();
    for p in published {
        let facts = log_facts(&p.bundle)?;
        if server.is_none() {
            server = Some(new_server_entry(base, &trusted_root, &facts)?);
        }
        write_atomic(&dir.join(bundle_rel(&p.blake3)), &p.bundle)?;
        write_atomic(&dir.join(blob_rel(&p.blake3)), &p.archive)?;
        leaves.push(Leaf {
            id: format!("{}@{}", p.name, p.version),
            index: facts.index,
            hash: facts.leaf,
        });
        lock.upsert(LockedPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            server: base.to_owned(),
            size: p.archive.len() as u64,
            sha256: p.sha256.clone(),
            blake3: p.blake3.clone(),
            bundle: Some(bundle_rel(&p.blake3)),
            sigstore_verified: true,
            identity: p.identity.clone(),
            issuer: p.issuer.clone(),
            provider: None,
            repository: None,
            workflow: None,
            log_index: facts.index,
            leaf_hash: facts.leaf.to_hex(),
            checkpoint_size: 0,
        });
    }
    let Some(mut server) = server else {
        return Ok(());
    };
    let cp = prove(&server, &leaves).await?;
    for p in &mut lock.packages {
        if p.server == base && p.checkpoint_size == 0 {
            p.checkpoint_size = cp.checkpoint.size;
        }
    }
    write_atomic(&dir.join(&server.trusted_root), &trusted_root)?;
    server.checkpoint = cp.to_note_string();
    lock.upsert_server(server);
    Ok(lock.save(path)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback() {
        assert!(super::check_loopback("http://127.0.0.1:8080").is_ok());
        assert!(super::check_loopback("http://localhost:1").is_ok());
        assert!(super::check_loopback("http://[::1]:1").is_ok());
        assert!(super::check_loopback("http://10.0.0.1:80").is_err());
        assert!(super::check_loopback("https://example.com").is_err());
    }
}
