//! `vouch fetch @scope/name@version`: downloads a package version, verifies it inline
//! (size and digests against the index, the Sigstore bundle against the digest, the
//! signer against the binding the index records, the log entry against the log), and
//! records it in `vouch.lock` with the bundle cached for offline audits.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;
use vouch_tlog::Hash;
use vouch_verify::{Artifact, ParsedBundle, TrustRoot, Verifier};

use super::audit_signatures::{blob_rel, bundle_rel, check_claims, policy_for};
use super::audit_transparency::{prove, Leaf};
use super::registry_api::{
    api_error, base_url, caps, get_bytes, get_json, http, log_verifier, progress_bar, resolve,
    runtime, unreachable,
};
use crate::lockfile::{
    base_dir, write_atomic, LockedPackage, Lockfile, ServerEntry, CACHE_DIR, DEFAULT_LOCKFILE,
};
use crate::output::{clean, print_json, CodedError, Exit};

/// Largest bundle fetch accepts.
const MAX_BUNDLE_BYTES: u64 = 16 << 20;

/// Download a package version, verify it, and lock it.
///
/// Checks, in order, each failing closed with exit 1: the archive's size, SHA-256 and
/// BLAKE3 equal the index entry (FETCH_E001); the Sigstore bundle verifies against the
/// archive digest with the registry's trusted root and was signed by exactly the identity
/// and issuer of the publisher binding the index records, with its repository and
/// workflow (VERIFY_E0xx / FETCH_E003); the log entry is included in the registry's
/// transparency log, consistent with what the lockfile saw before (AUDIT_E001).
///
/// Then the archive is written to --out (and cached under .vouch/ beside the lockfile
/// with its bundle) and the entry is recorded in the lockfile, atomically.
///
/// Example: vouch fetch @acme/widget@1.2.0 --server https://registry.example
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package version: `@scope/name@version`.
    #[arg(value_name = "@SCOPE/NAME@VERSION")]
    spec: String,
    /// The registry's base URL.
    #[arg(long, env = "VOUCH_SERVER", value_name = "URL")]
    server: String,
    /// Directory to write the archive to (as `scope-name-version.tar.zst`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The lockfile to record the entry in (created if missing).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_LOCKFILE)]
    lockfile: PathBuf,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

fn fail(code: &'static str, msg: String) -> anyhow::Error {
    CodedError::new(code, Exit::VerifyFailed, msg).into()
}

/// Splits `@scope/name@version`.
fn parse_spec(spec: &str) -> anyhow::Result<(String, String)> {
    let bad = || -> anyhow::Error {
        CodedError::new(
            "FETCH_E004",
            Exit::Error,
            format!("expected @scope/name@version, found {spec:?}"),
        )
        .into()
    };
    let rest = spec.strip_prefix('@').ok_or_else(bad)?;
    let (name, version) = rest.rsplit_once('@').ok_or_else(bad)?;
    if !name.contains('/') || version.is_empty() {
        return Err(bad());
    }
    vouch_package::PackageName::parse(&format!("@{name}"))
        .map_err(|e| CodedError::new("FETCH_E004", Exit::Error, format!("{spec:?}: {e}")))?;
    semver::Version::parse(version).map_err(|e| {
        CodedError::new("FETCH_E004", Exit::Error, format!("{spec:?}: version: {e}"))
    })?;
    Ok((format!("@{name}"), version.to_owned()))
}

fn text<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v[key].as_str().ok_or_else(|| {
        CodedError::new(
            "FETCH_E005",
            Exit::Error,
            format!("the index entry has no string {key:?}"),
        )
        .into()
    })
}

/// Facts the bundle's transparency-log entry carries.
pub struct LogFacts {
    pub index: u64,
    pub leaf: Hash,
    pub origin: String,
    pub checkpoint: String,
}

/// The `[[server]]` table for a registry seen for the first time: its log key is the
/// trusted root's Ed25519 log key that signed the bundle's checkpoint (pinned from now on).
pub fn new_server_entry(
    base: &str,
    trusted_root: &[u8],
    facts: &LogFacts,
) -> anyhow::Result<ServerEntry> {
    let key = log_verifier(trusted_root, &facts.origin, &facts.checkpoint)?;
    Ok(ServerEntry {
        url: base.to_owned(),
        log_url: format!("{base}/log"),
        trusted_root: format!(
            "{CACHE_DIR}/trust/{}.json",
            &hex::encode(sha2::Sha256::digest(base.as_bytes()))[..16]
        ),
        log_key: key.to_string(),
        log_origin: facts.origin.clone(),
        checkpoint: String::new(),
    })
}

