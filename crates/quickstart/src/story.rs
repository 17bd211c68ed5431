//! The steps of the story, in order, each run as the `vouch` command a user would type.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::{failed, Context, Event, Result, Server, Step};

/// A real public-good Sigstore bundle (a conda package signed from GitHub Actions),
/// shipped in the binary so the demo needs no network. SOURCE:
/// crates/verify/tests/data/real-world/SOURCE.
const SAMPLE_BUNDLE: &[u8] =
    include_bytes!("../../verify/tests/data/real-world/conda.sigstore.json");
const SAMPLE_ARTIFACT: &[u8] =
    include_bytes!("../../verify/tests/data/real-world/signed-package-2.1.0-hb0f4dca_0.conda");
const SAMPLE_ARTIFACT_NAME: &str = "signed-package-2.1.0-hb0f4dca_0.conda";
const SAMPLE_IDENTITY: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";
const SAMPLE_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The sample package the registry half of the story publishes.
const SAMPLE_PACKAGE: &str = "@quickstart/hello";
const SAMPLE_REPO: &str = "quickstart/hello";
const SAMPLE_WORKFLOW: &str = ".github/workflows/release.yml";
const OTHER_WORKFLOW: &str = ".github/workflows/untrusted.yml";

/// Plain-text output shown per command; JSON answers are always shown whole.
const MAX_TEXT_LINES: usize = 12;

pub(crate) struct Story<'a> {
    pub exe: &'a Path,
    pub dir: &'a Path,
    pub server: &'a Server,
    pub steps: Vec<Step>,
    pub on: &'a mut dyn FnMut(Event),
}

/// What one `vouch` run did: its exit status and the `error[CODE]` it printed, if any.
/// The report carries these observations, never a verdict the story assumed.
struct Observed {
    exit: i32,
    code: Option<String>,
    stdout: String,
    stderr: String,
}

impl Observed {
    fn verdict(&self) -> Value {
        json!({ "exit": self.exit, "code": self.code })
    }
}

/// The code of the first `error[CODE]: ...` line on stderr.
fn error_code(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|line| {
        let rest = line.strip_prefix("error[")?;
        let (code, _) = rest.split_once("]: ")?;
        Some(code.to_owned())
    })
}

/// Splits a command's output into pieces to show: a JSON document whole, plain text
/// up to [`MAX_TEXT_LINES`] lines with a note of how many were left out.
#[allow(
    clippy::indexing_slicing,
    reason = "the end is min(lines.len(), MAX_TEXT_LINES)"
)]
fn shown(text: &str) -> Option<String> {
    let text = text.trim_end();
    if text.is_empty() {
        return None;
    }
    if serde_json::from_str::<Value>(text).is_ok() {
        return Some(text.to_owned());
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[..lines.len().min(MAX_TEXT_LINES)].join("\n");
    if lines.len() > MAX_TEXT_LINES {
        out.push_str(&format!(
            "\n... ({} more lines)",
            lines.len() - MAX_TEXT_LINES
        ));
    }
    Some(out)
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .context("temporary path is not UTF-8")
}

fn parse(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).context(what)
}

