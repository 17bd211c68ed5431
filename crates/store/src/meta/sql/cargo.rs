//! The Cargo registry's tables (migration 0019): crates, owners, versions and their yank state, bindings, publish tokens.

use async_trait::async_trait;

use super::rows::{bind_ci_cols, ci_publisher, get, to_u64, DbRow};
use super::{begin_write, lock_name, Store};
use crate::meta::error::is_unique_violation;
use crate::meta::*;

fn krate(r: &DbRow) -> Result<CargoCrate, MetaError> {
    Ok(CargoCrate {
        id: get(r, "id")?,
        name: get(r, "name")?,
        created_at: Timestamp(get(r, "created_at")?),
    })
}

const VERSION_SELECT: &str =
    "SELECT v.id, v.crate_id, v.vers, v.vers_key, v.cksum, v.blake3, v.size, \
     v.index_line, v.published_by, v.trustpub_data, v.provenance, v.pubtime, \
     y.yanked, y.changed_at FROM cargo_versions v \
     LEFT JOIN cargo_yanks y ON y.version_id = v.id";

fn version(r: &DbRow) -> Result<CargoVersion, MetaError> {
    let size: i64 = get(r, "size")?;
    let yanked: Option<i64> = get(r, "yanked")?;
    Ok(CargoVersion {
        id: get(r, "id")?,
        published: NewCargoVersion {
            crate_id: get(r, "crate_id")?,
            vers: get(r, "vers")?,
            vers_key: get(r, "vers_key")?,
            cksum: get(r, "cksum")?,
            blake3: get(r, "blake3")?,
            size: to_u64("cargo_versions", "size", size)?,
            index_line: get(r, "index_line")?,
            published_by: get(r, "published_by")?,
            trustpub_data: get(r, "trustpub_data")?,
            provenance: get(r, "provenance")?,
            pubtime: Timestamp(get(r, "pubtime")?),
        },
        yanked: yanked == Some(1),
        yank_changed_at: get::<Option<i64>>(r, "changed_at")?.map(Timestamp),
    })
}

const BINDING_SELECT: &str = "SELECT b.id, b.crate_id, c.name AS crate_name, b.provider, \
     b.repository, b.workflow, b.environment, b.created_by, b.created_at \
     FROM cargo_bindings b JOIN cargo_crates c ON c.id = b.crate_id";

fn binding(r: &DbRow) -> Result<CargoBinding, MetaError> {
    let provider: String = get(r, "provider")?;
    Ok(CargoBinding {
        id: get(r, "id")?,
        crate_id: get(r, "crate_id")?,
        crate_name: get(r, "crate_name")?,
        publisher: ci_publisher("cargo_bindings", &provider, r)?,
        created_by: UserId(get(r, "created_by")?),
        created_at: Timestamp(get(r, "created_at")?),
    })
}

fn token(r: &DbRow) -> Result<CargoPublishToken, MetaError> {
    let crates: String = get(r, "crates")?;
    Ok(CargoPublishToken {
        crates: crates
            .split('\n')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        publisher: get(r, "publisher")?,
        created_at: Timestamp(get(r, "created_at")?),
        expires_at: Timestamp(get(r, "expires_at")?),
        revoked_at: get::<Option<i64>>(r, "revoked_at")?.map(Timestamp),
    })
}

#[async_trait]
impl CargoMeta for Store {
    async fn cargo_crate(&self, name: &str) -> Result<Option<CargoCrate>, MetaError> {
        let row = sqlx::query("SELECT id, name, created_at FROM cargo_crates WHERE name_norm = $1")
            .bind(cargo_name_norm(name))
            .fetch_optional(&self.pool)
            .await
            .map_err(MetaError::db("read cargo crate"))?;
        row.as_ref().map(krate).transpose()
    }

