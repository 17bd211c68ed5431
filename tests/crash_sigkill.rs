//! The crash test: a child `vouch serve --dev` appends under load (the hidden `--selftest-appends` flag) and is SIGKILLed at random instants, over many iterations.
//!
//! After every kill, before anything repairs the data, the whole-log invariant check
//! runs on the files as the crash left them: every entry the child acknowledged (over
//! all iterations) is at its index, and every checkpoint it ever published is
//! consistent with the committed one. The next iteration restarts on the same data
//! directory, so recovery itself is exercised each time. Bounded to ~40 s.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "integration-test helpers: a panic is a failed test"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use vouch_log::invariants::check_log;
use vouch_store::{CheckpointLock, LocalDir, SqliteLock};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// xorshift64*, seeded from the clock; the seed is printed so a failure can be replayed
/// with VOUCH_CRASH_SEED.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_instants_loses_no_acknowledged_entry() {
    let seed = std::env::var("VOUCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (set VOUCH_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let budget = Duration::from_secs(40);
    let started = Instant::now();
    let mut acked: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut seen: Vec<Bytes> = Vec::new();
    let mut iterations = 0;
    while iterations < 30 && (iterations < 5 || started.elapsed() < budget) {
        iterations += 1;
        let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(["--selftest-appends", "50000", "--selftest-tag"])
            .arg(format!("it{iterations}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            // Only complete lines count: a line cut by the kill has no newline.
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line.ends_with('\n') && tx.send(line.trim_end().to_owned()).is_err() {
                    return;
                }
                line.clear();
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server started");
        assert!(first.starts_with("listening on "), "{first}");
        let delay = 20 + rng.next() % 600;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let mut acks = 0;
        for line in rx.try_iter() {
            if let Some(rest) = line.strip_prefix("ack ") {
                let (i, e) = rest.split_once(' ').unwrap();
                let i: u64 = i.parse().unwrap();
                let e = unhex(e);
                if let Some(prev) = acked.insert(i, e.clone()) {
                    assert_eq!(prev, e, "index {i} acknowledged for two different entries");
                }
                acks += 1;
            } else if let Some(note) = line.strip_prefix("checkpoint ") {
                seen.push(Bytes::from(unhex(note)));
            }
        }

        // The data exactly as the crash left it. The log's origin is its key's name
        // (derived from the first run's public URL, kept by every restart).
        let key = std::fs::read_to_string(data.join("log.key")).unwrap();
        let verifier = vouch_tlog::Signer::parse(key.trim()).unwrap().verifier();
        let objects = LocalDir::open(data.join("tiles")).unwrap();
        let lock = SqliteLock::open(&data.join("lock.db"), false)
            .await
            .unwrap();
        // A crash between a batch's commit and its tile writes leaves the committed
        // tree's tiles in its staging object: written out first, as every start does.
        let committed = lock.load(verifier.name()).await.unwrap().unwrap();
        let cp = vouch_tlog::open_checkpoint(
            &committed,
            verifier.name(),
            std::slice::from_ref(&verifier),
        )
        .unwrap()
        .checkpoint;
        vouch_log::staging::complete(&objects, cp.size, cp.root)
            .await
            .unwrap_or_else(|e| {
                panic!("iteration {iterations} (seed {seed}): committed tree lost: {e:?}")
            });
        let report = check_log(&objects, &lock, verifier.name(), &verifier, &seen)
            .await
            .unwrap_or_else(|e| {
                panic!("iteration {iterations} (seed {seed}): invariants broken: {e:?}")
            });
        for (i, e) in &acked {
            assert_eq!(
                report.entries.get(*i as usize).map(|b| &b[..]),
                Some(&e[..]),
                "iteration {iterations} (seed {seed}): acknowledged entry {i} lost"
            );
        }
        eprintln!(
            "iteration {iterations}: killed after {delay} ms, {acks} new acks, size {}, published current: {}",
            report.size, report.published_current
        );
    }
    assert!(iterations >= 5);
    assert!(!acked.is_empty(), "no entry was ever acknowledged");
}
