//! C2SP tlog-checkpoint: the signed note body `origin\nsize\nbase64(root)\n[extensions]`,
//! and opening a signed checkpoint against a log's keys and an expected origin.

use std::fmt;

use crate::hash::Hash;
use crate::note::{check_text, open_note, Note, VerifiedNote, Verifier};
use crate::Error;

/// Most extension lines vouch accepts on a checkpoint.
pub const MAX_EXTENSIONS: usize = 64;

/// A checkpoint body: the log's origin, tree size and root hash, plus optional
/// extension lines (tlog-checkpoint, "Note text").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The origin line: identifies the log, conventionally its URL prefix without scheme.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// `MTH(D[0:size])`.
    pub root: Hash,
    /// Extension lines, each non-empty, without newlines.
    pub extensions: Vec<String>,
}

fn bad(line: usize, reason: &'static str) -> Error {
    Error::Checkpoint { line, reason }
}

/// Parses an ASCII decimal with no leading zeroes (a lone `0` is fine).
pub(crate) fn parse_u64_strict(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// A checkpoint without extensions.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Parses the note text of a checkpoint (the body, with its final newline).
    pub fn parse(text: &str) -> Result<Self, Error> {
        check_text(text)?;
        let body = &text[..text.len() - 1];
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad(1, "origin line is empty"));
        }
        let size = lines.next().ok_or(bad(2, "missing size line"))?;
        let size =
            parse_u64_strict(size).ok_or(bad(2, "size is not a decimal without leading zeroes"))?;
        let root = lines.next().ok_or(bad(3, "missing root hash line"))?;
        let root =
            Hash::from_base64(root).map_err(|_| bad(3, "root hash is not base64 of 32 bytes"))?;
        let mut extensions = Vec::new();
        for (i, l) in lines.enumerate() {
            if l.is_empty() {
                return Err(bad(4 + i, "empty extension line"));
            }
            if extensions.len() == MAX_EXTENSIONS {
                return Err(bad(4 + i, "too many extension lines"));
            }
            extensions.push(l.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The note text: `origin\nsize\nroot\n` plus one line per extension.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )?;
        for e in &self.extensions {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A checkpoint whose note verified against the log's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// The note and its verified signatures.
    pub note: VerifiedNote,
}

impl SignedCheckpoint {
    /// The full note as served (text, blank line, every signature line).
    pub fn to_note_string(&self) -> String {
        self.note.note.to_string()
    }
}

/// Opens a signed checkpoint: parses the note, verifies it with `log_keys`, parses the
/// body and checks its origin is `origin`. Other signatures (e.g. cosignatures) stay in
/// the note for [`crate::cosignature::check_quorum`].
pub fn open_checkpoint(
    bytes: &[u8],
    origin: &str,
    log_keys: &[Verifier],
) -> Result<SignedCheckpoint, Error> {
    let note = open_note(bytes, log_keys)?;
    let checkpoint = Checkpoint::parse(note.text())?;
    if checkpoint.origin != origin {
        return Err(Error::OriginMismatch {
            expected: origin.to_owned(),
            found: checkpoint.origin,
        });
    }
    Ok(SignedCheckpoint { checkpoint, note })
}

/// Parses a signed checkpoint without verifying any signature (for tools that only
/// display). Never trust the result.
pub fn parse_unverified(bytes: &[u8]) -> Result<(Checkpoint, Note), Error> {
    let note = Note::parse(bytes)?;
    let cp = Checkpoint::parse(&note.text)?;
    Ok((cp, note))
}
