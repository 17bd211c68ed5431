//! Sequencer election: one task per node that holds or seeks the lock database's
//! sequencer lease and opens the node's logs while it leads.
//!
//! As a follower it tries [`CheckpointLock::acquire_lease`] every `ttl / 3`; on
//! success it opens the logs with the lease's epoch (recovery as in [`Log::open`]).
//! As the leader it renews every `ttl / 3` and steps down (closing the logs) as soon
//! as a renewal fails, errs, or does not answer before the lease's local deadline,
//! because it can no longer be sure it holds the lease; it also steps down when its
//! logs stopped sequencing (a fenced swap), releasing the lease so a fresh epoch can
//! be taken. The local deadline is counted from before the call that took or renewed
//! the lease, so it is never later than the database's expiry (same clock rate
//! assumed); the fenced swap is what makes a wrong guess harmless.
//!
//! The role is published on a [`tokio::sync::watch`] channel: the HTTP side answers
//! or forwards writes from it. One lease covers every log of the node.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use vouch_store::{CheckpointLock, Lease};

use crate::{Log, LogError};

/// What this node is right now.
#[derive(Debug, Clone)]
pub enum Role<T> {
    /// This node holds the lease; `T` is what it opened with the epoch (its logs).
    Leader(T),
    /// Another node (reachable at `leader_address`, if one leads) sequences.
    Follower { leader_address: Option<String> },
}

impl<T> Role<T> {
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader(_))
    }
}

/// The logs a leader opened: closed when it steps down, watched for a stop.
pub trait Leadership: Clone + Send + Sync + 'static {
    /// Stops committing at once ([`Log::step_down`]).
    fn step_down(&self);
    /// Whether every log still sequences (false after a fenced swap or a fatal error).
    fn is_sequencing(&self) -> bool;
}

impl Leadership for Arc<Log> {
    fn step_down(&self) {
        Log::step_down(self);
    }

    fn is_sequencing(&self) -> bool {
        Log::is_sequencing(self)
    }
}

impl Leadership for Vec<Arc<Log>> {
    fn step_down(&self) {
        self.iter().for_each(|l| l.step_down());
    }

    fn is_sequencing(&self) -> bool {
        self.iter().all(|l| l.is_sequencing())
    }
}

/// Who this node is, for the lease row.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// A description of the node (host, pid, start time); must be unique per process.
    pub holder: String,
    /// Where the other nodes reach it (internal URL).
    pub address: String,
    /// The lease's time to live.
    pub ttl: Duration,
}

