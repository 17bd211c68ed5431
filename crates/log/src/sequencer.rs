//! `Log`: the bounded pool, the group-commit sequencer task, and the in-process `add` API.
//!
//! One batch goes through these steps, each commented where it happens in
//! [`commit_batch`] (Sunlight's order):
//!
//! 1. every tile and entry bundle of the new tree is staged durably in ONE object,
//!    `staging/<size>-<root hex>` ([`crate::staging`]);
//! 2. the new signed checkpoint replaces the old one by compare-and-swap in the lock
//!    backend, fenced by the sequencer's lease epoch when it has one: this is THE commit;
//! 3. the tiles are written to their final paths create-if-absent: their bytes are
//!    fixed by the committed tree, so an object already there must be byte-identical
//!    (a different one is a fatal invariant error, `STORE_E011`);
//! 4. the `checkpoint` object is published, only if it grows the tree it holds (never
//!    shrinks it), and only then are entries acknowledged.
//!
//! A sequencer whose fenced swap is refused (another node holds the lease, or its own
//! expired) or that loses the swap steps down: it publishes nothing, [`Log::current`]
//! and [`Log::add`] answer [`LogError::SteppedDown`]. Nothing is ever written to a
//! final tile path before its tree is committed, so a paused or dead sequencer leaves
//! at most a staging object behind; whoever opens the log next (the new leader)
//! replays the committed tree's staging object if its tiles are missing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::{oneshot, watch, Notify};
use tokio::time::Instant;
use vouch_store::{CheckpointLock, ObjectKey, Objects, StoreError};
use vouch_tlog::{open_checkpoint, sign_note, Checkpoint, Hash, Signer, Verifier, EMPTY_ROOT};

use crate::health::{BatchObserver, BatchReport, Health};
use crate::staging;
use crate::state::TreeState;
use crate::sweep::Sweeper;
use crate::{LogConfig, LogError};

/// Object key of the published checkpoint (tlog-tiles: `<prefix>/checkpoint`).
pub const CHECKPOINT_KEY: &str = "checkpoint";

type Ack = oneshot::Sender<Result<u64, LogError>>;

/// The latest checkpoint this process committed and published.
#[derive(Debug, Clone)]
pub struct Published {
    pub size: u64,
    pub root: Hash,
    /// The signed note exactly as stored and served.
    pub note: Bytes,
}

/// Entries waiting for the next batch.
#[derive(Debug, Default)]
struct Pool {
    entries: Vec<(Bytes, Ack)>,
    bytes: usize,
}

#[derive(Debug)]
struct Shared {
    config: LogConfig,
    objects: Arc<dyn Objects>,
    lock: Arc<dyn CheckpointLock>,
    signer: Signer,
    /// The sequencer lease epoch every swap is fenced with; `None`: unfenced (a lock
    /// nobody else sequences, tests and tools).
    epoch: Option<i64>,
    /// Set when a swap was fenced out or lost: `current` and `add` say so.
    stepped_down: AtomicBool,
    /// Guards the pool; held only to push one entry or to swap the vector out.
    pool: Mutex<Pool>,
    /// Wakes the sequencer when the pool becomes non-empty or reaches a full batch.
    wake: Notify,
    /// Set by shutdown or a fatal error; `add` then refuses.
    closed: AtomicBool,
    published: watch::Sender<Arc<Published>>,
    /// Liveness facts for [`Log::health`]; written only by the sequencer task, around
    /// each batch, and held only to copy a few fields.
    activity: Mutex<Activity>,
    /// Set once by [`Log::observe`]; told about every batch.
    observer: OnceLock<Arc<dyn BatchObserver>>,
    /// Deletes each batch's superseded partials after the grace period.
    sweeper: Arc<Sweeper>,
}

/// What the sequencer last did, for readiness.
#[derive(Debug)]
struct Activity {
    last_commit: Instant,
    batch_started: Option<Instant>,
    last_failure: Option<String>,
}