/// Reads the log entry facts out of a bundle's first transparency-log entry.
pub fn log_facts(bundle: &[u8]) -> anyhow::Result<LogFacts> {
    let bad = |why: &str| fail("FETCH_E002", format!("the bundle's log entry: {why}"));
    let v: Value = serde_json::from_slice(bundle).map_err(|_| bad("not JSON"))?;
    let e = &v["verificationMaterial"]["tlogEntries"][0];
    let index = e["logIndex"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| e["logIndex"].as_u64())
        .ok_or_else(|| bad("no logIndex"))?;
    let body = e["canonicalizedBody"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| bad("no canonicalizedBody"))?;
    let checkpoint = e["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .ok_or_else(|| bad("no checkpoint"))?
        .to_owned();
    let origin = checkpoint.lines().next().unwrap_or_default().to_owned();
    Ok(LogFacts {
        index,
        leaf: vouch_tlog::leaf_hash(&body),
        origin,
        checkpoint,
    })
}

/// Downloads the archive to a temporary file beside its cache location, hashing as it goes.
async fn download_blob(
    http: &reqwest::Client,
    url: &str,
    expected_size: u64,
    into: &std::path::Path,
) -> anyhow::Result<(tempfile::NamedTempFile, u64, String, String)> {
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable("downloading the archive", url, &e))?;
    if !resp.status().is_success() {
        return Err(api_error("downloading the archive", resp).await.into());
    }
    std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(into)?;
    let bar = progress_bar(expected_size, "downloading");
    let (mut s, mut b, mut n) = (sha2::Sha256::new(), blake3::Hasher::new(), 0u64);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| unreachable("downloading the archive", url, &e))?
    {
        n += chunk.len() as u64;
        if n > expected_size {
            return Err(fail(
                "FETCH_E001",
                format!("{url} sent more than the {expected_size} bytes the index records"),
            ));
        }
        s.update(&chunk);
        b.update(&chunk);
        tmp.write_all(&chunk)?;
        if let Some(bar) = &bar {
            bar.set_position(n);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    tmp.as_file().sync_all()?;
    Ok((
        tmp,
        n,
        hex::encode(s.finalize()),
        b.finalize().to_hex().to_string(),
    ))
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let (name, version) = parse_spec(&args.spec)?;
    let base = base_url(&args.server)?;
    let rt = runtime()?;
    rt.block_on(fetch(&args, &base, &name, &version))
}

async fn fetch(args: &Args, base: &str, name: &str, version: &str) -> anyhow::Result<Exit> {
    let http = http()?;
    let dir = base_dir(&args.lockfile);
    let mut lock = Lockfile::load_or_default(&args.lockfile)?;

    let entry_url = format!("{base}/api/v1/packages/{name}/{version}");
    let entry = get_json(
        &http,
        &entry_url,
        "reading the index entry",
        caps::INDEX_ENTRY,
    )
    .await?;
    if text(&entry, "name")? != name || text(&entry, "version")? != version {
        return Err(fail(
            "FETCH_E005",
            format!(
                "asked for {name}@{version}, the index answered {}@{}",
                entry["name"], entry["version"]
            ),
        ));
    }
    let (want_sha, want_b3) = (text(&entry, "sha256")?, text(&entry, "blake3")?);
    let want_size = entry["size"]
        .as_u64()
        .ok_or_else(|| fail("FETCH_E005", "the index entry has no size".into()))?;
    let publisher = &entry["publisher"];
    let (identity, issuer) = (text(publisher, "identity")?, text(publisher, "issuer")?);
    let repository = publisher["repository"].as_str().map(str::to_owned);
    let workflow = publisher["workflow"].as_str().map(str::to_owned);

    // 1. The archive: size and both digests against the index.
    let blob_url = resolve(base, text(&entry, "blob_url")?);
    let cache = dir.join(CACHE_DIR).join("blobs");
    let (tmp, size, sha, b3) = download_blob(&http, &blob_url, want_size, &cache).await?;
    if size != want_size || sha != want_sha || b3 != want_b3 {
        return Err(fail(
            "FETCH_E001",
            format!(
                "the archive is {size} bytes, sha256 {sha}, blake3 {b3}; the index records {want_size} bytes, sha256 {want_sha}, blake3 {want_b3}"
            ),
        ));
    }

    // 2. The bundle: against the digest, the trusted root, and the binding's identity.
    let bundle_url = resolve(base, text(&entry, "bundle_url")?);
    let bundle = get_bytes(
        &http,
        &bundle_url,
        "downloading the bundle",
        MAX_BUNDLE_BYTES,
    )
    .await?;
    let trusted_root = super::registry_api::trusted_root(&http, base).await?;
    let verifier = TrustRoot::from_json(&trusted_root)
        .and_then(|r| Verifier::new(&r))
        .map_err(|e| {
            CodedError::new(
                e.code(),
                Exit::Error,
                format!("the registry's trusted root: {e}"),
            )
        })?;
    let parsed = ParsedBundle::from_json(&bundle)
        .map_err(|e| CodedError::new(e.code(), Exit::VerifyFailed, format!("the bundle: {e}")))?;
    let artifact = Artifact::parse_digest(&format!("sha256:{sha}"))
        .map_err(|e| CodedError::new(e.code(), Exit::Error, e.to_string()))?;
    let verified = verifier
        .verify(&artifact, &parsed, &policy_for(identity, issuer)?)
        .map_err(|e| {
            CodedError::new(
                e.code(),
                Exit::VerifyFailed,
                format!(
                    "{name}@{version}: the bundle does not verify for the binding's signer: {e}"
                ),
            )
        })?;
    check_claims(&verified, repository.as_deref(), workflow.as_deref())
        .map_err(|why| fail("FETCH_E003", format!("{name}@{version}: {why}")))?;

    // 3. The log: the entry the bundle names is in the log the lockfile pins.
    let facts = log_facts(&bundle)?;
    if let Some(idx) = entry["log_index"].as_u64() {
        if idx != facts.index {
            return Err(fail(
                "FETCH_E005",
                format!(
                    "the index records log index {idx}, the bundle {}",
                    facts.index
                ),
            ));
        }
    }
    let server = match lock.server(base) {
        Some(s) => s.clone(),
        None => new_server_entry(base, &trusted_root, &facts)?,
    };
    let leaf = Leaf {
        id: format!("{name}@{version}"),
        index: facts.index,
        hash: facts.leaf,
    };
    let cp = prove(&server, std::slice::from_ref(&leaf)).await?;

    // 4. Cache and lock. The archive and bundle land first so the lockfile never names
    // a missing file.
    let blob_path = dir.join(blob_rel(&b3));
    tmp.persist(&blob_path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", blob_path.display()))?;
    write_atomic(&dir.join(bundle_rel(&b3)), &bundle)?;
    write_atomic(&dir.join(&server.trusted_root), &trusted_root)?;
    let out_path = match &args.out {
        Some(out) => {
            std::fs::create_dir_all(out)?;
            let file = format!(
                "{}-{version}.tar.zst",
                name.trim_start_matches('@').replace('/', "-")
            );
            let p = out.join(file);
            std::fs::copy(&blob_path, &p).with_context(|| format!("writing {}", p.display()))?;
            Some(p)
        }
        None => None,
    };
    let mut server = server;
    server.checkpoint = cp.to_note_string();
    lock.upsert_server(server);
    lock.upsert(LockedPackage {
        name: name.to_owned(),
        version: version.to_owned(),
        server: base.to_owned(),
        size,
        sha256: sha.clone(),
        blake3: b3.clone(),
        bundle: Some(bundle_rel(&b3)),
        sigstore_verified: true,
        identity: identity.to_owned(),
        issuer: issuer.to_owned(),
        repository,
        workflow,
        log_index: facts.index,
        leaf_hash: facts.leaf.to_hex(),
        checkpoint_size: cp.checkpoint.size,
    });
    lock.save(&args.lockfile)?;

    if args.json {
        print_json(&json!({
            "name": name, "version": version, "size": size, "sha256": sha, "blake3": b3,
            "identity": identity, "issuer": issuer, "log_index": facts.index,
            "checkpoint_size": cp.checkpoint.size,
            "archive": out_path.as_ref().unwrap_or(&blob_path).display().to_string(),
            "lockfile": args.lockfile.display().to_string(),
            "verified": true,
        }))?;
    } else {
        let mut o = std::io::stdout().lock();
        // The identity and issuer come from the bundle's certificate: untrusted text.
        writeln!(o, "fetched {name}@{version}: {size} bytes, sha256 {sha}")?;
        writeln!(o, "  signed by {}", clean(identity))?;
        writeln!(o, "  issuer    {}", clean(issuer))?;
        writeln!(
            o,
            "  log index {} included in checkpoint of size {}",
            facts.index, cp.checkpoint.size
        )?;
        writeln!(
            o,
            "  archive   {}",
            out_path.as_ref().unwrap_or(&blob_path).display()
        )?;
        writeln!(o, "  locked in {}", args.lockfile.display())?;
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::parse_spec;

    #[test]
    fn spec_parsing() {
        let (n, v) = parse_spec("@acme/widget@1.2.0-rc.1").unwrap();
        assert_eq!((n.as_str(), v.as_str()), ("@acme/widget", "1.2.0-rc.1"));
        for bad in [
            "acme/widget@1.0.0",
            "@acme/widget",
            "@acme@1.0.0",
            "@acme/widget@1",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }
}
