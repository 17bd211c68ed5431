//! C2SP tlog-witness, pure part: the `add-checkpoint` request body, and [`Witness`], which
//! decides a request against the stored latest checkpoint for its origin and returns a
//! cosignature or a [`WitnessError`] that maps to the spec's HTTP status codes.
//!
//! The caller (the HTTP edge) owns atomicity: it must read the stored state for
//! [`AddCheckpoint::origin`], call [`Witness::add_checkpoint`], and persist
//! [`Cosigned::size`]/[`Cosigned::root`] with a compare-and-swap against what it read,
//! before responding (tlog-witness, "add-checkpoint": check and update atomically).

use crate::checkpoint::{parse_u64_strict, Checkpoint};
use crate::hash::Hash;
use crate::note::{KeyType, Note, NoteSignature, Signer, Verifier};
use crate::proof::verify_consistency;
use crate::Error;

/// At most this many consistency proof lines (tlog-witness: clients MUST NOT send more
/// than 63).
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed `add-checkpoint` request body: `old <size>`, proof lines, a blank line, then
/// the signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

fn bad(line: usize, reason: &'static str) -> Error {
    Error::WitnessRequest { line, reason }
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let max = crate::note::MAX_NOTE_SIZE + 64 * (MAX_PROOF_LINES + 2);
        if body.len() > max {
            return Err(Error::NoteTooLarge {
                max,
                found: body.len(),
            });
        }
        let s = std::str::from_utf8(body).map_err(|e| Error::NoteNotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let (first, mut rest) = s.split_once('\n').ok_or(bad(1, "missing old size line"))?;
        let old = first
            .strip_prefix("old ")
            .and_then(parse_u64_strict)
            .ok_or(bad(1, "expected `old <decimal size>`"))?;
        let mut proof = Vec::new();
        let mut line = 2;
        loop {
            let (l, r) = rest
                .split_once('\n')
                .ok_or(bad(line, "missing blank line before the checkpoint"))?;
            rest = r;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(line, "more than 63 consistency proof lines"));
            }
            proof.push(
                Hash::from_base64(l)
                    .map_err(|_| bad(line, "proof line is not base64 of 32 bytes"))?,
            );
            line += 1;
        }
        // The checkpoint itself is validated when the witness opens it.
        Note::parse(rest.as_bytes())?;
        Ok(Self {
            old_size: old,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// The origin line of the (not yet verified) checkpoint, to look up the stored state.
    pub fn origin(&self) -> Result<String, Error> {
        let note = Note::parse(self.checkpoint.as_bytes())?;
        Ok(Checkpoint::parse(&note.text)?.origin)
    }

    /// Serialises the request body.
    pub fn to_body(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }
}

/// Why a witness refused a checkpoint, with the HTTP status tlog-witness assigns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The body or the checkpoint is malformed (400).
    #[error("bad request: {0}")]
    BadRequest(#[source] Error),
    /// The checkpoint's origin is not a log this witness follows (404).
    #[error("unknown log origin {origin:?}")]
    UnknownOrigin { origin: String },
    /// No trusted log key signed the checkpoint (403).
    #[error("checkpoint is not signed by a trusted log key: {0}")]
    Forbidden(#[source] Error),
    /// The old size exceeds the checkpoint size (400).
    #[error("old size {old} is larger than checkpoint size {size}")]
    OldSizeTooLarge { old: u64, size: u64 },
    /// The old size is not the latest cosigned size (409; body is `latest\n`).
    #[error("old size {found} does not match the latest cosigned size {latest}")]
    SizeConflict { latest: u64, found: u64 },
    /// Same size as the latest cosigned checkpoint, different root: a fork (409).
    #[error("checkpoint of size {size} has a different root than the one cosigned")]
    RootConflict { size: u64 },
    /// The consistency proof does not verify (422).
    #[error("consistency proof does not verify: {0}")]
    Inconsistent(#[source] Error),
}

impl WitnessError {
    /// The HTTP status code tlog-witness prescribes.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) | WitnessError::OldSizeTooLarge { .. } => 400,
            WitnessError::Forbidden(_) => 403,
            WitnessError::UnknownOrigin { .. } => 404,
            WitnessError::SizeConflict { .. } | WitnessError::RootConflict { .. } => 409,
            WitnessError::Inconsistent(_) => 422,
        }
    }

    /// For 409 answers: the latest cosigned size, to send as `text/x.tlog.size`.
    pub fn latest_size(&self) -> Option<u64> {
        match self {
            WitnessError::SizeConflict { latest, .. } => Some(*latest),
            WitnessError::RootConflict { size } => Some(*size),
            _ => None,
        }
    }
}

/// A successful add-checkpoint: the state to persist and the cosignature to return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// The witness's cosignature on it.
    pub signature: NoteSignature,
}

