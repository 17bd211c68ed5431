//! How the [`ops`](crate::ops) results read: the one JSON object `vouch log ... --json`
//! prints and the text lines otherwise. Lines hold log text (origins) as the log served
//! it; the caller escapes them for a terminal.

use serde_json::{json, Value};
use vouch_tlog::{Hash, TlogProof};

use crate::monitor::Step;
use crate::ops::{checkpoint_json, Checked, Consistent, Included, Monitored, Trust};

impl Checked {
    /// `vouch log checkpoint --json`: origin, size, roots, cosignatures, and the note.
    #[allow(
        clippy::indexing_slicing,
        reason = "checkpoint_json answers a json! object literal; IndexMut on it never panics"
    )]
    pub fn to_json(&self, t: &Trust) -> Value {
        let mut v = checkpoint_json(&self.checkpoint, &t.witnesses);
        v["checkpoint"] = json!(self.checkpoint.to_note_string());
        v
    }

    /// `vouch log checkpoint`: origin, size, root, then what verified it.
    pub fn lines(&self, t: &Trust) -> Vec<String> {
        let cp = &self.checkpoint.checkpoint;
        let (key, n) = (t.log_key.name(), self.cosignatures);
        vec![
            format!("origin: {}", cp.origin),
            format!("size:   {}", cp.size),
            format!("root:   {}", cp.root),
            format!("verified: log key {key}, {n} witness cosignature(s)"),
        ]
    }

    /// `vouch log verify-proof --json`: the checkpoint, and the entry it proves.
    #[allow(
        clippy::indexing_slicing,
        reason = "checkpoint_json answers a json! object literal; IndexMut on it never panics"
    )]
    pub fn proof_json(&self, t: &Trust, file: &TlogProof, leaf: &Hash) -> Value {
        let mut j = checkpoint_json(&self.checkpoint, &t.witnesses);
        j["verified"] = json!(true);
        j["index"] = json!(file.index);
        j["leaf_hash"] = json!(leaf.to_hex());
        j
    }

    /// `vouch log verify-proof`: one line.
    pub fn proof_lines(&self, file: &TlogProof) -> Vec<String> {
        let cp = &self.checkpoint.checkpoint;
        let (index, n) = (file.index, self.cosignatures);
        vec![format!(
            "verified: entry {index} is in {} at size {} ({n} witness cosignature(s))",
            cp.origin, cp.size
        )]
    }
}

impl Included {
    /// `vouch log inclusion`: one line.
    pub fn lines(&self) -> Vec<String> {
        let (index, leaf, size, root) = (self.index, self.leaf, self.size, self.root);
        vec![format!(
            "entry {index} (leaf {leaf}) is included in tree {size} with root {root}"
        )]
    }

    /// `vouch log proof --json`: the entry and its tlog-proof file.
    pub fn proof_json(&self, file: &TlogProof) -> Value {
        json!({"index": self.index, "size": self.size, "leaf_hash": self.leaf.to_hex(), "tlog_proof": file.to_string()})
    }
}

impl Consistent {
    /// `vouch log consistency`: one line.
    pub fn lines(&self) -> Vec<String> {
        let (old_size, old_root, new_size, root) =
            (self.old_size, self.old_root, self.size, self.root);
        vec![format!(
            "tree {old_size} ({old_root}) is a prefix of tree {new_size} ({root})"
        )]
    }
}

impl Monitored {
    /// `vouch log monitor --json`: the last verified tree and every observation.
    pub fn to_json(&self, t: &Trust) -> Value {
        let events: Vec<_> = self.observations.iter().map(|o| o.to_json()).collect();
        let state = self.state.as_ref();
        json!({
            "origin": t.origin,
            "size": state.map(|s| s.size),
            "root": state.map(|s| s.root.clone()),
            "checks": self.checks,
            "events": events,
        })
    }
}

impl Step {
    /// The line `vouch log monitor` prints as each check verifies.
    pub fn line(&self) -> String {
        let (o, root) = (self.observation, self.checkpoint.checkpoint.root);
        format!("{o} (root {root})")
    }
}
