//! Registry integrity tables (schema v2): instance id, sealed signing keys, settings, admin tokens, releases and their assets, relayed attestations, integrity records.

use sqlx::Pool;

use super::rows::{self, digest, get, to_i64, to_u64 as unsigned, DbRow, VERSION_COLS};
use super::{begin_write, Db};
use crate::meta::token;
use crate::meta::*;

fn corrupt(table: &'static str, column: &'static str, reason: &'static str) -> MetaError {
    MetaError::Corrupt {
        table,
        column,
        reason,
    }
}

pub(super) async fn instance_id(pool: &Pool<Db>) -> Result<String, MetaError> {
    let (id,): (String,) = sqlx::query_as("SELECT instance_id FROM registry_instance WHERE id = 1")
        .fetch_one(pool)
        .await
        .map_err(MetaError::db("read instance id"))?;
    Ok(id)
}

const KEY_COLS: &str = "kid, public_key, sealed, instance_id, created_at, retired_at";

fn key(r: &DbRow) -> Result<StoredRegistryKey, MetaError> {
    let public: String = get(r, "public_key")?;
    Ok(StoredRegistryKey {
        kid: get(r, "kid")?,
        public_key: digest("registry_keys", "public_key", &public)?,
        sealed: get(r, "sealed")?,
        instance_id: get(r, "instance_id")?,
        created_at: Timestamp(get(r, "created_at")?),
        retired_at: get::<Option<i64>>(r, "retired_at")?.map(Timestamp),
    })
}

pub(super) async fn registry_keys(pool: &Pool<Db>) -> Result<Vec<StoredRegistryKey>, MetaError> {
    // Current (retired_at NULL) first, then the most recently created.
    let q = format!(
        "SELECT {KEY_COLS} FROM registry_keys \
         ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, id DESC"
    );
    let all = sqlx::query(&q)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list registry keys"))?;
    all.iter().map(key).collect()
}

pub(super) async fn rotate_registry_key(
    pool: &Pool<Db>,
    expected_current: Option<&str>,
    new: &StoredRegistryKey,
) -> Result<bool, MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin rotate key"))?;
    super::lock_name(&mut tx, "vouch.registry.keys")
        .await
        .map_err(MetaError::db("lock registry keys"))?;
    let current: Option<(String,)> =
        sqlx::query_as("SELECT kid FROM registry_keys WHERE retired_at IS NULL")
            .fetch_optional(&mut *tx)
            .await
            .map_err(MetaError::db("read current key"))?;
    if current.as_ref().map(|c| c.0.as_str()) != expected_current {
        return Ok(false);
    }
    sqlx::query("UPDATE registry_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(new.created_at.0)
        .execute(&mut *tx)
        .await
        .map_err(MetaError::db("retire key"))?;
    sqlx::query(
        "INSERT INTO registry_keys (kid, public_key, sealed, instance_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&new.kid)
    .bind(hex::encode(new.public_key))
    .bind(&new.sealed)
    .bind(&new.instance_id)
    .bind(new.created_at.0)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("insert registry key"))?;
    tx.commit().await.map_err(MetaError::db("commit rotate"))?;
    Ok(true)
}

pub(super) async fn commit_reseal(
    pool: &Pool<Db>,
    reseal: &[(String, Vec<u8>)],
    (name, value): (&str, &str),
    (event, actor, details): (&str, &str, &str),
    now: Timestamp,
) -> Result<(), MetaError> {
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin reseal"))?;
    super::lock_name(&mut tx, "vouch.registry.keys")
        .await
        .map_err(MetaError::db("lock registry keys"))?;
    for (kid, sealed) in reseal {
        let done = sqlx::query("UPDATE registry_keys SET sealed = $1 WHERE kid = $2")
            .bind(sealed)
            .bind(kid)
            .execute(&mut *tx)
            .await
            .map_err(MetaError::db("re-seal registry key"))?;
        if done.rows_affected() != 1 {
            // Dropping the transaction rolls back every row already re-sealed.
            return Err(corrupt(
                "registry_keys",
                "kid",
                "a key to re-seal is not in the table",
            ));
        }
    }
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now.0)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("write setting"))?;
    sqlx::query(
        "INSERT INTO audit_log (event, actor, subject, details, at) VALUES ($1, $2, NULL, $3, $4)",
    )
    .bind(event)
    .bind(actor)
    .bind(details)
    .bind(now.0)
    .execute(&mut *tx)
    .await
    .map_err(MetaError::db("append audit"))?;
    tx.commit().await.map_err(MetaError::db("commit reseal"))
}

pub(super) async fn setting(pool: &Pool<Db>, name: &str) -> Result<Option<String>, MetaError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read setting"))?;
    Ok(row.map(|r| r.0))
}

