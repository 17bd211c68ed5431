//! Shared helpers for the `release_*` integration tests: running the real `vouch` binary,
//! scratch directories under Cargo's per-target temp dir, and a tiny loopback HTTP server
//! that answers like a package index (and can misbehave on purpose).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs `vouch` with `args` in `cwd`.
pub fn vouch(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("the vouch binary runs")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command's stderr contains `text`.
#[track_caller]
pub fn assert_stderr_has(out: &Output, text: &str) {
    assert!(stderr(out).contains(text), "{}", stderr(out));
}

/// Parses stdout as the one JSON object `--json` prints.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

/// A fresh empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "release-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `files` into `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        std::fs::write(dir.join(name), data).unwrap();
    }
}

/// Runs a host tool (`sha256sum`) in `cwd`.
pub fn tool(cwd: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("tool runs")
}

/// What the test server answers.
pub enum Reply {
    Json(u16, String),
    /// Sleep this long, then close without answering.
    Stall(Duration),
    /// 200 with `n` bytes of body and no Content-Length (so only the read cap catches it).
    Endless(usize),
}

type Handler = dyn Fn(&str, u32) -> Reply + Send + Sync;

/// A loopback HTTP/1.1 server. `handler(path, n)` gets the request path and how many
/// times that path was asked before (0 for the first request).
pub struct Server {
    pub base: String,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Server {
    pub fn start(handler: impl Fn(&str, u32) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let h = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (h, handler) = (h.clone(), handler.clone());
                std::thread::spawn(move || serve(stream, &h, &*handler));
            }
        });
        Self { base, hits }
    }

    pub fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn serve(mut stream: TcpStream, hits: &Mutex<HashMap<String, u32>>, handler: &Handler) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let n = {
        let mut map = hits.lock().unwrap();
        let e = map.entry(path.clone()).or_insert(0);
        *e += 1;
        *e - 1
    };
    let _ = match handler(&path, n) {
        Reply::Json(status, body) => write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
        Reply::Stall(d) => {
            std::thread::sleep(d);
            Ok(())
        }
        Reply::Endless(n) => {
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[");
            let chunk = vec![b' '; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len());
                if stream.write_all(&chunk[..k]).is_err() {
                    break;
                }
                left -= k;
            }
            Ok(())
        }
    };
}

/// Seals `dir` with a pinned time and returns the parsed dist manifest.
pub fn seal(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let d = dir.to_str().unwrap();
    let mut args = vec![
        "release",
        "seal",
        d,
        "--time",
        "2026-01-02T03:04:05Z",
        "--tag",
        "v1.0.0",
    ];
    args.extend_from_slice(extra);
    let out = vouch(dir, &args);
    assert_eq!(code(&out), 0, "seal failed: {}", stderr(&out));
    serde_json::from_slice(&std::fs::read(dir.join("dist-manifest.json")).unwrap()).unwrap()
}
