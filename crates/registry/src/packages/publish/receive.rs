//! Step 2 of a publish: the multipart body streamed into an archive (memory, or a file in DATA/tmp once large) and a bundle, hashed as it arrives; and the sweep of what crashed publishes left in DATA/tmp.

use std::path::PathBuf;

use axum::body::Body;
use tokio::io::AsyncWriteExt;

use super::super::codes;
use super::super::multipart::{Multipart, MultipartError};
use crate::{ApiError, AppState};

/// Archives up to this size stay in memory; larger ones spill to a temporary file.
const IN_MEMORY_ARCHIVE_MAX: usize = 1 << 20;

/// Where a received archive is held.
pub(super) enum Archive {
    Memory(bytes::Bytes),
    File(tempfile::NamedTempFile),
}

impl Archive {
    /// A fresh reader over the whole archive.
    pub(super) fn reader(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(match self {
            Archive::Memory(b) => Box::new(std::io::Cursor::new(b.clone())),
            Archive::File(f) => Box::new(std::io::BufReader::new(f.reopen()?)),
        })
    }
}

/// The upload after step 2.
pub(super) struct Upload {
    pub(super) archive: Archive,
    pub(super) sha256: [u8; 32],
    pub(super) blake3: [u8; 32],
    pub(super) size: u64,
    pub(super) bundle: Vec<u8>,
}

fn upload_dir(state: &AppState) -> PathBuf {
    state.data_dir.join("tmp")
}

/// Upload leftovers older than this are swept at start.
pub const STALE_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes what crashed publishes left in DATA/tmp: `upload-*` files (archives over
/// [`IN_MEMORY_ARCHIVE_MAX`]) and `inspect-*` directories (earlier versions extracted
/// archives there), when last modified more than `age` ago. They were never
/// referenced: a publish stores from them before its commit, and blobs are served only
/// through committed versions. The age keeps an upload in progress safe. Returns how
/// many entries were removed; a missing directory is nothing to sweep.
pub fn sweep_uploads(
    data_dir: &std::path::Path,
    age: std::time::Duration,
) -> std::io::Result<usize> {
    let dir = data_dir.join("tmp");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = std::time::SystemTime::now();
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let meta = entry.metadata()?;
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|d| d > age);
        if !stale {
            continue;
        }
        if name.starts_with("upload-") && meta.is_file() {
            std::fs::remove_file(entry.path())?;
        } else if name.starts_with("inspect-") && meta.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            continue;
        }
        removed += 1;
    }
    Ok(removed)
}

/// A temporary file in DATA/tmp for an archive too large to hold in memory.
async fn spill_file(
    state: &AppState,
) -> Result<
    (
        tempfile::NamedTempFile,
        tokio::io::BufWriter<tokio::fs::File>,
    ),
    ApiError,
> {
    let dir = upload_dir(state);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let tmp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(&dir)
        .map_err(|e| ApiError::internal(&e))?;
    let std_file = tmp.reopen().map_err(|e| ApiError::internal(&e))?;
    let file = tokio::io::BufWriter::with_capacity(256 << 10, tokio::fs::File::from_std(std_file));
    Ok((tmp, file))
}

