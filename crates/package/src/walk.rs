//! Walking a package tree: the files to pack, in archive order, refusing links and
//! special files.
//!
//! The walk never follows a symlink; a symlink or special file that the filter would
//! pack is refused rather than skipped, so the archive never silently differs from
//! what the owner sees in the tree.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::error::SpecialKind;
use crate::path::check_path;
use crate::{EntryInfo, Error, Filter};

/// Collects the files under `root` that `filter` selects, sorted by path bytes.
/// `skip` (the archive being written) is left out when it lies inside the tree.
pub(crate) fn collect(
    root: &Path,
    filter: &Filter,
    skip: Option<&Path>,
) -> Result<Vec<(EntryInfo, PathBuf)>, Error> {
    let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let skip = match skip {
        Some(p) => canonical_target(p),
        None => None,
    };
    let mut out = Vec::new();
    let mut stack = vec![(root.clone(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let full = entry.path();
            if skip.as_deref() == Some(full.as_path()) {
                continue;
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(Error::UnsafePath {
                    path: full.to_string_lossy().into_owned(),
                    problem: crate::error::PathProblem::NonUtf8,
                });
            };
            let rel = if rel_dir.is_empty() {
                name.to_owned()
            } else {
                format!("{rel_dir}/{name}")
            };
            let meta = fs::symlink_metadata(&full).map_err(|e| Error::io(&full, e))?;
            let ft = meta.file_type();
            if ft.is_dir() {
                if !filter.prunes_dir(&rel) {
                    stack.push((full, rel));
                }
                continue;
            }
            if !filter.includes_file(&rel) {
                continue;
            }
            if ft.is_symlink() {
                let target = fs::read_link(&full).map_err(|e| Error::io(&full, e))?;
                return Err(Error::SymlinkInTree { path: full, target });
            }
            if !ft.is_file() {
                return Err(Error::SpecialFileInTree {
                    kind: special_kind(&meta),
                    path: full,
                });
            }
            check_path(rel.as_bytes())?;
            let file = EntryInfo {
                path: rel,
                size: meta.len(),
                executable: is_executable(&meta),
            };
            out.push((file, full));
        }
    }
    if out.is_empty() {
        return Err(Error::EmptyPackage { root });
    }
    // `String`'s order is byte order, which is the documented archive order.
    out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    Ok(out)
}

/// The canonical path `p` has or will have: its parent canonicalized, its name kept.
fn canonical_target(p: &Path) -> Option<PathBuf> {
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(parent).ok()?.join(name))
}

#[cfg(unix)]
fn is_executable(meta: &Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &Metadata) -> bool {
    false
}

#[cfg(unix)]
fn special_kind(meta: &Metadata) -> SpecialKind {
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    if ft.is_char_device() {
        SpecialKind::CharDevice
    } else if ft.is_block_device() {
        SpecialKind::BlockDevice
    } else if ft.is_fifo() {
        SpecialKind::Fifo
    } else if ft.is_socket() {
        SpecialKind::Socket
    } else {
        SpecialKind::Other
    }
}

#[cfg(not(unix))]
fn special_kind(_meta: &Metadata) -> SpecialKind {
    SpecialKind::Other
}