    async fn cargo_claim(
        &self,
        name: &str,
        user: UserId,
        now: Timestamp,
    ) -> Result<CargoClaim, MetaError> {
        let norm = cargo_name_norm(name);
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(MetaError::db("begin cargo claim"))?;
        lock_name(&mut tx, &format!("vouch.cargo:{norm}"))
            .await
            .map_err(MetaError::db("lock cargo crate"))?;
        let existing =
            sqlx::query("SELECT id, name, created_at FROM cargo_crates WHERE name_norm = $1")
                .bind(&norm)
                .fetch_optional(&mut *tx)
                .await
                .map_err(MetaError::db("read cargo crate"))?;
        if let Some(row) = existing {
            let c = krate(&row)?;
            let owner: Option<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM cargo_owners WHERE crate_id = $1 AND user_id = $2",
            )
            .bind(c.id)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(MetaError::db("read cargo owner"))?;
            return Ok(if owner.is_some() {
                CargoClaim::Owned(c)
            } else {
                CargoClaim::Foreign(c)
            });
        }
        let row = sqlx::query(
            "INSERT INTO cargo_crates (name, name_norm, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, created_at",
        )
        .bind(name)
        .bind(&norm)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                MetaError::PackageExists { name: name.into() }
            } else {
                MetaError::db("create cargo crate")(e)
            }
        })?;
        let c = krate(&row)?;
        sqlx::query("INSERT INTO cargo_owners (crate_id, user_id, added_at) VALUES ($1, $2, $3)")
            .bind(c.id)
            .bind(user.0)
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .map_err(MetaError::db("add cargo owner"))?;
        tx.commit()
            .await
            .map_err(MetaError::db("commit cargo claim"))?;
        Ok(CargoClaim::Created(c))
    }

    async fn cargo_owners(&self, crate_id: i64) -> Result<Vec<User>, MetaError> {
        let rows = sqlx::query(
            "SELECT u.id, u.name, u.email, u.created_at, u.disabled_at FROM cargo_owners o \
             JOIN users u ON u.id = o.user_id WHERE o.crate_id = $1 ORDER BY o.added_at, u.id",
        )
        .bind(crate_id)
        .fetch_all(&self.pool)
        .await
        .map_err(MetaError::db("read cargo owners"))?;
        rows.iter().map(super::rows::user).collect()
    }

    async fn cargo_add_owner(
        &self,
        crate_id: i64,
        user: UserId,
        now: Timestamp,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO cargo_owners (crate_id, user_id, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (crate_id, user_id) DO NOTHING",
        )
        .bind(crate_id)
        .bind(user.0)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(MetaError::db("add cargo owner"))?;
        Ok(())
    }

    async fn cargo_remove_owner(&self, crate_id: i64, user: UserId) -> Result<bool, MetaError> {
        let mut tx = begin_write(&self.pool)
            .await
            .map_err(MetaError::db("begin cargo owner removal"))?;
        lock_name(&mut tx, &format!("vouch.cargo.owners:{crate_id}"))
            .await
            .map_err(MetaError::db("lock cargo owners"))?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM cargo_owners WHERE crate_id = $1")
                .bind(crate_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(MetaError::db("count cargo owners"))?;
        if count <= 1 {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM cargo_owners WHERE crate_id = $1 AND user_id = $2")
            .bind(crate_id)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(MetaError::db("remove cargo owner"))?;
        tx.commit()
            .await
            .map_err(MetaError::db("commit cargo owner removal"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn cargo_insert_version(&self, v: &NewCargoVersion) -> Result<CargoVersion, MetaError> {
        let size = i64::try_from(v.size).map_err(|_| MetaError::OutOfRange {
            field: "size",
            value: v.size,
        })?;
        let row = sqlx::query(
            "INSERT INTO cargo_versions (crate_id, vers, vers_key, cksum, blake3, size, \
             index_line, published_by, trustpub_data, provenance, pubtime) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(v.crate_id)
        .bind(&v.vers)
        .bind(&v.vers_key)
        .bind(&v.cksum)
        .bind(&v.blake3)
        .bind(size)
        .bind(&v.index_line)
        .bind(&v.published_by)
        .bind(&v.trustpub_data)
        .bind(&v.provenance)
        .bind(v.pubtime.0)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                MetaError::VersionExists {
                    package: format!("crate {}", v.crate_id),
                    version: v.vers.clone(),
                }
            } else {
                MetaError::db("insert cargo version")(e)
            }
        })?;
        Ok(CargoVersion {
            id: get(&row, "id")?,
            published: v.clone(),
            yanked: false,
            yank_changed_at: None,
        })
    }

    async fn cargo_versions(&self, crate_id: i64) -> Result<Vec<CargoVersion>, MetaError> {
        let rows = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE v.crate_id = $1 ORDER BY v.id"
        ))
        .bind(crate_id)
        .fetch_all(&self.pool)
        .await
        .map_err(MetaError::db("read cargo versions"))?;
        rows.iter().map(version).collect()
    }

    async fn cargo_set_yanked(
        &self,
        crate_id: i64,
        vers: &str,
        yanked: bool,
        now: Timestamp,
    ) -> Result<bool, MetaError> {
        let id: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM cargo_versions WHERE crate_id = $1 AND vers = $2")
                .bind(crate_id)
                .bind(vers)
                .fetch_optional(&self.pool)
                .await
                .map_err(MetaError::db("read cargo version"))?;
        let Some((id,)) = id else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO cargo_yanks (version_id, yanked, changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (version_id) DO UPDATE SET yanked = excluded.yanked, \
             changed_at = excluded.changed_at",
        )
        .bind(id)
        .bind(i64::from(yanked))
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(MetaError::db("set cargo yank"))?;
        Ok(true)
    }

    async fn cargo_add_binding(
        &self,
        crate_id: i64,
        publisher: &Publisher,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<CargoBinding, MetaError> {
        let c = publisher.cols();
        let insert = sqlx::query(
            "INSERT INTO cargo_bindings (crate_id, provider, repository, repository_lc, \
             workflow, environment, environment_lc, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(crate_id);
        let row = bind_ci_cols(insert, &c)
            .bind(created_by.0)
            .bind(now.0)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    MetaError::BindingExists {
                        package: format!("crate {crate_id}"),
                    }
                } else {
                    MetaError::db("add cargo binding")(e)
                }
            })?;
        let id: i64 = get(&row, "id")?;
        let row = sqlx::query(&format!("{BINDING_SELECT} WHERE b.id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(MetaError::db("read cargo binding"))?;
        binding(&row)
    }

    async fn cargo_bindings(&self, crate_id: i64) -> Result<Vec<CargoBinding>, MetaError> {
        let rows = sqlx::query(&format!(
            "{BINDING_SELECT} WHERE b.crate_id = $1 AND b.removed_at IS NULL ORDER BY b.id"
        ))
        .bind(crate_id)
        .fetch_all(&self.pool)
        .await
        .map_err(MetaError::db("read cargo bindings"))?;
        rows.iter().map(binding).collect()
    }

    async fn cargo_bindings_for_repository(
        &self,
        provider: &str,
        repository: &str,
    ) -> Result<Vec<CargoBinding>, MetaError> {
        let rows = sqlx::query(&format!(
            "{BINDING_SELECT} WHERE b.provider = $1 AND b.repository_lc = $2 \
             AND b.removed_at IS NULL ORDER BY b.id"
        ))
        .bind(provider)
        .bind(repository.to_lowercase())
        .fetch_all(&self.pool)
        .await
        .map_err(MetaError::db("read cargo bindings"))?;
        rows.iter().map(binding).collect()
    }

    async fn cargo_remove_binding(
        &self,
        crate_id: i64,
        id: i64,
        now: Timestamp,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE cargo_bindings SET removed_at = $1 \
             WHERE id = $2 AND crate_id = $3 AND removed_at IS NULL",
        )
        .bind(now.0)
        .bind(id)
        .bind(crate_id)
        .execute(&self.pool)
        .await
        .map_err(MetaError::db("remove cargo binding"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn cargo_insert_publish_token(
        &self,
        hash: &[u8; 32],
        t: &CargoPublishToken,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO cargo_publish_tokens (token_hash, crates, publisher, created_at, \
             expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash.as_slice())
        .bind(t.crates.join("\n"))
        .bind(&t.publisher)
        .bind(t.created_at.0)
        .bind(t.expires_at.0)
        .bind(t.revoked_at.map(|r| r.0))
        .execute(&self.pool)
        .await
        .map_err(MetaError::db("insert cargo publish token"))?;
        Ok(())
    }

    async fn cargo_publish_token(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<CargoPublishToken>, MetaError> {
        let row = sqlx::query(
            "SELECT crates, publisher, created_at, expires_at, revoked_at \
             FROM cargo_publish_tokens WHERE token_hash = $1",
        )
        .bind(hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(MetaError::db("read cargo publish token"))?;
        row.as_ref().map(token).transpose()
    }

    async fn cargo_revoke_publish_token(
        &self,
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<bool, MetaError> {
        let known: Option<(i64,)> =
            sqlx::query_as("SELECT created_at FROM cargo_publish_tokens WHERE token_hash = $1")
                .bind(hash.as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(MetaError::db("read cargo publish token"))?;
        if known.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE cargo_publish_tokens SET revoked_at = $1 \
             WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(hash.as_slice())
        .execute(&self.pool)
        .await
        .map_err(MetaError::db("revoke cargo publish token"))?;
        Ok(true)
    }
}
