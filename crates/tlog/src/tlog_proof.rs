//! C2SP tlog-proof files (`c2sp.org/tlog-proof@v1`): an entry index, its inclusion proof
//! and the (co)signed checkpoint it was proven against, verifiable offline.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::checkpoint::{open_checkpoint, parse_u64_strict, SignedCheckpoint};
use crate::cosignature::check_quorum;
use crate::hash::Hash;
use crate::note::{Note, VerifiedSignature, Verifier};
use crate::proof::{verify_inclusion, MAX_PROOF_LEN};
use crate::Error;

/// The first line of every tlog-proof file.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed tlog-proof file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated application data (`extra` line).
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: u64,
    /// Inclusion proof, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

fn bad(line: usize, reason: &'static str) -> Error {
    Error::TlogProof { line, reason }
}

/// What a verified proof establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The checkpoint, verified with the log's keys.
    pub checkpoint: SignedCheckpoint,
    /// The witness cosignatures that verified.
    pub cosignatures: Vec<VerifiedSignature>,
}

impl TlogProof {
    /// Parses a proof file.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let max = crate::note::MAX_NOTE_SIZE + 64 * (MAX_PROOF_LEN + 4);
        if bytes.len() > max {
            return Err(Error::NoteTooLarge {
                max,
                found: bytes.len(),
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| Error::NoteNotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let mut rest = s;
        let mut line = 0;
        let mut next = |rest: &mut &str| -> Result<String, Error> {
            line += 1;
            let (l, r) = rest
                .split_once('\n')
                .ok_or(bad(line, "unexpected end of file"))?;
            *rest = r;
            Ok(l.to_owned())
        };
        if next(&mut rest)? != HEADER {
            return Err(bad(1, "first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut l = next(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = l.strip_prefix("extra ") {
            extra = Some(
                STANDARD
                    .decode(b64)
                    .map_err(|_| bad(2, "extra data is not base64"))?,
            );
            l = next(&mut rest)?;
        }
        let index = l
            .strip_prefix("index ")
            .and_then(parse_u64_strict)
            .ok_or(bad(
                2 + usize::from(extra.is_some()),
                "expected `index <decimal>`",
            ))?;
        let mut proof = Vec::new();
        loop {
            let l = next(&mut rest)?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LEN {
                return Err(bad(proof.len() + 3, "too many proof lines"));
            }
            proof.push(
                Hash::from_base64(&l)
                    .map_err(|_| bad(proof.len() + 3, "proof line is not base64 of 32 bytes"))?,
            );
        }
        Note::parse(rest.as_bytes())?;
        Ok(Self {
            extra,
            index,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies the proof for `leaf`: the checkpoint against the log's keys and origin,
    /// at least `quorum` cosignatures from `witnesses`, and the inclusion proof.
    pub fn verify(
        &self,
        leaf: &Hash,
        origin: &str,
        log_keys: &[Verifier],
        witnesses: &[Verifier],
        quorum: usize,
    ) -> Result<VerifiedProof, Error> {
        let checkpoint = open_checkpoint(self.checkpoint.as_bytes(), origin, log_keys)?;
        let cosignatures = check_quorum(&checkpoint.note.note, witnesses, quorum)?;
        let cp = &checkpoint.checkpoint;
        verify_inclusion(self.index, cp.size, leaf, &self.proof, &cp.root)?;
        Ok(VerifiedProof {
            checkpoint,
            cosignatures,
        })
    }
}

impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        if let Some(e) = &self.extra {
            writeln!(f, "extra {}", STANDARD.encode(e))?;
        }
        writeln!(f, "index {}", self.index)?;
        for h in &self.proof {
            writeln!(f, "{}", h.to_base64())?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}
