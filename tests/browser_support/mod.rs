//! Shared by the tests that drive Debian's headless Chromium through tests/web's pinned playwright-core: Chromium installed when missing (as root), and a private copy of the driver's package with one script.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Variables that would make `vouch` use a CI provider's identity token.
pub const CI_TOKEN_VARS: [&str; 7] = [
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITLAB_CI",
    "SIGSTORE_ID_TOKEN",
    "BUILDKITE",
    "CIRCLECI",
];

/// `target/NAME`, where [`ensure_browser`] puts a test's copy of the driver.
pub fn web_dir(dir_name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(dir_name)
}

fn ok_status(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Installs Chromium from Debian when it is missing (root only), then copies tests/web's
/// package files, the shared page.mjs and `script` into `target/NAME-web` and runs
/// `npm ci` there once: each test has its own copy, so none races another's (or
/// tests/web_browser.rs's) `npm ci`. Answers that directory. `test` names the caller in
/// failure messages.
pub fn ensure_browser(test: &str, dir_name: &str, script: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0),
            "{test} needs {CHROMIUM} (apt-get install chromium needs root; .ci/run installs it)"
        );
        let apt = |args: &[&str]| {
            ok_status(
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )
        };
        assert!(
            apt(&["update", "-qq"])
                && apt(&[
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "chromium"
                ]),
            "{test}: apt-get install chromium failed"
        );
    }
    let web = web_dir(dir_name);
    std::fs::create_dir_all(&web).unwrap();
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    for f in ["package.json", "package-lock.json", "page.mjs", script] {
        std::fs::copy(sources.join(f), web.join(f)).unwrap();
    }
    assert!(
        web.join("node_modules/playwright-core").exists()
            || ok_status(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&web)
                    .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                    .stdout(Stdio::null()),
            ),
        "{test}: `npm ci` of tests/web's package-lock.json failed"
    );
    web
}

/// Runs `script` of `target/DIR_NAME` (see [`ensure_browser`]) with node, `env` and
/// [`CHROMIUM`]: the JSON report it prints last, which says the page was driven to the
/// end (`ok`), else where it stopped.
pub fn run_script(dir_name: &str, script: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let web = web_dir(dir_name);
    let out = Command::new("node")
        .arg(web.join(script))
        .current_dir(&web)
        .envs(env.iter().copied())
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("browser script said {text:?}: {e}"));
    assert_eq!(
        r["ok"], true,
        "browser stopped at {}: {}",
        r["step"], r["error"]
    );
    r
}
