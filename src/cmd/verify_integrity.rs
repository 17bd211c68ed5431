//! `vouch verify integrity`: checks a registry integrity record against the served key set, its log inclusion against a checkpoint signed by the log key, and downloaded assets against the record.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use base64::Engine as _;
use serde_json::{json, Value};
use vouch_integrity::{
    check_asset_entries, verify_logged, verify_record, AssetHasher, InclusionEvidence,
    IntegrityError, KeySet, Subject,
};
use vouch_tlog::{Hash, Verifier};

use super::registry_api::{base_url, caps, get_json, http, log_verifier, runtime, trusted_root};
use crate::output::{clean, outln, print_json, CodedError, Exit};

/// Verify a registry integrity record: its JWS against the registry's published key set
/// (`/.well-known/registry-key.json`), its inclusion in the transparency log against a
/// checkpoint signed by the log key, and, with --assets, the downloaded files against
/// the digests it lists. Exit 1 with a code on any failure.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("subject").required(true).args(["release", "package"]))]
pub struct Args {
    /// Registry base URL.
    #[arg(long, value_name = "URL")]
    server: String,
    /// A release by its registry id.
    #[arg(long, value_name = "ID")]
    release: Option<u64>,
    /// A package version: `@scope/name@VERSION`.
    #[arg(long, value_name = "@SCOPE/NAME@VERSION")]
    package: Option<String>,
    /// Directory holding the downloaded assets, by the names the record lists.
    #[arg(long, value_name = "DIR")]
    assets: Option<PathBuf>,
    /// The log's signed-note verifier key to pin (as `vouch serve` prints it). Default:
    /// the Ed25519 log key of the server's trusted root.
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn failed(code: &'static str, msg: impl Into<String>) -> anyhow::Error {
    CodedError::new(code, Exit::VerifyFailed, msg).into()
}

fn integrity(e: IntegrityError) -> anyhow::Error {
    let exit = match e.code() {
        "INTEGRITY_E001" | "INTEGRITY_E005" => Exit::Error,
        _ => Exit::VerifyFailed,
    };
    CodedError::new(e.code(), exit, e.to_string()).into()
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    runtime()?.block_on(verify(args))
}

async fn verify(args: Args) -> anyhow::Result<Exit> {
    let base = base_url(&args.server)?;
    let client = http()?;
    let (path, expected) = match (&args.release, &args.package) {
        (Some(id), _) => (
            format!("/api/v1/releases/{id}/integrity"),
            (Subject::Release { id: id.to_string() }, None),
        ),
        (None, Some(spec)) => {
            let (name, version) = spec
                .rsplit_once('@')
                .filter(|(n, v)| n.starts_with('@') && n.contains('/') && !v.is_empty())
                .ok_or_else(|| {
                    CodedError::new(
                        "INTEGRITY_E203",
                        Exit::Error,
                        format!("--package must be @scope/name@VERSION, found {spec:?}"),
                    )
                })?;
            (
                format!("/api/v1/packages/{name}/{version}/integrity"),
                (
                    Subject::Package {
                        name: name.to_owned(),
                    },
                    Some(version.to_owned()),
                ),
            )
        }
        (None, None) => unreachable!("clap requires --release or --package"),
    };
    let jwks_url = format!("{base}/.well-known/registry-key.json");
    let jwks = client
        .get(&jwks_url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| super::registry_api::unreachable("fetching the key set", &jwks_url, &e))?;
    let jwks =
        super::registry_api::read_capped(jwks, caps::API_ANSWER, "fetching the key set").await?;
    let keys = KeySet::from_jwks(&jwks).map_err(integrity)?;
    let doc = get_json(
        &client,
        &format!("{base}{path}"),
        "fetching the record",
        caps::API_ANSWER,
    )
    .await?;
    let jws = doc["jws"].as_str().unwrap_or("");
    let signed = verify_record(jws, &keys).map_err(integrity)?;
    let record = signed.record();
    if record.subject != expected.0 || expected.1.as_deref().is_some_and(|v| v != record.version) {
        return Err(failed(
            "INTEGRITY_E201",
            format!(
                "the record is about {:?} version {:?}, not what was asked for",
                record.subject, record.version
            ),
        ));
    }
    // Log inclusion against a checkpoint signed by the pinned (or trusted-root) log key.
    let p = &doc["inclusion_proof"];
    let checkpoint = p["checkpoint"].as_str().unwrap_or("");
    let origin = checkpoint.lines().next().unwrap_or("");
    let verifier = match &args.log_key {
        Some(k) => Verifier::parse(k).map_err(|e| {
            CodedError::new("INTEGRITY_E204", Exit::Error, format!("--log-key: {e}"))
        })?,
        None => log_verifier(&trusted_root(&client, &base).await?, origin, checkpoint)?,
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut hashes = Vec::new();
    for h in p["hashes"].as_array().into_iter().flatten() {
        let raw = h
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                failed(
                    "INTEGRITY_E030",
                    "an inclusion proof hash is not 32 bytes of base64",
                )
            })?;
        hashes.push(Hash(raw));
    }
    let index = p["log_index"]
        .as_u64()
        .ok_or_else(|| failed("INTEGRITY_E030", "the inclusion proof has no log_index"))?;
    let opened = verify_logged(
        &signed,
        &InclusionEvidence {
            index,
            proof: &hashes,
            checkpoint: checkpoint.as_bytes(),
        },
        verifier.name(),
        std::slice::from_ref(&verifier),
    )
    .map_err(integrity)?;
    // Downloaded assets against the record.
    let mut asset_report = Value::Null;
    if let Some(dir) = &args.assets {
        let mut found = Vec::new();
        for a in &record.assets {
            let path = dir.join(&a.name);
            if !path.is_file() {
                return Err(failed(
                    "INTEGRITY_E202",
                    format!(
                        "{} is listed in the record but missing from {}",
                        a.name,
                        dir.display()
                    ),
                ));
            }
            found.push(hash_file(&path, &a.name)?);
        }
        let report = check_asset_entries(record, &found).map_err(integrity)?;
        asset_report = json!({"verified": report.verified});
    }
    let kid = record.kid.to_string();
    if args.json {
        print_json(&json!({
            "verified": true,
            "kid": kid,
            "version": record.version,
            "log_index": index,
            "checkpoint_size": opened.checkpoint.size,
            "log_key_pinned": args.log_key.is_some(),
            "assets": asset_report,
            "record_assets": record.assets.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        }))?;
    } else {
        outln!(
            "verified: integrity record {} signed by {}, logged at index {index} (checkpoint size {})",
            clean(&record.version.to_string()),
            clean(&kid.to_string()),
            opened.checkpoint.size
        )?;
        if let Some(v) = asset_report["verified"].as_array() {
            outln!("verified: {} asset(s) match the record", v.len())?;
        }
    }
    Ok(Exit::Ok)
}

fn hash_file(path: &std::path::Path, name: &str) -> anyhow::Result<vouch_integrity::AssetEntry> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = AssetHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish(name))
}