impl Shared {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // Pool operations are single pushes and swaps: a panic cannot leave it torn.
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn activity(&self) -> std::sync::MutexGuard<'_, Activity> {
        // Field copies only: a panic cannot leave it torn.
        self.activity.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A transparency log with its sequencer running. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Log {
    shared: Arc<Shared>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Log {
    /// Opens the log named `config.origin`, recovering from whatever a crash left, and
    /// starts its sequencer. With `create` (`--dev`, tests) a missing log is created
    /// empty; otherwise it must exist in the lock backend.
    ///
    /// Recovery: the lock row is the truth. Every tile of that tree was durable before
    /// the row was swapped (commit point 1 precedes 2), so the state is rebuilt from
    /// tiles and checked against the row's root; if the published `checkpoint` object
    /// lags (a crash between commit points 2 and 3), it is republished here.
    pub async fn open(
        config: LogConfig,
        objects: Arc<dyn Objects>,
        lock: Arc<dyn CheckpointLock>,
        signer: Signer,
        create: bool,
    ) -> Result<Log, LogError> {
        Self::open_inner(config, objects, lock, signer, create, None).await
    }

    /// As [`Log::open`], for the holder of the sequencer lease with `epoch`: every
    /// checkpoint swap is fenced with it ([`CheckpointLock::compare_and_swap_fenced`]),
    /// and the log steps down at the first refused one.
    pub async fn open_fenced(
        config: LogConfig,
        objects: Arc<dyn Objects>,
        lock: Arc<dyn CheckpointLock>,
        signer: Signer,
        create: bool,
        epoch: i64,
    ) -> Result<Log, LogError> {
        Self::open_inner(config, objects, lock, signer, create, Some(epoch)).await
    }

    async fn open_inner(
        config: LogConfig,
        objects: Arc<dyn Objects>,
        lock: Arc<dyn CheckpointLock>,
        signer: Signer,
        create: bool,
        epoch: Option<i64>,
    ) -> Result<Log, LogError> {
        let origin = config.origin.clone();
        let note = match lock.load(&origin).await? {
            Some(n) => n,
            None if create => {
                let first = sign(&signer, &origin, 0, EMPTY_ROOT)?;
                match lock.create(&origin, &first).await {
                    Ok(()) => first.to_vec(),
                    Err(StoreError::AlreadyExists { .. }) => {
                        lock.load(&origin).await?.ok_or(LogError::NotInitialized {
                            origin: origin.clone(),
                        })?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => return Err(LogError::NotInitialized { origin }),
        };
        let note = Bytes::from(note);
        let cp = open_checkpoint(&note, &origin, &[signer.verifier()])?.checkpoint;
        // The committed tree's tiles: there, or staged by the sequencer that committed
        // it and died before writing them (between commit steps 2 and 3).
        let state = staging::complete_state(&*objects, cp.size, cp.root).await?;
        crate::sweep::clear_beyond(&*objects, cp.size).await?;
        publish_if_larger(&*objects, &origin, &signer, cp.size, &note).await?;
        // The committed tree's tiles are all in place: its staging object is not needed.
        if cp.size > 0 {
            objects.delete(&staging::key(cp.size, &cp.root)).await?;
        }
        let (published, _) = watch::channel(Arc::new(Published {
            size: cp.size,
            root: cp.root,
            note: note.clone(),
        }));
        let sweeper = Arc::new(Sweeper::new(Arc::clone(&objects), config.partial_grace));
        let shared = Arc::new(Shared {
            config,
            objects,
            lock,
            signer,
            epoch,
            stepped_down: AtomicBool::new(false),
            pool: Mutex::new(Pool::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            published,
            activity: Mutex::new(Activity {
                last_commit: Instant::now(),
                batch_started: None,
                last_failure: None,
            }),
            observer: OnceLock::new(),
            sweeper: Arc::clone(&sweeper),
        });
        let task = tokio::spawn(run(Arc::clone(&shared), state, note));
        let sweeper = tokio::spawn(sweeper.run(cp.size));
        Ok(Log {
            shared,
            task: Mutex::new(Some(task)),
            sweeper,
        })
    }

    /// Adds one entry and resolves to its index once it is durable and covered by a
    /// published checkpoint. Refuses at once (without waiting) when the entry is over
    /// 65,535 bytes, the pool is full, or the log is closed.
    pub async fn add(&self, entry: Bytes) -> Result<u64, LogError> {
        let rx = self.enqueue(entry)?;
        rx.await.unwrap_or(Err(LogError::Closed))
    }

    /// The synchronous half of [`Log::add`]: pools the entry and returns the receiver
    /// of its index. Useful to keep many entries in flight from one task.
    pub fn enqueue(
        &self,
        entry: Bytes,
    ) -> Result<oneshot::Receiver<Result<u64, LogError>>, LogError> {
        let s = &self.shared;
        if entry.len() > vouch_tlog::MAX_ENTRY_SIZE {
            return Err(LogError::EntryTooLarge {
                size: entry.len(),
                max: vouch_tlog::MAX_ENTRY_SIZE,
            });
        }
        if s.closed.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        let (tx, rx) = oneshot::channel();
        let len = {
            let mut pool = s.pool();
            let len = pool.entries.len();
            if len >= s.config.pool_max_entries
                || pool.bytes + entry.len() > s.config.pool_max_bytes
            {
                let batches = (len / s.config.batch_max_entries + 1) as u64;
                let per = s.config.batch_interval.as_millis() as u64;
                return Err(LogError::PoolFull {
                    retry_after_ms: (batches * per).max(100),
                });
            }
            pool.bytes += entry.len();
            pool.entries.push((entry, tx));
            len + 1
        };
        if len == 1 || len == s.config.batch_max_entries {
            s.wake.notify_one();
        }
        Ok(rx)
    }

    /// The latest published checkpoint.
    pub fn latest(&self) -> Arc<Published> {
        self.shared.published.borrow().clone()
    }

    /// The latest published checkpoint, to serve as the log's current one: refused
    /// ([`LogError::Closed`]) once the sequencer has stopped, because a stopped sequencer
    /// (it lost the compare-and-swap to another process, or no longer knows the committed
    /// state) may hold a checkpoint older than the committed one.
    /// After a step-down the refusal is [`LogError::SteppedDown`].
    pub fn current(&self) -> Result<Arc<Published>, LogError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        Ok(self.latest())
    }

    /// Why a closed log refuses: it stepped down, or it was shut down / failed.
    fn closed_error(&self) -> LogError {
        if self.shared.stepped_down.load(Ordering::Acquire) {
            LogError::SteppedDown {
                epoch: self.shared.epoch,
            }
        } else {
            LogError::Closed
        }
    }

    /// The lease epoch this log's swaps are fenced with (`None`: unfenced).
    pub fn epoch(&self) -> Option<i64> {
        self.shared.epoch
    }

    /// Whether the sequencer stepped down (fenced out or lost the swap).
    pub fn stepped_down(&self) -> bool {
        self.shared.stepped_down.load(Ordering::Acquire)
    }

    /// Steps down now (the lease was lost or could not be renewed in time): no batch
    /// commits or publishes after this returns, except one whose fenced swap already
    /// went through; waiters of pooled entries get [`LogError::SteppedDown`].
    pub fn step_down(&self) {
        self.shared.stepped_down.store(true, Ordering::Release);
        self.abort();
        let pooled = std::mem::take(&mut self.shared.pool().entries);
        for (_, ack) in pooled {
            let _ = ack.send(Err(LogError::SteppedDown {
                epoch: self.shared.epoch,
            }));
        }
    }

    /// Whether the sequencer is running (not stopped by an error or a shutdown).
    pub fn is_sequencing(&self) -> bool {
        !self.shared.closed.load(Ordering::Acquire)
    }

    /// Follows published checkpoints.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.shared.published.subscribe()
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.shared.config.origin
    }

    /// The key that verifies this log's checkpoints.
    pub fn verifier(&self) -> Verifier {
        self.shared.signer.verifier()
    }

    /// The object store holding the tiles.
    pub fn objects(&self) -> &Arc<dyn Objects> {
        &self.shared.objects
    }

    /// Entries currently waiting in the pool.
    pub fn pooled(&self) -> usize {
        self.shared.pool().entries.len()
    }

    /// The sequencer's liveness now (for readiness checks); never waits on a batch.
    pub fn health(&self) -> Health {
        let task_alive = self
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|t| !t.is_finished());
        let running = task_alive && !self.shared.closed.load(Ordering::Acquire);
        let pooled = self.pooled();
        let a = self.shared.activity();
        let now = Instant::now();
        Health {
            running,
            pooled,
            since_commit: now.saturating_duration_since(a.last_commit),
            in_flight: a.batch_started.map(|t| now.saturating_duration_since(t)),
            last_failure: a.last_failure.clone(),
        }
    }

    /// Reports every later batch to `observer` (metrics). Only the first call takes
    /// effect; returns false if an observer was already set.
    pub fn observe(&self, observer: Arc<dyn BatchObserver>) -> bool {
        self.shared.observer.set(observer).is_ok()
    }

    /// Stops accepting entries, sequences what is pooled, and waits for the sequencer.
    pub async fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
        // Deletions not yet due are left to the next start's sweep.
        self.sweeper.abort();
    }

    /// Kills the sequencer wherever it is, like a crash (tests). Waiters see `Closed`.
    pub fn abort(&self) {
        self.shared.closed.store(true, Ordering::Release);
        if let Some(t) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
        self.sweeper.abort();
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.abort();
    }
}

fn checkpoint_key() -> ObjectKey {
    // A constant that satisfies ObjectKey's grammar.
    ObjectKey::new(CHECKPOINT_KEY).expect("\"checkpoint\" is a valid object key")
}

/// Writes `note` (of tree `size`) as the `checkpoint` object unless that object already
/// holds a tree at least as large: the published checkpoint never shrinks, even when
/// a sequencer that was paused after its commit publishes late. (Read then write: the
/// window is the gap between two calls, not a pause past a lease, since a sequencer
/// that lost its lease cannot commit a tree to publish.)
async fn publish_if_larger(
    objects: &dyn Objects,
    origin: &str,
    signer: &Signer,
    size: u64,
    note: &Bytes,
) -> Result<(), LogError> {
    let key = checkpoint_key();
    if let Some(held) = objects.get(&key).await? {
        if held == *note {
            return Ok(());
        }
        if let Ok(o) = open_checkpoint(&held, origin, &[signer.verifier()]) {
            if o.checkpoint.size >= size {
                return Ok(());
            }
        }
    }
    tracing::debug!(size, "publishing the checkpoint");
    objects.put(&key, note.clone()).await?;
    Ok(())
}

fn sign(signer: &Signer, origin: &str, size: u64, root: Hash) -> Result<Bytes, LogError> {
    let text = Checkpoint::new(origin, size, root).to_text();
    Ok(Bytes::from(sign_note(&text, &[signer])?))
}

/// The sequencer task: waits for a batch to be due, commits it, acknowledges it.
async fn run(shared: Arc<Shared>, mut state: TreeState, mut note: Bytes) {
    let interval = shared.config.batch_interval;
    let max = shared.config.batch_max_entries;
    let mut next_at = Instant::now();
    loop {
        loop {
            let len = shared.pool().entries.len();
            let closed = shared.closed.load(Ordering::Acquire);
            if len == 0 && closed {
                return;
            }
            if len >= max || (len > 0 && (closed || Instant::now() >= next_at)) {
                break;
            }
            let notified = shared.wake.notified();
            if len == 0 {
                notified.await;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep_until(next_at) => {}
                    _ = notified => {}
                }
            }
        }
        next_at = Instant::now() + interval;
        let batch: Vec<(Bytes, Ack)> = {
            let mut pool = shared.pool();
            let take = pool.entries.len().min(max);
            let rest = pool.entries.split_off(take);
            let batch = std::mem::replace(&mut pool.entries, rest);
            pool.bytes -= batch.iter().map(|(e, _)| e.len()).sum::<usize>();
            batch
        };
        let (entries, acks): (Vec<Bytes>, Vec<Ack>) = batch.into_iter().unzip();
        let started = Instant::now();
        shared.activity().batch_started = Some(started);
        let result = commit_batch(&shared, &mut state, &mut note, entries).await;
        {
            let mut a = shared.activity();
            a.batch_started = None;
            match &result {
                Ok(_) => {
                    a.last_commit = Instant::now();
                    a.last_failure = None;
                }
                Err(Outcome::Failed(e) | Outcome::Fatal(e)) => a.last_failure = Some(e.to_string()),
            }
        }
        if let Some(o) = shared.observer.get() {
            o.batch(BatchReport {
                entries: acks.len(),
                elapsed: started.elapsed(),
                committed: result.is_ok(),
            });
        }
        match result {
            Ok(first) => {
                for (i, ack) in acks.into_iter().enumerate() {
                    let _ = ack.send(Ok(first + i as u64));
                }
            }
            Err(Outcome::Failed(e)) => {
                tracing::warn!(error = %e, entries = acks.len(), "batch not committed");
                let cause = Arc::new(e);
                for ack in acks {
                    let _ = ack.send(Err(LogError::BatchFailed {
                        cause: Arc::clone(&cause),
                    }));
                }
            }
            Err(Outcome::Fatal(e)) => {
                tracing::error!(error = %e, "sequencer stopped");
                if matches!(e, LogError::SteppedDown { .. } | LogError::LostLock { .. }) {
                    shared.stepped_down.store(true, Ordering::Release);
                }
                shared.closed.store(true, Ordering::Release);
                let cause = Arc::new(e);
                let pooled = std::mem::take(&mut shared.pool().entries);
                for ack in acks.into_iter().chain(pooled.into_iter().map(|(_, a)| a)) {
                    let _ = ack.send(Err(LogError::BatchFailed {
                        cause: Arc::clone(&cause),
                    }));
                }
                return;
            }
        }
    }
}

enum Outcome {
    /// Nothing was committed; the state is unchanged and sequencing goes on.
    Failed(LogError),
    /// We no longer know or own the committed state; the sequencer stops.
    Fatal(LogError),
}

/// Commits one batch; returns the index of its first entry.
async fn commit_batch(
    shared: &Shared,
    state: &mut TreeState,
    note: &mut Bytes,
    entries: Vec<Bytes>,
) -> Result<u64, Outcome> {
    let first = state.size();
    let mut next = state.clone();
    let (next, integrated) = tokio::task::spawn_blocking(move || {
        let r = next.integrate(&entries);
        (next, r)
    })
    .await
    .map_err(|_| Outcome::Failed(LogError::TaskPanicked))?;
    let integrated = integrated.map_err(Outcome::Failed)?;

    let origin = &shared.config.origin;
    let new_note =
        sign(&shared.signer, origin, integrated.size, integrated.root).map_err(Outcome::Failed)?;

    // STEP 1: stage. Every tile and bundle of the new tree, in one durable object. A
    // crash before, during or after it commits nothing: nothing is at a final path, and
    // an orphaned staging object is never read (its tree is not committed).
    let staging_key = staging::key(integrated.size, &integrated.root);
    shared
        .objects
        .put(&staging_key, staging::encode(&integrated.objects))
        .await
        .map_err(|e| Outcome::Failed(e.into()))?;

    // STEP 2: the compare-and-swap, fenced by the lease epoch. Before it returns Ok, a
    // crash recovers to the old tree (the batch's waiters never got an index); after,
    // recovery finds the new checkpoint in the lock row and its tiles staged (step 1).
    let swapped = match shared.epoch {
        Some(epoch) => {
            shared
                .lock
                .compare_and_swap_fenced(origin, note, &new_note, epoch)
                .await
        }
        None => shared.lock.compare_and_swap(origin, note, &new_note).await,
    };
    match swapped {
        Ok(()) => {}
        Err(StoreError::Conflict { found, .. }) if found.as_deref() == Some(&new_note[..]) => {}
        Err(StoreError::Fenced { epoch, current, .. }) => {
            tracing::warn!(epoch, ?current, "checkpoint swap fenced out: stepping down");
            return Err(Outcome::Fatal(LogError::SteppedDown { epoch: Some(epoch) }));
        }
        Err(StoreError::Conflict { found, .. }) => {
            let found_size = found
                .as_deref()
                .and_then(|f| open_checkpoint(f, origin, &[shared.signer.verifier()]).ok())
                .map_or(0, |c| c.checkpoint.size);
            return Err(Outcome::Fatal(LogError::LostLock {
                ours: first,
                found_size,
            }));
        }
        Err(e) => {
            // The swap's outcome is unknown: ask the lock which tree is committed.
            match shared.lock.load(origin).await {
                Ok(Some(f)) if f == new_note[..] => {}
                Ok(Some(f)) if f == note[..] => return Err(Outcome::Failed(e.into())),
                _ => return Err(Outcome::Fatal(e.into())),
            }
        }
    }
    *state = next;
    *note = new_note.clone();

    // STEP 3: the tiles at their final paths, create-if-absent. Their bytes are fixed by
    // the committed tree, so an existing object must be identical; a different one means
    // the store holds another tree's tile there (fatal). Until this succeeds the tiles
    // exist only in staging: on failure the sequencer stops (the entries are committed
    // but cannot be served from here) and the next `Log::open` writes them from staging.
    shared
        .objects
        .put_many_if_absent(integrated.objects)
        .await
        .map_err(|e| Outcome::Fatal(e.into()))?;
    // Not needed any more; a failed delete only leaves a few bytes behind.
    let objects = Arc::clone(&shared.objects);
    tokio::spawn(async move {
        if let Err(e) = objects.delete(&staging_key).await {
            tracing::debug!(error = %e, "staging object not deleted");
        }
    });

    // STEP 4: publish. The batch is committed whatever happens here; a crash before the
    // object is written is repaired by `Log::open`, and a failed write is superseded by
    // the next batch's checkpoint (the in-memory one is served meanwhile, its tiles are
    // durable). Acknowledgements go out after this.
    if let Err(e) = publish_if_larger(
        &*shared.objects,
        origin,
        &shared.signer,
        integrated.size,
        &new_note,
    )
    .await
    {
        tracing::warn!(error = %e, size = integrated.size, "checkpoint object not published yet");
    }
    shared.published.send_replace(Arc::new(Published {
        size: integrated.size,
        root: integrated.root,
        note: new_note,
    }));
    // The old tree's partials are superseded now; readers get them cut from the new
    // ones, and the files go once reads in flight are done.
    shared.sweeper.schedule(first, integrated.size);
    Ok(first)
}
