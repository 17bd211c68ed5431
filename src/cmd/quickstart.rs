//! `vouch quickstart`: the README's main job. Runs the whole story end to end on
//! embedded defaults, in a temporary directory, by invoking the real subcommands as a
//! user would (each command is printed before it runs): a dev server (SQLite, local
//! blobs), a trusted-publisher binding, a publish with a dev OIDC token, a verified
//! fetch into a lockfile, both lockfile audits, a refused publish (wrong workflow), then
//! the log's proofs, a real public-good Sigstore bundle and a sealed release.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

use crate::output::{print_json, CodedError, Exit};

/// A real public-good Sigstore bundle (a conda package signed from GitHub Actions),
/// shipped in the binary so the demo needs no network. SOURCE:
/// crates/verify/tests/data/real-world/SOURCE.
const SAMPLE_BUNDLE: &[u8] =
    include_bytes!("../../crates/verify/tests/data/real-world/conda.sigstore.json");
const SAMPLE_ARTIFACT: &[u8] = include_bytes!(
    "../../crates/verify/tests/data/real-world/signed-package-2.1.0-hb0f4dca_0.conda"
);
const SAMPLE_ARTIFACT_NAME: &str = "signed-package-2.1.0-hb0f4dca_0.conda";
const SAMPLE_IDENTITY: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";
const SAMPLE_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The sample package the registry half of the story publishes.
const SAMPLE_PACKAGE: &str = "@quickstart/hello";
const SAMPLE_REPO: &str = "quickstart/hello";
const SAMPLE_WORKFLOW: &str = ".github/workflows/release.yml";
const OTHER_WORKFLOW: &str = ".github/workflows/untrusted.yml";

/// Writes the tiny sample project (`vouch.toml` plus two files) at `version`.
fn write_sample_project(dir: &Path, version: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("vouch.toml"),
        format!(
            "[package]\nname = \"{SAMPLE_PACKAGE}\"\nversion = \"{version}\"\ndescription = \"vouch quickstart sample\"\nlicense = \"Apache-2.0\"\nexclude = [\"*.log\"]\n"
        ),
    )?;
    std::fs::write(
        dir.join("README.md"),
        "# hello\n\nPublished by `vouch quickstart`.\n",
    )?;
    std::fs::write(dir.join("src/hello.txt"), format!("hello from {version}\n"))?;
    std::fs::write(dir.join("build.log"), "excluded by vouch.toml\n")?;
    Ok(())
}

/// Run the whole story on embedded defaults: a dev server, a trusted publisher, a
/// publish from "CI" with a dev OIDC token, a verified fetch into vouch.lock, the
/// signature and transparency audits, a refused publish from another workflow
/// (PUB_E006), the log's proofs, a real Sigstore bundle and a sealed release.
///
/// Everything happens in a fresh temporary directory (removed at the end unless
/// --keep). Exit 0 only if every step checked out.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Leave the server running (and the directory in place) after the demo; stop it
    /// with Ctrl-C.
    #[arg(long)]
    keep: bool,
    /// Print one JSON object summarising the steps instead of the narration.
    #[arg(long)]
    json: bool,
}

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    quiet: bool,
    steps: Vec<serde_json::Value>,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let exe = std::env::current_exe().context("locating the vouch binary")?;
    let dir = tempfile::Builder::new()
        .prefix("vouch-quickstart-")
        .tempdir()
        .context("creating a temporary directory")?;
    let mut demo = Demo {
        exe,
        dir: dir.path().to_owned(),
        quiet: args.json,
        steps: Vec::new(),
    };
    let mut server = demo.start_server()?;
    forward_stop_signals(server.child.id())?;
    let result = demo.story(&server);
    let ok = result.is_ok();
    if args.keep && ok {
        let dir = dir.keep();
        demo.say(&format!(
            "\nThe server keeps running at {} with its data in {}. Ctrl-C stops it.",
            server.url,
            dir.display()
        ));
        let _ = server.child.wait();
    } else {
        let _ = server.child.kill();
        let _ = server.child.wait();
    }
    SERVER_REAPED.store(true, std::sync::atomic::Ordering::Release);
    result?;
    if args.json {
        // `ok` is what the story observed: every step held (an error returned above).
        print_json(&serde_json::json!({ "ok": ok, "steps": demo.steps }))?;
    } else {
        demo.say("\nAll checks held.");
    }
    Ok(Exit::Ok)
}

