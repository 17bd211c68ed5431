//! `--dev` only: the owner account `dev` (owner of scope `dev`) and its API token in `DATA/owner.token` (mode 0600), so a fresh development server can register publishers at once.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use vouch_store::meta::{MetaStore, Timestamp};

use crate::ServeError;

/// The token file's name in the data directory.
pub const OWNER_TOKEN_FILE: &str = "owner.token";
/// The development owner's user name.
pub const DEV_OWNER: &str = "dev";

/// Makes sure user `dev` exists and `data_dir/owner.token` holds a token of it that
/// authenticates; keeps a still-valid file, otherwise mints a new token. Returns the
/// file's path. Never called outside `--dev`.
pub async fn bootstrap_dev_owner(
    meta: &dyn MetaStore,
    data_dir: &Path,
) -> Result<PathBuf, ServeError> {
    let path = data_dir.join(OWNER_TOKEN_FILE);
    let now = Timestamp::now();
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(Some((user, _))) = meta.authenticate(text.trim(), now).await {
            if user.name == DEV_OWNER {
                // A data directory from before scopes were owned gets its grant too.
                meta.grant_scope(DEV_OWNER, user.id, now).await?;
                return Ok(path);
            }
        }
    }
    let user = match meta.user_by_name(DEV_OWNER).await? {
        Some(u) => u,
        None => match meta.create_user(DEV_OWNER, None, now).await {
            Ok(u) => u,
            // Another process started on the same data directory won the race.
            Err(vouch_store::meta::MetaError::UserExists { .. }) => meta
                .user_by_name(DEV_OWNER)
                .await?
                .ok_or_else(|| setup(&path, "user dev vanished"))?,
            Err(e) => return Err(e.into()),
        },
    };
    // The development owner owns scope `dev` from the start, so no other account on
    // a development server can reserve `@dev/...` names (idempotent).
    meta.grant_scope(DEV_OWNER, user.id, now).await?;
    let (_, secret) = meta
        .create_token(user.id, "vouch serve --dev owner token", None, now)
        .await?;
    write_private(&path, secret.expose())?;
    Ok(path)
}

fn setup(path: &Path, why: &str) -> ServeError {
    ServeError::DevSetup {
        path: path.to_owned(),
        source: std::io::Error::other(why.to_owned()),
    }
}

/// Writes `text` to `path` with mode 0600, replacing it atomically (temporary file in
/// the same directory, fsync, rename).
fn write_private(path: &Path, text: &str) -> Result<(), ServeError> {
    let err = |source| ServeError::DevSetup {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.write_all(b"\n").map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}