/// Step 2: streams the body: the archive to memory, or to a temporary file once it
/// outgrows [`IN_MEMORY_ARCHIVE_MAX`].
pub(super) async fn receive(
    state: &AppState,
    body: Body,
    boundary: &str,
) -> Result<Upload, ApiError> {
    let limits = state.packages.limits;
    let total = limits
        .max_archive_bytes
        .saturating_add(limits.max_bundle_bytes)
        .saturating_add(64 << 10);
    let mut mp = Multipart::new(body.into_data_stream(), boundary, total);
    let mp_err = |e: MultipartError| match e {
        MultipartError::TooLarge { limit } => codes::too_large("upload", limit),
        other => codes::bad_upload(other.to_string()),
    };
    let mut archive: Option<(Archive, [u8; 32], [u8; 32], u64)> = None;
    let mut bundle: Option<Vec<u8>> = None;
    while let Some(part) = mp.next_part().await.map_err(mp_err)? {
        match part.name.as_str() {
            "archive" if archive.is_none() => {
                let mut hasher = vouch_digest::Hasher::new();
                // In memory until it outgrows IN_MEMORY_ARCHIVE_MAX, then a file.
                let mut memory = bytes::BytesMut::new();
                let mut spilled: Option<(
                    tempfile::NamedTempFile,
                    tokio::io::BufWriter<tokio::fs::File>,
                )> = None;
                while let Some(chunk) = mp.chunk().await.map_err(mp_err)? {
                    if hasher.size().saturating_add(chunk.len() as u64) > limits.max_archive_bytes {
                        return Err(codes::too_large("archive", limits.max_archive_bytes));
                    }
                    hasher.update(&chunk);
                    match spilled.as_mut() {
                        None if memory.len() + chunk.len() <= IN_MEMORY_ARCHIVE_MAX => {
                            memory.extend_from_slice(&chunk);
                        }
                        None => {
                            let (tmp, mut file) = spill_file(state).await?;
                            for part in [&memory[..], &chunk[..]] {
                                file.write_all(part)
                                    .await
                                    .map_err(|e| ApiError::internal(&e))?;
                            }
                            memory = bytes::BytesMut::new();
                            spilled = Some((tmp, file));
                        }
                        Some((_, file)) => file
                            .write_all(&chunk)
                            .await
                            .map_err(|e| ApiError::internal(&e))?,
                    }
                }
                let held = match spilled {
                    Some((tmp, mut file)) => {
                        file.flush().await.map_err(|e| ApiError::internal(&e))?;
                        Archive::File(tmp)
                    }
                    None => Archive::Memory(memory.freeze()),
                };
                let d = hasher.finalize();
                archive = Some((held, d.sha256, d.blake3, d.size));
            }
            "bundle" if bundle.is_none() => {
                let mut data = Vec::new();
                while let Some(chunk) = mp.chunk().await.map_err(mp_err)? {
                    if (data.len() + chunk.len()) as u64 > limits.max_bundle_bytes {
                        return Err(codes::too_large("bundle", limits.max_bundle_bytes));
                    }
                    data.extend_from_slice(&chunk);
                }
                bundle = Some(data);
            }
            "archive" | "bundle" => {
                return Err(codes::bad_upload(format!(
                    "the upload has more than one `{}` part",
                    part.name
                )))
            }
            other => {
                return Err(codes::bad_upload(format!(
                    "unexpected part `{other}`: expected exactly `archive` and `bundle`"
                )))
            }
        }
    }
    let Some((archive, sha256, blake3, size)) = archive else {
        return Err(codes::bad_upload("the upload has no `archive` part"));
    };
    let Some(bundle) = bundle else {
        return Err(codes::bad_upload("the upload has no `bundle` part"));
    };
    if size == 0 {
        return Err(codes::bad_upload("the `archive` part is empty"));
    }
    Ok(Upload {
        archive,
        sha256,
        blake3,
        size,
        bundle,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::sweep_uploads;

    fn age(path: &std::path::Path, by: Duration) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn sweep_removes_only_stale_upload_leftovers() {
        let data = tempfile::tempdir().unwrap();
        assert_eq!(
            sweep_uploads(data.path(), Duration::from_secs(60)).unwrap(),
            0
        );
        let tmp = data.path().join("tmp");
        std::fs::create_dir_all(tmp.join("inspect-old/pkg")).unwrap();
        std::fs::create_dir_all(tmp.join("inspect-new")).unwrap();
        for f in ["upload-old", "upload-new", "other-old"] {
            std::fs::write(tmp.join(f), b"x").unwrap();
        }
        let hour = Duration::from_secs(3600);
        for f in ["upload-old", "other-old"] {
            age(&tmp.join(f), 2 * hour);
        }
        // A directory's mtime is set through a handle opened on it.
        let d = std::fs::File::open(tmp.join("inspect-old")).unwrap();
        d.set_modified(SystemTime::now() - 2 * hour).unwrap();

        assert_eq!(sweep_uploads(data.path(), hour).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["inspect-new", "other-old", "upload-new"]);
        assert_eq!(sweep_uploads(data.path(), hour).unwrap(), 0);
    }
}