/// Set once the main thread has waited for the server child.
static SERVER_REAPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stops the server child when quickstart itself is told to stop.
///
/// SIGINT from a terminal reaches the whole foreground process group, but SIGTERM (a
/// supervisor, `kill`, a CI timeout) reaches quickstart alone: left to its default
/// action it would end quickstart and orphan `vouch serve` (issue 12). A thread waits
/// for either signal and passes SIGTERM on to the child, which drains and exits; the
/// main thread, waiting on the child, then finishes normally (temporary directory
/// removed unless --keep). A child that has not exited after 10 seconds is killed.
fn forward_stop_signals(child: u32) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the signal watcher")?;
    // Registered here, before returning, so no signal can slip in unobserved.
    let (mut term, mut int) = rt
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })
        .context("installing the SIGTERM/SIGINT handlers")?;
    let pid = rustix::process::Pid::from_raw(child as i32)
        .context("the server child has no valid process id")?;
    std::thread::Builder::new()
        .name("quickstart-signals".into())
        .spawn(move || {
            rt.block_on(async {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            std::thread::sleep(std::time::Duration::from_secs(10));
            // Still running after the grace period: force it, unless the main thread
            // has reaped it (its pid could then belong to another process).
            if !SERVER_REAPED.load(std::sync::atomic::Ordering::Acquire) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        })
        .context("starting the signal watcher")?;
    Ok(())
}

struct Server {
    child: Child,
    url: String,
    /// The log's verifier key, as the server announced it.
    vkey: String,
}

/// What one `vouch` run did: its exit status and the `error[CODE]` it printed, if any.
/// The report carries these observations, never a verdict the demo assumed.
struct Observed {
    exit: i32,
    code: Option<String>,
    stdout: String,
    stderr: String,
}

impl Observed {
    fn verdict(&self) -> serde_json::Value {
        serde_json::json!({ "exit": self.exit, "code": self.code })
    }
}

/// The code of the first `error[CODE]: ...` line on stderr (see `output::report_error`).
fn error_code(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|line| {
        let rest = line.strip_prefix("error[")?;
        let (code, _) = rest.split_once("]: ")?;
        Some(code.to_owned())
    })
}

impl Demo {
    fn say(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }

    fn step(&mut self, name: &str, detail: serde_json::Value) {
        self.steps
            .push(serde_json::json!({ "step": name, "detail": detail }));
    }

    /// Runs `vouch ARGS`, printing the command line; returns stdout. `expect_exit`
    /// is the exit status the step requires.
    fn vouch(&self, args: &[&str], expect_exit: i32) -> anyhow::Result<String> {
        self.vouch_full(args, expect_exit).map(|o| o.stdout)
    }

    /// Like [`Demo::vouch`], returning everything observed.
    fn vouch_full(&self, args: &[&str], expect_exit: i32) -> anyhow::Result<Observed> {
        let seen = self.observe(args)?;
        if seen.exit != expect_exit {
            bail!(CodedError::new(
                "CLI_E001",
                Exit::Error,
                format!(
                    "quickstart step `vouch {}` exited {}, expected {expect_exit}: {}",
                    args.join(" "),
                    seen.exit,
                    seen.stderr.trim()
                )
            ));
        }
        for line in seen.stdout.lines().chain(seen.stderr.lines()).take(12) {
            self.say(&format!("    {line}"));
        }
        Ok(seen)
    }

    /// Runs a step that must be refused: exit 1 (verification failed) with exactly the
    /// error code `code`. Returns the observed verdict for the JSON report.
    fn refused(&self, args: &[&str], code: &str) -> anyhow::Result<serde_json::Value> {
        let seen = self.vouch_full(args, Exit::VerifyFailed.as_i32())?;
        if seen.code.as_deref() != Some(code) {
            bail!(CodedError::new(
                "CLI_E001",
                Exit::Error,
                format!(
                    "quickstart step `vouch {}` was refused with {}, expected {code}: {}",
                    args.join(" "),
                    seen.code.as_deref().unwrap_or("no error code"),
                    seen.stderr.trim()
                )
            ));
        }
        Ok(seen.verdict())
    }

    /// Runs a step that must pass (exit 0). Returns the observed verdict.
    fn passed(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        Ok(self.vouch_full(args, Exit::Ok.as_i32())?.verdict())
    }

