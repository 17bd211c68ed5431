//! Pure transparency-log core: RFC 9162 Merkle trees and proofs, C2SP signed notes, checkpoints, cosignatures, tiles and tlog-proof files. No IO, no async.
//!
//! **Architecture invariant:** this crate does no IO (no files, network, clocks or
//! randomness) and depends on no runtime; callers pass bytes, times and seeds in.
//!
//! Map of the crate:
//! - [`hash`]: [`Hash`](struct@crate::Hash), [`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`] (RFC 9162 §2.1.1).
//! - [`tree`]: [`NodeId`] and [`RightEdge`], the append-side compact range.
//! - [`proof`]: [`HashReader`], inclusion / consistency / subtree proofs (RFC 9162 §2.1.3-2.1.4,
//!   MTC draft "Subtrees").
//! - [`tile`]: tlog-tiles paths, widths, touched tiles, [`TileHashReader`].
//! - [`bundle`]: entry bundles (uint16 length prefixes, 64 KiB cap).
//! - [`note`]: signed-note, verifier and signer keys, Ed25519 and cosignature types.
//! - [`checkpoint`]: tlog-checkpoint bodies and opening signed checkpoints.
//! - [`cosignature`]: tlog-cosignature verification and k-of-n policies.
//! - [`memory`]: [`MemoryTree`], a whole tree in memory (tests, tools, small logs).
//! - [`witness`]: tlog-witness `add-checkpoint` bodies and the witness state machine.
//! - [`tlog_proof`]: `c2sp.org/tlog-proof@v1` files.

pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
mod error;
pub mod hash;
pub mod memory;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tlog_proof;
pub mod tree;
pub mod witness;

pub use bundle::{append_entry, decode_entry_bundle, encode_entry_bundle, MAX_ENTRY_SIZE};
pub use checkpoint::{open_checkpoint, Checkpoint, SignedCheckpoint};
pub use cosignature::{check_quorum, verify_cosignatures};
pub use error::Error;
pub use hash::{leaf_hash, node_hash, root_of, Hash, EMPTY_ROOT, HASH_SIZE};
pub use memory::MemoryTree;
pub use note::{
    open_note, sign_note, KeyType, Note, NoteSignature, Signer, VerifiedNote, Verifier,
};
pub use proof::{
    consistency_proof, consistency_proof_nodes, inclusion_proof, inclusion_proof_nodes,
    subtree_consistency_proof, verify_consistency, verify_inclusion, verify_subtree_consistency,
    verify_subtree_inclusion, HashReader,
};
pub use tile::{
    bundles_touched, tiles_for_nodes, tiles_touched, BundleId, TileHashReader, TileId, TilePath,
    TILE_WIDTH,
};
pub use tlog_proof::TlogProof;
pub use tree::{NodeId, RightEdge};
pub use witness::{AddCheckpoint, Witness, WitnessError};