impl Story<'_> {
    fn say(&mut self, text: impl Into<String>) {
        (self.on)(Event::Say(text.into()));
    }

    fn step(&mut self, name: &'static str, detail: Value) {
        self.steps.push(Step { name, detail });
    }

    /// Runs `vouch ARGS` and records what happened, whatever the exit status.
    fn observe(&mut self, args: &[&str], shown_as: Option<&str>) -> Result<Observed> {
        let line = shown_as.map_or_else(|| format!("vouch {}", args.join(" ")), str::to_owned);
        (self.on)(Event::Command(line));
        let out = Command::new(self.exe)
            .args(args)
            .current_dir(self.dir)
            .output()
            .context(&format!(
                "running vouch {}",
                args.first().copied().unwrap_or_default()
            ))?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        Ok(Observed {
            // A signal has no exit status; -1 never matches an expected one.
            exit: out.status.code().unwrap_or(-1),
            code: error_code(&stderr),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        })
    }

    /// Runs `vouch ARGS`, which must exit `expect_exit`; shows what it printed.
    fn vouch_full(&mut self, args: &[&str], expect_exit: i32) -> Result<Observed> {
        let seen = self.observe(args, None)?;
        if seen.exit != expect_exit {
            return Err(failed(format!(
                "quickstart step `vouch {}` exited {}, expected {expect_exit}: {}",
                args.join(" "),
                seen.exit,
                seen.stderr.trim()
            )));
        }
        for piece in [shown(&seen.stdout), shown(&seen.stderr)]
            .into_iter()
            .flatten()
        {
            (self.on)(Event::Output(piece));
        }
        Ok(seen)
    }

    /// Runs a step that must pass; returns its stdout.
    fn vouch(&mut self, args: &[&str]) -> Result<String> {
        self.vouch_full(args, 0).map(|o| o.stdout)
    }

    /// Runs a step that must pass (exit 0). Returns the observed verdict.
    fn passed(&mut self, args: &[&str]) -> Result<Value> {
        Ok(self.vouch_full(args, 0)?.verdict())
    }

    /// Runs a step that must be refused: exit 1 with exactly the error code `code`.
    fn refused(&mut self, args: &[&str], code: &str) -> Result<Value> {
        let seen = self.vouch_full(args, 1)?;
        if seen.code.as_deref() != Some(code) {
            return Err(failed(format!(
                "quickstart step `vouch {}` was refused with {}, expected {code}: {}",
                args.join(" "),
                seen.code.as_deref().unwrap_or("no error code"),
                seen.stderr.trim()
            )));
        }
        Ok(seen.verdict())
    }

    pub(crate) fn run(&mut self) -> Result<()> {
        let published = self.registry_story()?;
        self.log_story(&published)
    }

    /// Trusted publishing end to end: register, publish, fetch, audit, refuse.
    #[allow(
        clippy::indexing_slicing,
        reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
    )]
    fn registry_story(&mut self) -> Result<Value> {
        let url = self.server.url.clone();
        let owner_token = path_str(&self.dir.join("server").join("owner.token"))?;
        self.say(format!(
            "\n2. Register a trusted publisher: only {SAMPLE_REPO}'s {SAMPLE_WORKFLOW} may publish {SAMPLE_PACKAGE}\n   (the owner authenticates with the dev server's API token):"
        ));
        let reg = self.vouch(&[
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
        ])?;
        let reg = parse(&reg, "register --json")?;
        self.step("register", json!({ "binding": reg }));

        self.say("\n3. Publish from \"CI\": the dev issuer mints the workflow's OIDC token, the CA certifies\n   a fresh key for 10 minutes, the log records the signed SLSA provenance, the registry\n   checks the identity against the binding:");
        let project = self.dir.join("hello");
        write_sample_project(&project, "1.0.0")?;
        let token = self.dev_token(&url, SAMPLE_WORKFLOW, "hello.token")?;
        let p = path_str(&project)?;
        let published = self.vouch(&[
            "publish",
            &p,
            "--server",
            &url,
            "--identity-token-file",
            &token,
            "--json",
        ])?;
        let published = parse(&published, "publish --json")?;
        self.step("publish", published.clone());

        self.say("\n4. Fetch it as a consumer: digests, bundle, signer (exactly the binding) and log\n   inclusion are verified, then recorded in vouch.lock:");
        let spec = format!("{SAMPLE_PACKAGE}@1.0.0");
        let fetched = self.vouch(&[
            "fetch", &spec, "--server", &url, "--out", "packages", "--json",
        ])?;
        let fetched = parse(&fetched, "fetch --json")?;
        self.step("fetch", fetched);

        self.say("\n5. Audit the lockfile: every signature offline from the cached bundles, the CI gate,\n   and every entry re-proven against the log's current checkpoint:");
        let sigs = parse(
            &self.vouch(&["audit", "signatures", "--json"])?,
            "audit --json",
        )?;
        self.vouch(&["lock", "--check", "--strict-sigstore"])?;
        let tlog = parse(
            &self.vouch(&["audit", "transparency", "--json"])?,
            "audit --json",
        )?;
        self.step(
            "audit",
            json!({ "verified": sigs["verified"], "transparency_ok": tlog["ok"] }),
        );

        self.say(format!(
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
            vouch_package::publish_codes::IDENTITY_MISMATCH,
        )?;
        self.step(
            "refused",
            json!({ "publish": refused, "workflow": OTHER_WORKFLOW }),
        );
        Ok(published)
    }

    /// Mints a dev OIDC token for the sample repository and `workflow` into `file`.
    fn dev_token(&mut self, url: &str, workflow: &str, file: &str) -> Result<String> {
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
        // The token itself is not shown: it is a (short-lived) credential.
        let shown_as = format!("vouch {} > {file}", args.join(" "));
        let seen = self.observe(&args, Some(&shown_as))?;
        if seen.exit != 0 {
            return Err(failed(format!(
                "quickstart step `vouch {}` exited {}, expected 0: {}",
                args.join(" "),
                seen.exit,
                seen.stderr.trim()
            )));
        }
        let path = self.dir.join(file);
        std::fs::write(&path, seen.stdout.trim()).context("writing the token")?;
        path_str(&path)
    }

    /// The log and offline-verification half of the story.
    fn log_story(&mut self, published: &Value) -> Result<()> {
        let base = self.server.url.clone();
        let log_url = format!("{base}/log");
        let vkey = self.server.vkey.clone();
        let token = std::fs::read_to_string(self.dir.join("server").join("internal.token"))
            .context("reading the dev server's internal token")?;

        self.say("\n7. Append entries to the transparency log through the server's internal endpoint (the\n   one its own services use); each is acknowledged only once durable:");
        let mut indexes = Vec::new();
        let mut last_entry = String::new();
        for i in 0..5 {
            let entry = format!("quickstart entry {i}: release v1.{i}.0 observed");
            let file = format!("entry-{i}.txt");
            std::fs::write(self.dir.join(&file), &entry).context("writing an entry")?;
            (self.on)(Event::Command(format!(
                "curl -sS -H \"Authorization: Bearer $(cat server/internal.token)\" --data-binary @{file} {log_url}/internal/add-entry"
            )));
            let index = add_entry(&log_url, token.trim(), &entry)?;
            (self.on)(Event::Output(json!({ "index": index }).to_string()));
            indexes.push(index);
            last_entry = entry;
        }
        self.step("append", json!({ "indexes": indexes }));

        self.say("\n8. Fetch and verify the signed checkpoint with the log's public key:");
        let cp = self.vouch(&["log", "checkpoint", "--url", &log_url, "--key", &vkey])?;
        self.step("checkpoint", json!({ "output": cp.trim() }));

        let last = *indexes.last().context("no entries appended")?;
        let entry_file = self.dir.join("entry.txt");
        std::fs::write(&entry_file, &last_entry).context("writing the entry")?;
        self.say(
            "\n9. Write an offline proof file for the last entry, then verify it with no network:",
        );
        let proof = self.vouch(&[
            "log",
            "proof",
            &last.to_string(),
            "--url",
            &log_url,
            "--key",
            &vkey,
        ])?;
        let proof_file = self.dir.join("entry.tlog-proof");
        std::fs::write(&proof_file, &proof).context("writing the proof")?;
        let (pf, ef) = (path_str(&proof_file)?, path_str(&entry_file)?);
        let verified =
            self.passed(&["log", "verify-proof", &pf, "--entry", &ef, "--key", &vkey])?;
        let forged_file = self.dir.join("forged-entry.txt");
        std::fs::write(&forged_file, "a forged entry").context("writing the forged entry")?;
        let ff = path_str(&forged_file)?;
        self.say("  and a forged entry (forged-entry.txt) against the same proof is refused (LOG_E002, exit 1):");
        let forgery = self.refused(
            &["log", "verify-proof", &pf, "--entry", &ff, "--key", &vkey],
            vouch_tiles_client::ops::LOG_PROOF_INVALID,
        )?;
        self.step(
            "proof",
            json!({ "index": last, "verify": verified, "forgery": forgery }),
        );

        self.say("\n10. Verify a real public-good Sigstore bundle offline (a conda package signed in GitHub Actions):");
        let bundle = self.dir.join("conda.sigstore.json");
        let artifact = self.dir.join(SAMPLE_ARTIFACT_NAME);
        std::fs::write(&bundle, SAMPLE_BUNDLE).context("writing the sample bundle")?;
        std::fs::write(&artifact, SAMPLE_ARTIFACT).context("writing the sample artifact")?;
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
            vouch_verify::VerifyError::IDENTITY_MISMATCH_CODE,
        )?;
        self.step("sigstore", json!({ "identity": SAMPLE_IDENTITY, "verify": verified, "other_identity": other_identity }));

        self.say(
            "\n11. Seal a release directory and check it (the files also pass `sha256sum -c`):",
        );
        let rel = self.dir.join("release");
        std::fs::create_dir_all(&rel).context("creating the release directory")?;
        let files = [
            ("app-1.0.0-linux-x86_64.tar.gz", sample_bytes(1 << 20, 1)),
            ("app-1.0.0.tar.gz", sample_bytes(256 << 10, 2)),
        ];
        for (name, bytes) in files {
            std::fs::write(rel.join(name), bytes).context("writing a release file")?;
        }
        let r = path_str(&rel)?;
        self.vouch(&["release", "seal", &r, "--tag", "v1.0.0"])?;
        let sums = path_str(&rel.join("SHA256SUMS"))?;
        let verified = self.passed(&["verify", "checksums", "--sums", &sums])?;
        self.step("release", json!({ "dir": r, "verify": verified }));

        let index_url = published["index_url"].as_str().unwrap_or_default();
        let bundle_url = published["bundle_url"].as_str().unwrap_or_default();
        self.say(format!(
            "\nURLs served by this run (--keep leaves the server running):\n  \
             {base}/packages/{SAMPLE_PACKAGE}/1.0.0 (the version's page)\n  \
             {index_url} (its index entry)\n  \
             {bundle_url} (its Sigstore bundle)\n  \
             {base}/api/v1/packages/{SAMPLE_PACKAGE}/1.0.0/integrity (the registry's signed record)\n  \
             {base}/api/v1/packages/{SAMPLE_PACKAGE} (every version)\n  \
             {base}/api/v1/packages/{SAMPLE_PACKAGE}/publishers (its trusted publishers)\n  \
             {base}/.well-known/registry-key.json (the registry's key set)\n  \
             {base}/api/v1/trust-config (for sigstore-python --trust-config)\n  \
             {base}/api/v1/openapi.json\n  \
             {log_url}/checkpoint\n  \
             {base}/admin/login (admin token in the server's data directory: admin.token)"
        ));
        Ok(())
    }
}