    /// Runs `vouch ARGS` and records what happened, whatever the exit status.
    fn observe(&self, args: &[&str]) -> anyhow::Result<Observed> {
        self.say(&format!("  $ vouch {}", args.join(" ")));
        let out = Command::new(&self.exe)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .with_context(|| format!("running vouch {}", args[0]))?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        Ok(Observed {
            // A signal has no exit status; -1 never matches an expected one.
            exit: out.status.code().unwrap_or(-1),
            code: error_code(&stderr),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        })
    }

    fn start_server(&mut self) -> anyhow::Result<Server> {
        let data = self.dir.join("server");
        self.say("1. Start a development server: SQLite metadata, blobs and log tiles on local disk, and its\n   own OIDC issuer, certificate authority, transparency log and timestamp authority:");
        self.say(&format!(
            "  $ vouch serve --dev --listen 127.0.0.1:0 --data {}",
            data.display()
        ));
        let mut child = Command::new(&self.exe)
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting vouch serve")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut next_line = |what: &str| -> anyhow::Result<String> {
            match lines.next() {
                Some(Ok(line)) => Ok(line),
                _ => bail!("vouch serve did not report its {what}"),
            }
        };
        let (url, vkey) = match (next_line("address"), next_line("log key")) {
            (Ok(a), Ok(k)) => (a, k),
            (Err(e), _) | (_, Err(e)) => {
                let _ = child.kill();
                return Err(e);
            }
        };
        let (Some(url), Some(vkey)) = (
            url.trim().strip_prefix("listening on "),
            vkey.trim().strip_prefix("log key "),
        ) else {
            let _ = child.kill();
            bail!("vouch serve printed an unexpected banner: {url:?} {vkey:?}");
        };
        let (url, vkey) = (url.to_owned(), vkey.to_owned());
        self.say(&format!("    listening on {url}\n    log key {vkey}"));
        self.step("serve", serde_json::json!({ "url": url, "log_key": vkey }));
        Ok(Server { child, url, vkey })
    }

    fn story(&mut self, server: &Server) -> anyhow::Result<()> {
        self.registry_story(server)?;
        self.log_story(server)
    }

    /// Trusted publishing end to end: register, publish, fetch, audit, refuse.
    fn registry_story(&mut self, server: &Server) -> anyhow::Result<()> {
        let url = server.url.clone();
        let owner_token = path_str(&self.dir.join("server").join("owner.token"))?;
        self.say(&format!(
            "\n2. Register a trusted publisher: only {SAMPLE_REPO}'s {SAMPLE_WORKFLOW} may publish {SAMPLE_PACKAGE}\n   (the owner authenticates with the dev server's API token):"
        ));
        let reg = self.vouch(
            &[
                "publish",
                "register",
                "--server",
                &url,
                "--token-file",
                &owner_token,
                "--package",
                SAMPLE_PACKAGE,
                "--provider",
                "github",
                "--repo",
                SAMPLE_REPO,
                "--workflow",
                SAMPLE_WORKFLOW,
                "--json",
            ],
            0,
        )?;
        let reg: serde_json::Value = serde_json::from_str(&reg).context("register --json")?;
        self.step("register", serde_json::json!({ "binding": reg }));

        self.say("\n3. Publish from \"CI\": the dev issuer mints the workflow's OIDC token, the CA certifies\n   a fresh key for 10 minutes, the log records the signed SLSA provenance, the registry\n   checks the identity against the binding:");
        let project = self.dir.join("hello");
        write_sample_project(&project, "1.0.0")?;
        let token = self.dev_token(&url, SAMPLE_WORKFLOW, "hello.token")?;
        let p = path_str(&project)?;
        let published = self.vouch(
            &[
                "publish",
                &p,
                "--server",
                &url,
                "--identity-token-file",
                &token,
                "--json",
            ],
            0,
        )?;
        let published: serde_json::Value =
            serde_json::from_str(&published).context("publish --json")?;
        self.step("publish", published.clone());

        self.say("\n4. Fetch it as a consumer: digests, bundle, signer (exactly the binding) and log\n   inclusion are verified, then recorded in vouch.lock:");
        let spec = format!("{SAMPLE_PACKAGE}@1.0.0");
        let fetched = self.vouch(
            &[
                "fetch", &spec, "--server", &url, "--out", "packages", "--json",
            ],
            0,
        )?;
        let fetched: serde_json::Value = serde_json::from_str(&fetched).context("fetch --json")?;
        self.step("fetch", fetched);

        self.say("\n5. Audit the lockfile: every signature offline from the cached bundles, the CI gate,\n   and every entry re-proven against the log's current checkpoint:");
        let sigs = self.vouch(&["audit", "signatures", "--json"], 0)?;
        let sigs: serde_json::Value = serde_json::from_str(&sigs).context("audit --json")?;
        self.vouch(&["lock", "--check", "--strict-sigstore"], 0)?;
        let tlog = self.vouch(&["audit", "transparency", "--json"], 0)?;
        let tlog: serde_json::Value = serde_json::from_str(&tlog).context("audit --json")?;
        self.step(
            "audit",
            serde_json::json!({ "verified": sigs["verified"], "transparency_ok": tlog["ok"] }),
        );

        self.say(&format!(
            "\n6. A publish from another workflow ({OTHER_WORKFLOW}) is refused (PUB_E006, exit 1):"
        ));
        let other = self.dir.join("hello-next");
        write_sample_project(&other, "1.0.1")?;
        let token = self.dev_token(&url, OTHER_WORKFLOW, "other.token")?;
        let o = path_str(&other)?;
        let refused = self.refused(
            &[
                "publish",
                &o,
                "--server",
                &url,
                "--identity-token-file",
                &token,
            ],
            "PUB_E006",
        )?;
        self.step(
            "refused",
            serde_json::json!({ "publish": refused, "workflow": OTHER_WORKFLOW }),
        );
        self.say(&format!(
            "\nRegistry URLs:\n  {}\n  {url}/api/v1/packages/{SAMPLE_PACKAGE}\n  {url}/api/v1/packages/{SAMPLE_PACKAGE}/publishers\n  {}\n  {url}/api/v1/trust-config\n  {url}/api/v1/openapi.json",
            published["index_url"].as_str().unwrap_or_default(),
            published["bundle_url"].as_str().unwrap_or_default(),
        ));
        Ok(())
    }

    /// Mints a dev OIDC token for the sample repository and `workflow` into `file`.
    fn dev_token(&self, url: &str, workflow: &str, file: &str) -> anyhow::Result<String> {
        let args = [
            "dev",
            "token",
            "--server",
            url,
            "--repository",
            SAMPLE_REPO,
            "--workflow",
            workflow,
            "--ref",
            "refs/heads/main",
        ];
        // The token itself is not echoed: it is a (short-lived) credential.
        let quiet = Demo {
            exe: self.exe.clone(),
            dir: self.dir.clone(),
            quiet: true,
            steps: Vec::new(),
        };
        self.say(&format!("  $ vouch {} > {file}", args.join(" ")));
        let token = quiet.vouch(&args, 0)?;
        let path = self.dir.join(file);
        std::fs::write(&path, token.trim())?;
        path_str(&path)
    }

    /// The log and offline-verification half of the story.
    fn log_story(&mut self, server: &Server) -> anyhow::Result<()> {
        let data = self.dir.join("server");
        let log_url = format!("{}/log", server.url);
        let vkey = server.vkey.clone();
        let token = std::fs::read_to_string(data.join("internal.token"))
            .context("reading the dev server's internal token")?;

        self.say(
            "\n7. Append entries to the transparency log; each is acknowledged only once durable:",
        );
        let entries: Vec<String> = (0..5)
            .map(|i| format!("quickstart entry {i}: release v1.{i}.0 observed"))
            .collect();
        let mut indexes = Vec::new();
        for entry in &entries {
            indexes.push(add_entry(&log_url, token.trim(), entry)?);
        }
        self.say(&format!("    acknowledged indexes {indexes:?}"));
        self.step("append", serde_json::json!({ "indexes": indexes }));

        self.say("\n8. Fetch and verify the signed checkpoint with the log's public key:");
        let cp = self.vouch(&["log", "checkpoint", "--url", &log_url, "--key", &vkey], 0)?;
        self.step("checkpoint", serde_json::json!({ "output": cp.trim() }));

        let last = *indexes.last().context("no entries appended")?;
        let entry_file = self.dir.join("entry.txt");
        std::fs::write(&entry_file, entries.last().context("no entries")?)?;
        self.say(
            "\n9. Write an offline proof file for the last entry, then verify it with no network:",
        );
        let proof = self.vouch(
            &[
                "log",
                "proof",
                &last.to_string(),
                "--url",
                &log_url,
                "--key",
                &vkey,
            ],
            0,
        )?;
        let proof_file = self.dir.join("entry.tlog-proof");
        std::fs::write(&proof_file, &proof)?;
        let (pf, ef) = (path_str(&proof_file)?, path_str(&entry_file)?);
        let verified =
            self.passed(&["log", "verify-proof", &pf, "--entry", &ef, "--key", &vkey])?;
        std::fs::write(&entry_file, "a forged entry")?;
        self.say("  and a forged entry against the same proof is refused (LOG_E002, exit 1):");
        let forgery = self.refused(
            &["log", "verify-proof", &pf, "--entry", &ef, "--key", &vkey],
            "LOG_E002",
        )?;
        self.step(
            "proof",
            serde_json::json!({ "index": last, "verify": verified, "forgery": forgery }),
        );

        self.say("\n10. Verify a real public-good Sigstore bundle offline (a conda package signed in GitHub Actions):");
        let bundle = self.dir.join("conda.sigstore.json");
        let artifact = self.dir.join(SAMPLE_ARTIFACT_NAME);
        std::fs::write(&bundle, SAMPLE_BUNDLE)?;
        std::fs::write(&artifact, SAMPLE_ARTIFACT)?;
        let (b, a) = (path_str(&bundle)?, path_str(&artifact)?);
        let verified = self.passed(&[
            "verify",
            &a,
            "--bundle",
            &b,
            "--certificate-identity",
            SAMPLE_IDENTITY,
            "--certificate-oidc-issuer",
            SAMPLE_ISSUER,
        ])?;
        self.say("  and the same bundle with another expected identity is refused (VERIFY_E024, exit 1):");
        let other_identity = self.refused(
            &[
                "verify", &a, "--bundle", &b,
                "--certificate-identity", "https://github.com/someone-else/repo/.github/workflows/release.yml@refs/heads/main",
                "--certificate-oidc-issuer", SAMPLE_ISSUER,
            ],
            "VERIFY_E024",
        )?;
        self.step("sigstore", serde_json::json!({ "identity": SAMPLE_IDENTITY, "verify": verified, "other_identity": other_identity }));

        self.say(
            "\n11. Seal a release directory and check it (the files also pass `sha256sum -c`):",
        );
        let rel = self.dir.join("release");
        std::fs::create_dir_all(&rel)?;
        std::fs::write(
            rel.join("app-1.0.0-linux-x86_64.tar.gz"),
            sample_bytes(1 << 20, 1),
        )?;
        std::fs::write(rel.join("app-1.0.0.tar.gz"), sample_bytes(256 << 10, 2))?;
        let r = path_str(&rel)?;
        self.vouch(&["release", "seal", &r, "--tag", "v1.0.0"], 0)?;
        let sums = path_str(&rel.join("SHA256SUMS"))?;
        let verified = self.passed(&["verify", "checksums", "--sums", &sums])?;
        self.step(
            "release",
            serde_json::json!({ "dir": r, "verify": verified }),
        );

        let base = &server.url;
        self.say(&format!(
            "\nURLs served by this run (--keep leaves the server running):\n  \
             {base}/packages/{SAMPLE_PACKAGE}/1.0.0 (the version's page)\n  \
             {base}/api/v1/packages/{SAMPLE_PACKAGE}/1.0.0 (its index entry)\n  \
             {base}/api/v1/packages/{SAMPLE_PACKAGE}/1.0.0/integrity (the registry's signed record)\n  \
             {base}/.well-known/registry-key.json (the registry's key set)\n  \
             {base}/api/v1/trust-config (for sigstore-python --trust-config)\n  \
             {base}/api/v1/openapi.json\n  \
             {log_url}/checkpoint\n  \
             {base}/admin/login (admin token in the server's data directory: admin.token)"
        ));
        Ok(())
    }
}

fn add_entry(log_url: &str, token: &str, entry: &str) -> anyhow::Result<u64> {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{log_url}/internal/add-entry"))
        .bearer_auth(token)
        .body(entry.to_owned())
        .send()
        .context("adding an entry to the log")?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().context("reading the add-entry answer")?;
    if !status.is_success() {
        bail!("add-entry answered {status}: {body}");
    }
    body["index"]
        .as_u64()
        .context("add-entry answered without an index")
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_owned)
        .context("temporary path is not UTF-8")
}

/// Deterministic filler bytes for the sample release (no randomness needed).
fn sample_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
