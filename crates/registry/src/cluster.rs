//! Writes through any node, reads on every node: [`LogWriter`], the one handle every appender and reader of a log (main or CT) goes through, whatever this node's role.
//!
//! A node is either the log's **leader** (it holds the sequencer and a local
//! [`vouch_log::Log`]) or a **follower** (it opened no log). On the leader an add is
//! the local `Log::add`. On a follower, adds are collected for up to [`LINGER`] or
//! [`MAX_BATCH`] entries and sent as ONE request to the leader's internal route
//! (`POST /internal/log/add`, bearer `secrets.internal_token`, see [`crate::internal`]),
//! which answers each entry's index once the leader acknowledged it (durable and
//! covered by a committed checkpoint) plus that checkpoint's signed note. The follower
//! verifies the note under the log's key before it answers anyone, so a proof it
//! builds (over the shared object store) is one the leader would have built.
//!
//! Nothing unacknowledged is ever reported as logged: with no leader known (SERVE_E011),
//! or a forward that fails or is cut mid-way (SERVE_E012), every entry of the batch is
//! answered 503 with `Retry-After`. An entry the leader committed but whose answer was
//! lost is then simply not acknowledged (the client retries; a Rekor entry may so be
//! logged twice, which a transparency log allows, but never acknowledged at a wrong index).
//!
//! Reads: the committed checkpoint is the leader's in-memory one, or on a follower the
//! lock row (`CheckpointLock::load`, the commit point itself), verified and cached for at
//! most [`COMMITTED_TTL`]; a follower's checkpoint and tile answers so lag the leader's
//! by at most that bound (plus one database round trip).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::time::Instant;
use vouch_log::{Health, Log, LogError, Published};
use vouch_store::{CheckpointLock, Objects};
use vouch_tlog::{open_checkpoint, Verifier};

use crate::ApiError;

/// How long a follower collects adds before it forwards them (one request per batch).
pub const LINGER: Duration = Duration::from_millis(5);
/// Entries per forwarded batch at most.
pub const MAX_BATCH: usize = 512;
/// Bytes of entries per forwarded batch at most (the internal route's body limit is
/// this plus framing, [`MAX_BATCH_BODY`]).
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// The internal route's body limit: a full batch with its framing.
pub const MAX_BATCH_BODY: usize = MAX_BATCH_BYTES + MAX_BATCH * 4 + 1024;
/// Forwarded batches in flight at once from one follower, per log.
const IN_FLIGHT: usize = 8;
/// How stale a follower's committed checkpoint may be (per-node cache, ARCHITECTURE.md).
pub const COMMITTED_TTL: Duration = Duration::from_secs(1);
/// A forward that has no answer in this time fails (503 SERVE_E012).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Follower-side queue of adds waiting to be batched.
const QUEUE: usize = 16_384;
/// The wire format's first bytes (version 1).
const MAGIC: &[u8; 8] = b"VLOGADD1";

/// What a node is for one log, as the election (or the start-up claim) says.
#[derive(Debug, Clone)]
pub enum Role {
    /// This node sequences the log.
    Leader(Arc<Log>),
    /// Another node does, at `leader_address` (its internal base URL, e.g.
    /// `http://10.0.0.5:8080`), or no leader is known (`None`).
    Follower { leader_address: Option<String> },
}

/// An acknowledged entry: its index and a committed checkpoint covering it.
#[derive(Debug, Clone)]
pub struct Appended {
    pub index: u64,
    pub checkpoint: Arc<Published>,
}

/// Why an add or a read of the committed state failed. [`ApiError::from`] gives each a
/// stable code; every one of them means "not acknowledged".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The local sequencer refused or failed (leader).
    #[error(transparent)]
    Log(#[from] LogError),
    /// No node leads the log right now (an election is pending).
    #[error("no node leads the log {origin} right now")]
    NoLeader { origin: String },
    /// The leader could not be reached, or the forward failed before its answer.
    #[error("forwarding to the log leader at {leader} failed: {reason}")]
    Forward { leader: String, reason: String },
    /// The leader answered with a refusal for this entry (its code is kept).
    #[error("the log leader refused the entry: {code}: {detail}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        detail: String,
        retry_after: Option<u64>,
    },
    /// A follower cannot read the committed checkpoint (lock database unreachable, or
    /// the row does not verify under the log's key).
    #[error("the committed checkpoint of {origin} cannot be read: {reason}")]
    Committed { origin: String, reason: String },
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        let unavailable = |code: &'static str, detail: String| ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        };
        match e {
            WriteError::Log(e) => ApiError::from(e),
            WriteError::NoLeader { .. } => unavailable(
                "SERVE_E011",
                format!("{e}; the entry was not logged, retry shortly"),
            ),
            WriteError::Forward { .. } => {
                tracing::warn!(error = %e, "forward to the log leader failed");
                unavailable(
                    "SERVE_E012",
                    "the log leader could not be reached or did not answer; the entry is \
                     not acknowledged, retry shortly"
                        .into(),
                )
            }
            WriteError::Refused {
                status,
                code,
                detail,
                retry_after,
            } => ApiError {
                retry_after,
                ..ApiError::new(status, code, detail)
            },
            WriteError::Committed { .. } => {
                tracing::warn!(error = %e, "committed checkpoint unknown");
                unavailable(
                    "SERVE_E014",
                    "this node cannot read the log's committed checkpoint right now".into(),
                )
            }
        }
    }
}