/// Writes the tiny sample project (`vouch.toml` plus two files) at `version`.
fn write_sample_project(dir: &Path, version: &str) -> Result<()> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).context("writing the sample project")
    };
    std::fs::create_dir_all(dir.join("src")).context("creating the sample project")?;
    write(&dir.join("vouch.toml"), format!(
        "[package]\nname = \"{SAMPLE_PACKAGE}\"\nversion = \"{version}\"\ndescription = \"vouch quickstart sample\"\nlicense = \"Apache-2.0\"\nexclude = [\"*.log\"]\n"
    ))?;
    write(
        &dir.join("README.md"),
        "# hello\n\nPublished by `vouch quickstart`.\n".into(),
    )?;
    write(
        &dir.join("src/hello.txt"),
        format!("hello from {version}\n"),
    )?;
    write(&dir.join("build.log"), "excluded by vouch.toml\n".into())
}

/// What the shown `curl` command does: the log's internal add-entry request.
#[allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value's Index answers Null for a missing key or another type; it never panics"
)]
fn add_entry(log_url: &str, token: &str, entry: &str) -> Result<u64> {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{log_url}/internal/add-entry"))
        .bearer_auth(token)
        .body(entry.to_owned())
        .send()
        .context("adding an entry to the log")?;
    let status = resp.status();
    let body = resp.bytes().context("reading the add-entry answer")?;
    let body: Value = serde_json::from_slice(&body).context("reading the add-entry answer")?;
    if !status.is_success() {
        return Err(failed(format!("add-entry answered {status}: {body}")));
    }
    body["index"]
        .as_u64()
        .context("add-entry answered without an index")
}

/// Deterministic filler bytes for the sample release (no randomness needed).
fn sample_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::shown;

    /// Regression (issue 15, item 7): the narration cut JSON answers after 12 lines.
    #[test]
    fn json_is_shown_whole_and_text_is_shortened_with_a_note() {
        let long_json = serde_json::to_string_pretty(&serde_json::json!({
            "a": (0..40).collect::<Vec<_>>(), "b": {"c": 1}
        }))
        .unwrap();
        assert!(long_json.lines().count() > 40);
        assert_eq!(shown(&long_json).as_deref(), Some(long_json.as_str()));
        let text: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let out = shown(&text).unwrap();
        assert_eq!(out.lines().count(), 13);
        assert!(out.ends_with("... (8 more lines)"), "{out}");
        assert_eq!(shown("  \n"), None);
    }
}
