//! Ingest hashing throughput on one large file: the pipeline over the file, then a real
//! HTTP download of it from a loopback server. One JSON object per line, with peak RSS.
//!
//!   VOUCH_BENCH_FILE=/tmp/1g.bin cargo bench -p vouch-ingest --bench hash
//!
//! `scripts/bench-ingest.sh` creates the file, runs this and `sha256sum` on it and
//! prints the ratio. Without VOUCH_BENCH_FILE a 64 MiB temporary file is used.

use std::io::Write as _;
use std::path::PathBuf;

fn main() {
    let (path, _keep) = match std::env::var_os("VOUCH_BENCH_FILE") {
        Some(p) => (PathBuf::from(p), None),
        None => {
            let mut f = tempfile::NamedTempFile::new().expect("temp file");
            let block: Vec<u8> = (0..1u32 << 20).map(|i| (i * 2_654_435_761) as u8).collect();
            for _ in 0..64 {
                f.write_all(&block).expect("write temp file");
            }
            (f.path().to_owned(), Some(f))
        }
    };
    let modes = std::env::var("VOUCH_BENCH_MODES").unwrap_or_else(|_| "file,http".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    for mode in modes.split(',') {
        let report = match mode {
            "file" => rt
                .block_on(vouch_ingest::bench::bench_file(&path))
                .map_err(|e| e.to_string()),
            "http" => rt
                .block_on(vouch_ingest::bench::bench_http(&path))
                .map_err(|e| format!("{}: {e}", e.code())),
            other => Err(format!("unknown mode {other:?}: expected file or http")),
        };
        match report {
            Ok(r) => println!("{}", r.to_json()),
            Err(e) => {
                eprintln!("bench {mode}: {e}");
                std::process::exit(2);
            }
        }
    }
}