/// A follower's last verified committed checkpoint and when it was read.
type CommittedCache = Mutex<Option<(Instant, Arc<Published>)>>;

/// One add waiting in a follower's batch.
struct Pending {
    entry: Bytes,
    reply: oneshot::Sender<Result<Appended, WriteError>>,
}

/// Everything the forwarding task needs, cloned out of [`Inner`] so the task ends when
/// the writer is dropped (its queue closes).
#[derive(Clone)]
struct Forwarder {
    origin: String,
    verifier: Verifier,
    role: watch::Receiver<Role>,
    client: reqwest::Client,
    token: Option<Arc<str>>,
    committed: Arc<CommittedCache>,
}

struct Inner {
    origin: String,
    verifier: Verifier,
    objects: Arc<dyn Objects>,
    lock: Arc<dyn CheckpointLock>,
    role: watch::Receiver<Role>,
    queue: mpsc::Sender<Pending>,
    /// A follower's last verified committed checkpoint and when it was read.
    committed: Arc<CommittedCache>,
    /// Serialises follower refreshes of `committed` (one database read at a time).
    refresh: tokio::sync::Mutex<()>,
}

/// The handle to one log on this node (see the module documentation). Cheap to clone.
#[derive(Clone)]
pub struct LogWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("origin", &self.inner.origin)
            .field("leader", &self.is_leader())
            .finish_non_exhaustive()
    }
}

/// What a [`LogWriter`] is built from.
pub struct WriterParts {
    pub origin: String,
    pub verifier: Verifier,
    /// The log's object store (the CT log's is prefixed), shared by every node.
    pub objects: Arc<dyn Objects>,
    pub lock: Arc<dyn CheckpointLock>,
    pub role: watch::Receiver<Role>,
    /// The instance's internal token, sent to the leader; `None`: forwarding fails.
    pub internal_token: Option<String>,
}

