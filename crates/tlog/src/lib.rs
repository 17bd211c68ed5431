//! Pure transparency-log core: RFC 9162 Merkle trees and proofs, C2SP signed notes, checkpoints, cosignatures, tiles and tlog-proof files. No IO, no async.
