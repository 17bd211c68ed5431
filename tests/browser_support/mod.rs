//! Shared by the tests that drive Debian's headless Chromium through tests/web's pinned playwright-core: Chromium installed when missing (as root), and a private copy of the driver's package with one script.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const CHROMIUM: &str = "/usr/bin/chromium";

fn ok_status(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Installs Chromium from Debian when it is missing (root only), then copies tests/web's
/// package files and `script` into `target/NAME-web` and runs `npm ci` there once: each
/// test has its own copy, so none races another's (or tests/web_browser.rs's) `npm ci`.
/// Answers that directory. `test` names the caller in failure messages.
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
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let web = root.join("target").join(dir_name);
    std::fs::create_dir_all(&web).unwrap();
    for f in ["package.json", "package-lock.json", script] {
        std::fs::copy(root.join("tests/web").join(f), web.join(f)).unwrap();
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