pub(super) async fn put_setting(
    pool: &Pool<Db>,
    name: &str,
    value: &str,
    now: Timestamp,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now.0)
    .execute(pool)
    .await
    .map_err(MetaError::db("write setting"))?;
    Ok(())
}

pub(super) async fn create_admin_token(
    pool: &Pool<Db>,
    label: &str,
    now: Timestamp,
) -> Result<(AdminToken, TokenSecret), MetaError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).map_err(|e| MetaError::Randomness {
        reason: e.to_string(),
    })?;
    let secret = TokenSecret(format!("{ADMIN_TOKEN_PREFIX}{}", hex::encode(raw)));
    let hash = token::hash(secret.expose());
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO admin_tokens (label, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(label)
    .bind(&hash[..])
    .bind(now.0)
    .fetch_one(pool)
    .await
    .map_err(MetaError::db("create admin token"))?;
    Ok((
        AdminToken {
            id,
            label: label.into(),
            created_at: now,
            revoked_at: None,
        },
        secret,
    ))
}

pub(super) async fn authenticate_admin(
    pool: &Pool<Db>,
    secret: &str,
) -> Result<Option<AdminToken>, MetaError> {
    let presented = token::hash(secret);
    let Some(row) = sqlx::query(
        "SELECT id, label, token_hash, created_at, revoked_at FROM admin_tokens \
         WHERE token_hash = $1",
    )
    .bind(&presented[..])
    .fetch_optional(pool)
    .await
    .map_err(MetaError::db("authenticate admin"))?
    else {
        return Ok(None);
    };
    let stored: Vec<u8> = get(&row, "token_hash")?;
    // The index lookup matched; compare again in constant time (see users.rs).
    if !token::hashes_equal(&stored, &presented) {
        return Ok(None);
    }
    let t = AdminToken {
        id: get(&row, "id")?,
        label: get(&row, "label")?,
        created_at: Timestamp(get(&row, "created_at")?),
        revoked_at: get::<Option<i64>>(&row, "revoked_at")?.map(Timestamp),
    };
    Ok(t.revoked_at.is_none().then_some(t))
}

const RELEASE_COLS: &str = "id, forge_id, repository, tag, upstream_id, created_at";

fn release(r: &DbRow) -> Result<ReleaseRow, MetaError> {
    Ok(ReleaseRow {
        id: get(r, "id")?,
        forge_id: get(r, "forge_id")?,
        repository: get(r, "repository")?,
        tag: get(r, "tag")?,
        upstream_id: get(r, "upstream_id")?,
        created_at: Timestamp(get(r, "created_at")?),
    })
}

pub(super) async fn upsert_release(
    pool: &Pool<Db>,
    new: &NewRelease,
) -> Result<(ReleaseRow, bool), MetaError> {
    // Insert-or-nothing, then read: the UNIQUE constraint decides concurrent ingests.
    let done = sqlx::query(
        "INSERT INTO releases (forge_id, repository, tag, upstream_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (forge_id, repository, tag) DO NOTHING",
    )
    .bind(&new.forge_id)
    .bind(&new.repository)
    .bind(&new.tag)
    .bind(&new.upstream_id)
    .bind(new.created_at.0)
    .execute(pool)
    .await
    .map_err(MetaError::db("insert release"))?;
    let q = format!(
        "SELECT {RELEASE_COLS} FROM releases WHERE forge_id = $1 AND repository = $2 AND tag = $3"
    );
    let row = sqlx::query(&q)
        .bind(&new.forge_id)
        .bind(&new.repository)
        .bind(&new.tag)
        .fetch_one(pool)
        .await
        .map_err(MetaError::db("read release"))?;
    Ok((release(&row)?, done.rows_affected() == 1))
}

pub(super) async fn release_by_id(
    pool: &Pool<Db>,
    id: i64,
) -> Result<Option<ReleaseRow>, MetaError> {
    let q = format!("SELECT {RELEASE_COLS} FROM releases WHERE id = $1");
    let row = sqlx::query(&q)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read release"))?;
    row.as_ref().map(release).transpose()
}

const ASSET_COLS: &str = "release_id, name, size, download_url, sha256, blake3, status, created_at";

fn asset(r: &DbRow) -> Result<ReleaseAsset, MetaError> {
    const T: &str = "release_assets";
    let status: String = get(r, "status")?;
    let status = AssetStatus::parse(&status).ok_or(corrupt(T, "status", "unknown status"))?;
    let sha256: Option<String> = get(r, "sha256")?;
    let blake3: Option<String> = get(r, "blake3")?;
    let sha256 = sha256.map(|s| digest(T, "sha256", &s)).transpose()?;
    let blake3 = blake3.map(|s| digest(T, "blake3", &s)).transpose()?;
    if (status == AssetStatus::Hashed) != (sha256.is_some() && blake3.is_some()) {
        return Err(corrupt(T, "status", "digests do not match the status"));
    }
    Ok(ReleaseAsset {
        release_id: get(r, "release_id")?,
        name: get(r, "name")?,
        size: unsigned(T, "size", get(r, "size")?)?,
        download_url: get(r, "download_url")?,
        sha256,
        blake3,
        status,
        created_at: Timestamp(get(r, "created_at")?),
    })
}