impl LogWriter {
    /// Builds the handle and starts its forwarding task (idle while this node leads).
    pub fn new(p: WriterParts) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let committed = Arc::new(Mutex::new(None));
        let fwd = Forwarder {
            origin: p.origin.clone(),
            verifier: p.verifier.clone(),
            role: p.role.clone(),
            client: reqwest::Client::builder()
                .timeout(FORWARD_TIMEOUT)
                .build()
                .unwrap_or_default(),
            token: p.internal_token.map(Arc::from),
            committed: Arc::clone(&committed),
        };
        tokio::spawn(batcher(fwd, rx));
        LogWriter {
            inner: Arc::new(Inner {
                origin: p.origin,
                verifier: p.verifier,
                objects: p.objects,
                lock: p.lock,
                role: p.role,
                queue,
                committed,
                refresh: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A writer that always leads with `log` (single node, tests).
    pub fn leader(log: Arc<Log>, lock: Arc<dyn CheckpointLock>) -> Self {
        let (tx, rx) = watch::channel(Role::Leader(Arc::clone(&log)));
        // The sender is dropped: the role never changes, and receivers keep the last value.
        drop(tx);
        LogWriter::new(WriterParts {
            origin: log.origin().to_owned(),
            verifier: log.verifier(),
            objects: Arc::clone(log.objects()),
            lock,
            role: rx,
            internal_token: None,
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The key that verifies the log's checkpoints.
    pub fn verifier(&self) -> Verifier {
        self.inner.verifier.clone()
    }

    /// The (shared) object store holding the log's tiles.
    pub fn objects(&self) -> &Arc<dyn Objects> {
        &self.inner.objects
    }

    /// This node's role now.
    pub fn role(&self) -> Role {
        self.inner.role.borrow().clone()
    }

    /// The local log when this node leads.
    pub fn local(&self) -> Option<Arc<Log>> {
        match &*self.inner.role.borrow() {
            Role::Leader(log) => Some(Arc::clone(log)),
            Role::Follower { .. } => None,
        }
    }

    /// Whether this node leads the log now.
    pub fn is_leader(&self) -> bool {
        self.local().is_some()
    }

    /// The leader's internal address as this node knows it (followers).
    pub fn leader_address(&self) -> Option<String> {
        match &*self.inner.role.borrow() {
            Role::Leader(_) => None,
            Role::Follower { leader_address } => leader_address.clone(),
        }
    }

    /// Adds one entry and answers once the leader acknowledged it, with a committed
    /// checkpoint covering it.
    pub async fn add(&self, entry: Bytes) -> Result<Appended, WriteError> {
        if entry.len() > vouch_tlog::MAX_ENTRY_SIZE {
            return Err(LogError::EntryTooLarge {
                size: entry.len(),
                max: vouch_tlog::MAX_ENTRY_SIZE,
            }
            .into());
        }
        if let Some(log) = self.local() {
            let index = log.add(entry).await?;
            return Ok(Appended {
                index,
                checkpoint: log.latest(),
            });
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .queue
            .try_send(Pending { entry, reply })
            .map_err(|_| LogError::PoolFull {
                retry_after_ms: 100,
            })?;
        rx.await.unwrap_or_else(|_| {
            Err(WriteError::Forward {
                leader: self.leader_address().unwrap_or_default(),
                reason: "the forwarding task stopped".into(),
            })
        })
    }

    /// The committed checkpoint, to serve as current: the leader's published one
    /// (refused once its sequencer stopped), or on a follower the lock row, verified,
    /// at most [`COMMITTED_TTL`] old.
    pub async fn committed(&self) -> Result<Arc<Published>, WriteError> {
        if let Some(log) = self.local() {
            return Ok(log.current()?);
        }
        if let Some(p) = self.fresh() {
            return Ok(p);
        }
        let _one = self.inner.refresh.lock().await;
        if let Some(p) = self.fresh() {
            return Ok(p);
        }
        let failed = |reason: String| WriteError::Committed {
            origin: self.inner.origin.clone(),
            reason,
        };
        let note = self
            .inner
            .lock
            .load(&self.inner.origin)
            .await
            .map_err(|e| failed(format!("{}: {e}", e.code())))?
            .ok_or_else(|| failed("the log has no lock row".into()))?;
        let p = verify_note(&self.inner.origin, &self.inner.verifier, Bytes::from(note))
            .map_err(failed)?;
        Ok(remember(&self.inner.committed, p))
    }

    fn fresh(&self) -> Option<Arc<Published>> {
        let c = self
            .inner
            .committed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        c.as_ref()
            .filter(|(at, _)| at.elapsed() < COMMITTED_TTL)
            .map(|(_, p)| Arc::clone(p))
    }

    /// The sequencer's health when this node leads.
    pub fn health(&self) -> Option<Health> {
        self.local().map(|l| l.health())
    }

    /// Entries waiting: in the local pool (leader) or to be forwarded (follower).
    pub fn pooled(&self) -> usize {
        match self.local() {
            Some(l) => l.pooled(),
            None => QUEUE.saturating_sub(self.inner.queue.capacity()),
        }
    }

    /// Stops the local sequencer (if leading) after it committed what is pooled.
    pub async fn shutdown(&self) {
        if let Some(l) = self.local() {
            l.shutdown().await;
        }
    }
}

/// Keeps the newer of the cached and the given checkpoint, stamped now.
fn remember(cache: &Mutex<Option<(Instant, Arc<Published>)>>, p: Published) -> Arc<Published> {
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    let keep = match c.as_ref() {
        Some((_, old)) if old.size > p.size => Arc::clone(old),
        _ => Arc::new(p),
    };
    *c = Some((Instant::now(), Arc::clone(&keep)));
    keep
}

/// Opens a signed checkpoint note of `origin` under `verifier`.
fn verify_note(origin: &str, verifier: &Verifier, note: Bytes) -> Result<Published, String> {
    let cp = open_checkpoint(&note, origin, std::slice::from_ref(verifier))
        .map_err(|e| format!("the checkpoint does not verify: {e}"))?
        .checkpoint;
    Ok(Published {
        size: cp.size,
        root: cp.root,
        note,
    })
}

/// Collects a follower's adds into batches and forwards each as one request.
async fn batcher(fwd: Forwarder, mut rx: mpsc::Receiver<Pending>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut carry: Option<Pending> = None;
    loop {
        let first = match carry.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut bytes = first.entry.len();
        let mut batch = vec![first];
        let deadline = Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) if bytes + p.entry.len() > MAX_BATCH_BYTES => {
                    carry = Some(p);
                    break;
                }
                Ok(Some(p)) => {
                    bytes += p.entry.len();
                    batch.push(p);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let fwd = fwd.clone();
        tokio::spawn(async move {
            fwd.send(batch).await;
            drop(permit);
        });
    }
}

impl Forwarder {
    /// Sends one batch and answers every waiter (an error for all on any failure).
    async fn send(&self, batch: Vec<Pending>) {
        let role = self.role.borrow().clone();
        let leader = match role {
            // This node became the leader meanwhile: sequence locally.
            Role::Leader(log) => {
                for p in batch {
                    let log = Arc::clone(&log);
                    tokio::spawn(async move {
                        let r = match log.add(p.entry).await {
                            Ok(index) => Ok(Appended {
                                index,
                                checkpoint: log.latest(),
                            }),
                            Err(e) => Err(e.into()),
                        };
                        let _ = p.reply.send(r);
                    });
                }
                return;
            }
            Role::Follower {
                leader_address: None,
            } => {
                for p in batch {
                    let _ = p.reply.send(Err(WriteError::NoLeader {
                        origin: self.origin.clone(),
                    }));
                }
                return;
            }
            Role::Follower {
                leader_address: Some(a),
            } => a,
        };
        let entries: Vec<&Bytes> = batch.iter().map(|p| &p.entry).collect();
        match self.exchange(&leader, &entries).await {
            Ok((checkpoint, results)) => {
                for (p, r) in batch.into_iter().zip(results) {
                    let _ = p.reply.send(r.map(|index| Appended {
                        index,
                        checkpoint: Arc::clone(&checkpoint),
                    }));
                }
            }
            Err(e) => {
                for p in batch {
                    let _ = p.reply.send(Err(match &e {
                        WriteError::Refused {
                            status,
                            code,
                            detail,
                            retry_after,
                        } => WriteError::Refused {
                            status: *status,
                            code,
                            detail: detail.clone(),
                            retry_after: *retry_after,
                        },
                        WriteError::NoLeader { origin } => WriteError::NoLeader {
                            origin: origin.clone(),
                        },
                        other => WriteError::Forward {
                            leader: leader.clone(),
                            reason: other.to_string(),
                        },
                    }));
                }
            }
        }
    }

    /// One request: the batch out, the checkpoint and one result per entry back.
    async fn exchange(
        &self,
        leader: &str,
        entries: &[&Bytes],
    ) -> Result<(Arc<Published>, Vec<Result<u64, WriteError>>), WriteError> {
        let fail = |reason: String| WriteError::Forward {
            leader: leader.to_owned(),
            reason,
        };
        let Some(token) = self.token.as_deref() else {
            return Err(fail(
                "this node has no internal token ([internal] token_env)".into(),
            ));
        };
        let url = format!("{}/internal/log/add", leader.trim_end_matches('/'));
        let resp = self
            .client
            .post(&url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(encode_batch(&self.origin, entries))
            .send()
            .await
            .map_err(|e| fail(format!("request: {e}")))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| fail(format!("answer cut: {e}")))?;
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let code = v
                .get("code")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            return Err(match code {
                // The node asked leads no longer (or not yet): no leader known here.
                "SERVE_E013" | "SERVE_E011" => WriteError::NoLeader {
                    origin: self.origin.clone(),
                },
                _ => fail(format!("HTTP {status} {code}")),
            });
        }
        let answer: BatchAnswer =
            serde_json::from_slice(&body).map_err(|e| fail(format!("bad answer: {e}")))?;
        if answer.results.len() != entries.len() {
            return Err(fail(format!(
                "{} results for {} entries",
                answer.results.len(),
                entries.len()
            )));
        }
        let p = verify_note(&self.origin, &self.verifier, Bytes::from(answer.checkpoint))
            .map_err(|r| fail(format!("leader's checkpoint: {r}")))?;
        let checkpoint = remember(&self.committed, p);
        let size = checkpoint.size;
        let results = answer
            .results
            .into_iter()
            .map(|r| match r {
                EntryResult { index: Some(i), .. } if i < size => Ok(i),
                EntryResult { index: Some(i), .. } => Err(fail(format!(
                    "index {i} is not covered by the checkpoint of size {size}"
                ))),
                EntryResult {
                    index: None,
                    status,
                    code,
                    detail,
                    retry_after,
                } => Err(refusal(status, code.as_deref(), detail, retry_after)),
            })
            .collect();
        Ok((checkpoint, results))
    }
}

/// The leader's per-entry refusal, with its code mapped to the one this crate defines
/// (any other is a failed forward: never acknowledged either way).
fn refusal(
    status: Option<u16>,
    code: Option<&str>,
    detail: Option<String>,
    retry_after: Option<u64>,
) -> WriteError {
    let status = status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let code: &'static str = match code {
        Some("SERVE_E003") => "SERVE_E003",
        Some("SERVE_E004") => "SERVE_E004",
        Some("SERVE_E005") => "SERVE_E005",
        _ => "SERVE_E012",
    };
    WriteError::Refused {
        status,
        code,
        detail: detail.unwrap_or_default(),
        retry_after: retry_after.or((status.as_u16() >= 429).then_some(1)),
    }
}

/// The leader's answer to a forwarded batch.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BatchAnswer {
    /// The signed note of a committed checkpoint covering every acknowledged entry.
    pub checkpoint: String,
    /// One per entry, in order.
    pub results: Vec<EntryResult>,
}

/// One entry's outcome: `index`, or the refusal (`status`, `code`, `detail`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EntryResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The request body: `VLOGADD1`, u16 origin length, origin, u32 count, then per entry a
/// u32 length and its bytes (all big-endian).
pub fn encode_batch(origin: &str, entries: &[&Bytes]) -> Bytes {
    let len: usize = entries.iter().map(|e| 4 + e.len()).sum();
    let mut b = BytesMut::with_capacity(MAGIC.len() + 2 + origin.len() + 4 + len);
    b.put_slice(MAGIC);
    b.put_u16(u16::try_from(origin.len()).unwrap_or(u16::MAX));
    b.put_slice(origin.as_bytes());
    b.put_u32(u32::try_from(entries.len()).unwrap_or(u32::MAX));
    for e in entries {
        b.put_u32(u32::try_from(e.len()).unwrap_or(u32::MAX));
        b.put_slice(e);
    }
    b.freeze()
}

/// Parses [`encode_batch`]'s format; `None` for anything malformed (trailing bytes,
/// short reads, more than [`MAX_BATCH`] entries, an entry over the entry size limit).
pub fn decode_batch(body: &Bytes) -> Option<(String, Vec<Bytes>)> {
    let mut off = 0usize;
    let take = |off: &mut usize, n: usize| -> Option<Bytes> {
        let end = off.checked_add(n)?;
        let s = body.get(*off..end)?;
        let out = body.slice_ref(s);
        *off = end;
        Some(out)
    };
    if take(&mut off, MAGIC.len())?.as_ref() != MAGIC {
        return None;
    }
    let n = usize::from(u16::from_be_bytes(
        take(&mut off, 2)?.as_ref().try_into().ok()?,
    ));
    let origin = String::from_utf8(take(&mut off, n)?.to_vec()).ok()?;
    let count = u32::from_be_bytes(take(&mut off, 4)?.as_ref().try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    if count == 0 || count > MAX_BATCH {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u32::from_be_bytes(take(&mut off, 4)?.as_ref().try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        if len > vouch_tlog::MAX_ENTRY_SIZE {
            return None;
        }
        entries.push(take(&mut off, len)?);
    }
    (off == body.len()).then_some((origin, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trips_and_refuses_malformed_bodies() {
        let a = Bytes::from_static(b"first");
        let b = Bytes::from_static(b"");
        let body = encode_batch("example.org/ct", &[&a, &b]);
        let (origin, entries) = decode_batch(&body).unwrap();
        assert_eq!(origin, "example.org/ct");
        assert_eq!(entries, vec![a.clone(), b]);
        // Truncated anywhere, or with a trailing byte: refused.
        for cut in 0..body.len() {
            assert!(decode_batch(&body.slice(..cut)).is_none(), "cut at {cut}");
        }
        let mut long = body.to_vec();
        long.push(0);
        assert!(decode_batch(&Bytes::from(long)).is_none());
        // No entries, or another magic: refused.
        assert!(decode_batch(&encode_batch("o", &[])).is_none());
        let mut bad = body.to_vec();
        bad[0] = b'X';
        assert!(decode_batch(&Bytes::from(bad)).is_none());
    }

    #[test]
    fn unknown_leader_codes_become_a_failed_forward() {
        let e = refusal(Some(418), Some("EVIL_E001"), None, None);
        assert!(matches!(
            e,
            WriteError::Refused {
                code: "SERVE_E012",
                ..
            }
        ));
        let e = refusal(Some(429), Some("SERVE_E003"), None, Some(3));
        let api = ApiError::from(e);
        assert_eq!((api.code, api.retry_after), ("SERVE_E003", Some(3)));
    }
}
