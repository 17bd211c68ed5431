//! Release ingest from forges (GitHub, Gitea/Forgejo, GitLab), as a library: no HTTP
//! server and no database of its own. The registry wires it to routes, storage and the
//! audit log. The parts, in the order an ingest uses them:
//!
//! - [`forge`]: a forge's kind, API base, token, allowed hosts and [`Limits`]
//!   (`ForgeConfig`), and repository references (`RepoRef`).
//! - [`guard`]: the SSRF guard. Only configured forge hosts; https only (http where
//!   allowed, never as a downgrade); names resolved through a resolver that refuses
//!   loopback, private, link-local, CGNAT, unspecified, multicast and IPv4-embedding
//!   forms of those, unless allowed for tests; IP literals checked the same way.
//! - [`Fetcher`]: the guarded client (bounded redirects with every hop re-checked, the
//!   token only for the API origin, connect/read timeouts, JSON size caps, no proxy, no
//!   transparent decompression).
//! - [`release`]: `list_releases` / `release(tag)` for the three API shapes, normalized
//!   into [`Release`] and [`AssetRef`] (claims: size, download URL, listed digest).
//! - [`hash`]: `hash_asset` streams an asset through SHA-256 and BLAKE3 in one pass, in
//!   parallel, in flat memory, within a [`HashBudget`] (default 500 MiB, max 16 GiB),
//!   and refuses assets whose bytes disagree with the listing.
//! - [`immutability`]: compares a re-listing (or a re-hash) with stored asset rows, so
//!   a published release is never overwritten.
//! - [`webhook`]: verifies deliveries (GitHub `X-Hub-Signature-256`, Gitea/Forgejo
//!   signatures, GitLab token) before parsing them into release events.
//! - [`attest`]: relays GitHub artifact attestations for an asset, keeping only bundles
//!   that verify against its digest and a workflow identity of the same repository.
//! - [`bench`]: hashing-throughput measurements with peak RSS.
//!
//! Every failure is an [`IngestError`] with a stable `INGEST_E0xx` code ([`CODES`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), vouch_ingest::IngestError> {
//! use vouch_ingest::{Fetcher, ForgeConfig, HashBudget, HashOutcome, RepoRef};
//! let fetcher = Fetcher::new(ForgeConfig::github())?;
//! let repo = RepoRef::parse("sigstore/cosign")?;
//! let release = fetcher.release(&repo, "v2.4.1").await?;
//! for asset in &release.assets {
//!     match fetcher.hash_asset(asset, HashBudget::default()).await? {
//!         HashOutcome::Hashed(d) => println!("{} {}", asset.name, hex::encode(d.sha256)),
//!         HashOutcome::Skipped { size, cap, .. } => println!("{} skipped: {size} > {cap}", asset.name),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod attest;
pub mod bench;
mod error;
mod fetch;
pub mod forge;
pub mod guard;
pub mod hash;
pub mod immutability;
pub mod release;
pub mod webhook;

pub use attest::{AttestationVerifier, Relayed, RelayedAttestation};
pub use error::{IngestError, SizeProblem, CODES};
pub use fetch::Fetcher;
pub use forge::{ForgeConfig, ForgeKind, Limits, RepoRef, Secret};
pub use guard::{NetPolicy, Resolver, StaticResolver, SystemResolver};
pub use hash::{Digests, HashBudget, HashOutcome, SkipReason, StreamHasher};
pub use immutability::{AssetFacts, Change, StoredAsset};
pub use release::{AssetRef, Release};
pub use webhook::{verify_webhook, ReleaseAction, WebhookEvent, WEBHOOK_BODY_CAP_BYTES};
