//! Recording versions a publisher just uploaded into a lockfile, as `fetch` would have
//! recorded them, with one inclusion proof for all of them (`vouch bench publish
//! --lockfile`, and any tool that publishes and wants the consumer's view at once).

use std::path::Path;

use vouch_api_client::Result;

use crate::fetch::{log_facts, new_server_entry};
use crate::lockfile::{base_dir, blob_rel, bundle_rel, write_atomic, LockedPackage, Lockfile};
use crate::transparency::{prove, Leaf};

/// One version as its publisher uploaded it: the archive's bytes and digests, the
/// Sigstore bundle the registry accepted, and the signer the bundle names.
#[derive(Debug, Clone)]
pub struct PublishedVersion<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub archive: &'a [u8],
    pub sha256_hex: String,
    pub blake3_hex: String,
    pub bundle: &'a [u8],
    pub identity: &'a str,
    pub issuer: &'a str,
}

/// Records `published` (all from the registry at `base`) in the lockfile at `path`:
/// bundles and archives cached beside it, each entry's log index and leaf hash from its
/// bundle, and every entry proven against one checkpoint of the registry's log.
pub async fn record_published(
    path: &Path,
    base: &str,
    published: &[PublishedVersion<'_>],
) -> Result<()> {
    let dir = base_dir(path);
    let mut lock = Lockfile::load_or_default(path)?;
    let trusted_root = vouch_api_client::trusted_root(&vouch_api_client::http()?, base).await?;
    let mut leaves = Vec::new();
    let mut server = lock.server(base).cloned();
    for p in published {
        let facts = log_facts(p.bundle)?;
        if server.is_none() {
            server = Some(new_server_entry(base, &trusted_root, &facts)?);
        }
        write_atomic(&dir.join(bundle_rel(&p.blake3_hex)), p.bundle)?;
        write_atomic(&dir.join(blob_rel(&p.blake3_hex)), p.archive)?;
        leaves.push(Leaf {
            id: format!("{}@{}", p.name, p.version),
            index: facts.index,
            hash: facts.leaf,
        });
        lock.upsert(LockedPackage {
            name: p.name.to_owned(),
            version: p.version.to_owned(),
            server: base.to_owned(),
            size: p.archive.len() as u64,
            sha256: p.sha256_hex.clone(),
            bundle: Some(bundle_rel(&p.blake3_hex)),
            blake3: p.blake3_hex.clone(),
            sigstore_verified: true,
            identity: p.identity.to_owned(),
            issuer: p.issuer.to_owned(),
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
    lock.save(path)
}