/// A running election. Dropping it stops the task without releasing the lease (it
/// then expires); [`Election::resign`] hands over at once.
#[derive(Debug)]
pub struct Election<T> {
    role: watch::Receiver<Role<T>>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl<T: Leadership + std::fmt::Debug> Election<T> {
    /// Starts electing on `lock`. `open(epoch)` opens the node's logs fenced with
    /// `epoch` when this node becomes the leader.
    pub fn start<F, Fut>(lock: Arc<dyn CheckpointLock>, me: Candidate, open: F) -> Self
    where
        F: Fn(i64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, LogError>> + Send + 'static,
    {
        let (role_tx, role) = watch::channel(Role::Follower {
            leader_address: None,
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(lock, me, open, role_tx, stop_rx));
        Election {
            role,
            stop,
            task: Some(task),
        }
    }

    /// Follows the role.
    pub fn role(&self) -> watch::Receiver<Role<T>> {
        self.role.clone()
    }

    /// Waits until this node leads and returns what it opened.
    pub async fn leader(&self) -> T {
        let mut rx = self.role.clone();
        loop {
            if let Role::Leader(t) = &*rx.borrow_and_update() {
                return t.clone();
            }
            if rx.changed().await.is_err() {
                // The task ended; nothing will change any more.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Hand-over (SIGTERM): stops the task; if this node leads, its logs step down and
    /// the lease is released so another node takes over without waiting for the TTL.
    /// Shut the logs down first to commit what they pooled.
    pub async fn resign(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl<T> Drop for Election<T> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn run<T, F, Fut>(
    lock: Arc<dyn CheckpointLock>,
    me: Candidate,
    open: F,
    role: watch::Sender<Role<T>>,
    mut stop: watch::Receiver<bool>,
) where
    T: Leadership + std::fmt::Debug,
    F: Fn(i64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, LogError>> + Send + 'static,
{
    let period = me.ttl / 3;
    let mut held: Option<(Lease, Instant, T)> = None;
    loop {
        let next = Instant::now() + period;
        held = match held.take() {
            None => {
                let t0 = Instant::now();
                match lock.acquire_lease(&me.holder, &me.address, me.ttl).await {
                    Ok(Some(lease)) => match open_renewing(&*lock, &me, &lease, t0, &open).await {
                        Ok((logs, deadline)) => {
                            tracing::info!(epoch = lease.epoch, "became the sequencer");
                            role.send_replace(Role::Leader(logs.clone()));
                            Some((lease, deadline, logs))
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot open the logs as leader");
                            let _ = lock.release_lease(&lease).await;
                            None
                        }
                    },
                    Ok(None) => {
                        let leader_address = match lock.current_lease().await {
                            Ok(l) => l.map(|l| l.address),
                            Err(_) => None,
                        };
                        role.send_if_modified(|r| match r {
                            Role::Follower { leader_address: a } if *a == leader_address => false,
                            _ => {
                                *r = Role::Follower { leader_address };
                                true
                            }
                        });
                        None
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot reach the lease");
                        None
                    }
                }
            }
            Some((lease, deadline, logs)) => {
                let t0 = Instant::now();
                let renewed = logs.is_sequencing()
                    && matches!(
                        tokio::time::timeout_at(deadline, lock.renew_lease(&lease, me.ttl)).await,
                        Ok(Ok(true))
                    );
                if renewed {
                    Some((lease, t0 + me.ttl, logs))
                } else {
                    tracing::warn!(epoch = lease.epoch, "lease not renewed: stepping down");
                    logs.step_down();
                    // Free it for a fresh epoch if it is still ours (the logs stopped).
                    let _ = lock.release_lease(&lease).await;
                    role.send_replace(Role::Follower {
                        leader_address: None,
                    });
                    None
                }
            }
        };
        // Wait for the next round, the stop signal, or (leading) the deadline.
        let wake = match &held {
            Some((_, deadline, _)) => next.min(*deadline),
            None => next,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = stop.changed() => {
                if let Some((lease, _, logs)) = held.take() {
                    logs.step_down();
                    if let Err(e) = lock.release_lease(&lease).await {
                        tracing::warn!(error = %e, "lease not released; it expires");
                    }
                    role.send_replace(Role::Follower { leader_address: None });
                }
                return;
            }
        }
    }
}

/// Opens the logs for `lease` while renewing it every `ttl / 3`: recovering a large log
/// from a remote store can take longer than the lease lives, and a lease that expired
/// during the open would make the new leader step down at its first renewal while
/// another node takes over and opens in turn. Returns the logs and the lease's local
/// deadline; fails (dropping the half-opened logs) if a renewal fails or is late.
async fn open_renewing<T, F, Fut>(
    lock: &dyn CheckpointLock,
    me: &Candidate,
    lease: &Lease,
    t0: Instant,
    open: &F,
) -> Result<(T, Instant), LogError>
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Result<T, LogError>>,
{
    let period = me.ttl / 3;
    let mut deadline = t0 + lease.remaining;
    let opening = open(lease.epoch);
    tokio::pin!(opening);
    loop {
        tokio::select! {
            logs = &mut opening => return logs.map(|l| (l, deadline)),
            _ = tokio::time::sleep(period) => {
                let t1 = Instant::now();
                match tokio::time::timeout_at(deadline, lock.renew_lease(lease, me.ttl)).await {
                    Ok(Ok(true)) => deadline = t1 + me.ttl,
                    _ => {
                        tracing::warn!(epoch = lease.epoch, "lease lost while opening the logs");
                        return Err(LogError::SteppedDown { epoch: Some(lease.epoch) });
                    }
                }
            }
        }
    }
}

/// A lease taken once and kept: renewed every `ttl / 3` until it cannot be (then the
/// logs step down for good) or until [`LeaseKeeper::release`]. For a node whose logs
/// cannot be reopened in place (see [`Election`] for one that re-elects).
#[derive(Debug)]
pub struct LeaseKeeper {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Takes the lease for `me`, waiting (trying every `ttl / 3`) while another node
    /// holds it. Returns the lease and the instant (local clock) before which it is
    /// surely still held.
    pub async fn acquire(
        lock: &dyn CheckpointLock,
        me: &Candidate,
    ) -> Result<(Lease, Instant), LogError> {
        let mut told = false;
        loop {
            let t0 = Instant::now();
            if let Some(l) = lock.acquire_lease(&me.holder, &me.address, me.ttl).await? {
                let deadline = t0 + l.remaining;
                return Ok((l, deadline));
            }
            if !told {
                let who = lock.current_lease().await?.map(|l| l.holder);
                tracing::info!(leader = ?who, "waiting for the sequencer lease");
                told = true;
            }
            tokio::time::sleep(me.ttl / 3).await;
        }
    }

    /// Keeps `lease` for `logs` (opened with its epoch) until release or loss.
    pub fn keep<T: Leadership>(
        lock: Arc<dyn CheckpointLock>,
        me: Candidate,
        lease: Lease,
        deadline: Instant,
        logs: T,
    ) -> Self {
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut deadline = deadline;
            loop {
                let wake = (Instant::now() + me.ttl / 3).min(deadline);
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = stop_rx.changed() => {
                        logs.step_down();
                        if let Err(e) = lock.release_lease(&lease).await {
                            tracing::warn!(error = %e, "lease not released; it expires");
                        }
                        return;
                    }
                }
                let t0 = Instant::now();
                let renewed = logs.is_sequencing()
                    && matches!(
                        tokio::time::timeout_at(deadline, lock.renew_lease(&lease, me.ttl)).await,
                        Ok(Ok(true))
                    );
                if !renewed {
                    tracing::error!(
                        epoch = lease.epoch,
                        "sequencer lease lost or not renewed in time: the logs step down"
                    );
                    logs.step_down();
                    let _ = lock.release_lease(&lease).await;
                    return;
                }
                deadline = t0 + me.ttl;
            }
        });
        LeaseKeeper {
            stop,
            task: Some(task),
        }
    }

    /// Hand-over: the logs step down and the lease is released (shut the logs down
    /// first to commit what they pooled).
    pub async fn release(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