impl Cosigned {
    /// New latest size to persist for the origin.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// New latest root to persist for the origin.
    pub fn root(&self) -> Hash {
        self.checkpoint.root
    }

    /// The 200 response body: the cosignature line(s).
    pub fn response_body(&self) -> String {
        self.signature.to_string()
    }
}

/// A witness: a cosigning key and the logs (origin plus trusted keys) it follows.
#[derive(Clone, Debug)]
pub struct Witness {
    signer: Signer,
    logs: Vec<(String, Vec<Verifier>)>,
}

impl Witness {
    /// A witness cosigning with `signer`, which must be a type-0x04 key.
    pub fn new(signer: Signer) -> Result<Self, Error> {
        if signer.verifier().key_type() != KeyType::Cosignature {
            return Err(Error::KeyTypeMismatch {
                expected: KeyType::Cosignature,
                found: signer.verifier().key_type(),
            });
        }
        Ok(Self {
            signer,
            logs: Vec::new(),
        })
    }

    /// Follows the log with `origin`, trusting checkpoints signed by any of `keys`.
    pub fn add_log(&mut self, origin: &str, keys: Vec<Verifier>) {
        self.logs.retain(|(o, _)| o != origin);
        self.logs.push((origin.to_owned(), keys));
    }

    /// The witness's public key.
    pub fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    /// Decides a request. `stored` is the latest (size, root) this witness cosigned for
    /// the request's origin, `None` if never; `now` is the POSIX time for the cosignature.
    /// Checks follow the order of tlog-witness, "add-checkpoint".
    pub fn add_checkpoint(
        &self,
        req: &AddCheckpoint,
        stored: Option<(u64, Hash)>,
        now: u64,
    ) -> Result<Cosigned, WitnessError> {
        let note = Note::parse(req.checkpoint.as_bytes()).map_err(WitnessError::BadRequest)?;
        let cp = Checkpoint::parse(&note.text).map_err(WitnessError::BadRequest)?;
        let keys = self
            .logs
            .iter()
            .find(|(o, _)| *o == cp.origin)
            .map(|(_, k)| k)
            .ok_or_else(|| WitnessError::UnknownOrigin {
                origin: cp.origin.clone(),
            })?;
        note.verify(keys).map_err(WitnessError::Forbidden)?;
        if req.old_size > cp.size {
            return Err(WitnessError::OldSizeTooLarge {
                old: req.old_size,
                size: cp.size,
            });
        }
        let (latest, latest_root) = stored.unwrap_or((0, crate::EMPTY_ROOT));
        if req.old_size != latest {
            return Err(WitnessError::SizeConflict {
                latest,
                found: req.old_size,
            });
        }
        if latest == cp.size && latest > 0 {
            if latest_root != cp.root {
                return Err(WitnessError::RootConflict { size: latest });
            }
            if !req.proof.is_empty() {
                return Err(WitnessError::Inconsistent(Error::ProofLength {
                    expected: 0,
                    found: req.proof.len(),
                }));
            }
        } else if latest == 0 {
            // tlog-witness: the proof MUST be empty if the old size is zero.
            if !req.proof.is_empty() {
                return Err(WitnessError::Inconsistent(Error::ProofLength {
                    expected: 0,
                    found: req.proof.len(),
                }));
            }
        } else {
            verify_consistency(latest, cp.size, &req.proof, &latest_root, &cp.root)
                .map_err(WitnessError::Inconsistent)?;
        }
        let signature = self
            .signer
            .cosign(&note.text, now)
            .map_err(WitnessError::BadRequest)?;
        Ok(Cosigned {
            checkpoint: cp,
            signature,
        })
    }
}
