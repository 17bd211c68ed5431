//! Child processes in tests: a command's success, with its output in the failure, a guard
//! that kills a child on drop, and the workspace's pinned Python venv.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// The command (`what` names it) succeeded; otherwise the failure shows its exit code,
/// stdout and stderr.
#[track_caller]
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates (once; concurrent callers wait on its lock) the Python venv of
/// `scripts/py-venv.sh`, with sigstore-python, pypi-attestations, python-tuf and the
/// other pinned packages; answers its `python`.
#[track_caller]
pub fn py_venv() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/py-venv.sh"))
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("running scripts/py-venv.sh: {e}"));
    assert_success(&out, "scripts/py-venv.sh");
    root.join("target/py-venv/bin/python")
}

/// A child process killed and reaped when this is dropped, however the test ends (a
/// server, a registry, a node); it derefs to the [`Child`].
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for ChildGuard {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}