async fn find_asset(
    pool: &Pool<Db>,
    release_id: i64,
    name: &str,
) -> Result<Option<ReleaseAsset>, MetaError> {
    let q = format!("SELECT {ASSET_COLS} FROM release_assets WHERE release_id = $1 AND name = $2");
    let row = sqlx::query(&q)
        .bind(release_id)
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read release asset"))?;
    row.as_ref().map(asset).transpose()
}

fn same_observation(a: &ReleaseAsset, b: &ReleaseAsset) -> bool {
    a.size == b.size && a.status == b.status && a.sha256 == b.sha256 && a.blake3 == b.blake3
}

pub(super) async fn insert_release_asset(
    pool: &Pool<Db>,
    a: &ReleaseAsset,
) -> Result<AssetInsert, MetaError> {
    if (a.status == AssetStatus::Hashed) != (a.sha256.is_some() && a.blake3.is_some()) {
        return Err(corrupt(
            "release_assets",
            "status",
            "digests do not match the status",
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO release_assets (release_id, name, size, download_url, sha256, blake3, \
         status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (release_id, name) DO NOTHING",
    )
    .bind(a.release_id)
    .bind(&a.name)
    .bind(to_i64("size", a.size)?)
    .bind(&a.download_url)
    .bind(a.sha256.map(hex::encode))
    .bind(a.blake3.map(hex::encode))
    .bind(a.status.column())
    .bind(a.created_at.0)
    .execute(pool)
    .await
    .map_err(MetaError::db("insert release asset"))?;
    if inserted.rows_affected() == 1 {
        return Ok(AssetInsert::Inserted);
    }
    let stored = find_asset(pool, a.release_id, &a.name)
        .await?
        .ok_or(corrupt(
            "release_assets",
            "name",
            "conflicting row vanished",
        ))?;
    Ok(if same_observation(&stored, a) {
        AssetInsert::Unchanged
    } else {
        AssetInsert::Conflict(stored)
    })
}

pub(super) async fn release_assets(
    pool: &Pool<Db>,
    release_id: i64,
) -> Result<Vec<ReleaseAsset>, MetaError> {
    let q = format!("SELECT {ASSET_COLS} FROM release_assets WHERE release_id = $1 ORDER BY id");
    let all = sqlx::query(&q)
        .bind(release_id)
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list release assets"))?;
    all.iter().map(asset).collect()
}

pub(super) async fn releases_without_integrity(
    pool: &Pool<Db>,
    after: i64,
    limit: u32,
) -> Result<Vec<ReleaseRow>, MetaError> {
    // Subjects of release records are the release id in decimal.
    let q = format!(
        "SELECT {RELEASE_COLS} FROM releases rel WHERE rel.id > $1 AND NOT EXISTS \
         (SELECT 1 FROM integrity_records r WHERE r.subject_kind = 'release' \
          AND r.subject = CAST(rel.id AS TEXT)) ORDER BY rel.id LIMIT $2"
    );
    let all = sqlx::query(&q)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list releases without integrity"))?;
    all.iter().map(release).collect()
}

pub(super) async fn versions_without_integrity(
    pool: &Pool<Db>,
    after: i64,
    limit: u32,
) -> Result<Vec<UnrecordedVersion>, MetaError> {
    let q = format!(
        "SELECT p.name AS package_name, {VERSION_COLS} FROM versions v \
         JOIN packages p ON p.id = v.package_id WHERE v.id > $1 AND NOT EXISTS \
         (SELECT 1 FROM integrity_records r WHERE r.subject_kind = 'package' \
          AND r.subject = p.name AND r.version = v.version) ORDER BY v.id LIMIT $2"
    );
    let all = sqlx::query(&q)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(MetaError::db("list versions without integrity"))?;
    all.iter()
        .map(|r| {
            Ok(UnrecordedVersion {
                package: get(r, "package_name")?,
                version: rows::version(r)?,
            })
        })
        .collect()
}

pub(super) async fn insert_attestation(
    pool: &Pool<Db>,
    a: &StoredAttestation,
) -> Result<bool, MetaError> {
    use sha2::Digest;
    let sum = hex::encode(sha2::Sha256::digest(a.bundle.as_bytes()));
    let done = sqlx::query(
        "INSERT INTO release_attestations (release_id, asset_name, bundle, bundle_sha256, \
         identity, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (release_id, asset_name, bundle_sha256) DO NOTHING",
    )
    .bind(a.release_id)
    .bind(&a.asset_name)
    .bind(&a.bundle)
    .bind(sum)
    .bind(&a.identity)
    .bind(a.created_at.0)
    .execute(pool)
    .await
    .map_err(MetaError::db("insert attestation"))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn attestations(
    pool: &Pool<Db>,
    release_id: i64,
    asset_name: &str,
) -> Result<Vec<StoredAttestation>, MetaError> {
    let all = sqlx::query(
        "SELECT release_id, asset_name, bundle, identity, created_at FROM release_attestations \
         WHERE release_id = $1 AND asset_name = $2 ORDER BY id",
    )
    .bind(release_id)
    .bind(asset_name)
    .fetch_all(pool)
    .await
    .map_err(MetaError::db("list attestations"))?;
    all.iter()
        .map(|r| {
            Ok(StoredAttestation {
                release_id: get(r, "release_id")?,
                asset_name: get(r, "asset_name")?,
                bundle: get(r, "bundle")?,
                identity: get(r, "identity")?,
                created_at: Timestamp(get(r, "created_at")?),
            })
        })
        .collect()
}

const RECORD_COLS: &str = "id, subject_kind, subject, version, kid, jws, log_index, created_at";

fn record(r: &DbRow) -> Result<IntegrityRow, MetaError> {
    const T: &str = "integrity_records";
    let kind: String = get(r, "subject_kind")?;
    Ok(IntegrityRow {
        id: get(r, "id")?,
        kind: RecordKind::parse(&kind).ok_or(corrupt(T, "subject_kind", "unknown kind"))?,
        subject: get(r, "subject")?,
        version: get(r, "version")?,
        kid: get(r, "kid")?,
        jws: get(r, "jws")?,
        log_index: unsigned(T, "log_index", get(r, "log_index")?)?,
        created_at: Timestamp(get(r, "created_at")?),
    })
}

/// Stores logged records in one transaction (one commit for a whole batch). A record
/// whose (kind, subject, version) is taken writes nothing and returns the stored row
/// with `false`; the others return their new rows with `true`, in input order.
pub(super) async fn insert_integrity_records(
    pool: &Pool<Db>,
    records: &[NewIntegrityRecord],
) -> Result<Vec<(IntegrityRow, bool)>, MetaError> {
    let mut out = Vec::with_capacity(records.len());
    if records.is_empty() {
        return Ok(out);
    }
    let mut tx = begin_write(pool)
        .await
        .map_err(MetaError::db("begin integrity records"))?;
    let insert = format!(
        "INSERT INTO integrity_records (subject_kind, subject, version, kid, jws, log_index, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (subject_kind, subject, version) DO NOTHING RETURNING {RECORD_COLS}"
    );
    let existing = format!(
        "SELECT {RECORD_COLS} FROM integrity_records WHERE subject_kind = $1 AND subject = $2 \
         AND version = $3"
    );
    for new in records {
        let inserted = sqlx::query(&insert)
            .bind(new.kind.column())
            .bind(&new.subject)
            .bind(&new.version)
            .bind(&new.kid)
            .bind(&new.jws)
            .bind(to_i64("log_index", new.log_index)?)
            .bind(new.created_at.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(MetaError::db("insert integrity record"))?;
        let row = match inserted {
            Some(row) => (record(&row)?, true),
            None => {
                let row = sqlx::query(&existing)
                    .bind(new.kind.column())
                    .bind(&new.subject)
                    .bind(&new.version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(MetaError::db("read integrity record"))?
                    .ok_or(corrupt(
                        "integrity_records",
                        "subject",
                        "conflicting row vanished",
                    ))?;
                (record(&row)?, false)
            }
        };
        out.push(row);
    }
    tx.commit()
        .await
        .map_err(MetaError::db("commit integrity records"))?;
    Ok(out)
}

pub(super) async fn integrity_record(
    pool: &Pool<Db>,
    kind: RecordKind,
    subject: &str,
    version: Option<&str>,
) -> Result<Option<IntegrityRow>, MetaError> {
    let q = format!(
        "SELECT {RECORD_COLS} FROM integrity_records WHERE subject_kind = $1 AND subject = $2 \
         AND ($3 IS NULL OR version = $3) ORDER BY id LIMIT 1"
    );
    let row = sqlx::query(&q)
        .bind(kind.column())
        .bind(subject)
        .bind(version)
        .fetch_optional(pool)
        .await
        .map_err(MetaError::db("read integrity record"))?;
    row.as_ref().map(record).transpose()
}
