//! Reading rows back into the plain types of `meta::types`, the column lists the queries select, and the publisher columns the binding tables' writes bind.

use sqlx::Row;

use super::Db;
use crate::meta::*;

pub(super) type DbRow = <Db as sqlx::Database>::Row;
pub(super) type Query<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

pub(super) const USER_COLS: &str = "u.id, u.name, u.email, u.created_at, u.disabled_at";
pub(super) const TOKEN_COLS: &str = "t.id AS t_id, t.user_id, t.label, t.token_hash, \
     t.created_at AS t_created_at, t.expires_at, t.revoked_at, t.scope, t.packages";
pub(super) const VERSION_COLS: &str = "v.id, v.package_id, v.version, v.blake3, v.sha256, v.size, \
     v.bundle_key, v.log_index, v.publisher, v.issuer, v.binding_id, v.created_at";

pub(super) fn get<'r, T>(r: &'r DbRow, col: &'static str) -> Result<T, MetaError>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    r.try_get(col).map_err(MetaError::db("decode row"))
}

/// Binds a CI publisher's columns in the order every binding table (package, pending
/// and Cargo bindings) lists them: provider, repository, repository_lc, workflow,
/// environment, environment_lc.
pub(super) fn bind_ci_cols<'q>(q: Query<'q>, c: &'q PublisherCols) -> Query<'q> {
    q.bind(c.provider)
        .bind(&c.repository)
        .bind(&c.repository_lc)
        .bind(&c.workflow)
        .bind(&c.environment)
        .bind(&c.environment_lc)
}

pub(super) fn to_i64(field: &'static str, value: u64) -> Result<i64, MetaError> {
    i64::try_from(value).map_err(|_| MetaError::OutOfRange { field, value })
}

pub(super) fn to_u64(table: &'static str, column: &'static str, v: i64) -> Result<u64, MetaError> {
    u64::try_from(v).map_err(|_| MetaError::Corrupt {
        table,
        column,
        reason: "negative",
    })
}

/// A 32-byte digest stored as hex text in `table.column`.
pub(super) fn digest(
    table: &'static str,
    column: &'static str,
    hex_text: &str,
) -> Result<[u8; 32], MetaError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).map_err(|_| MetaError::Corrupt {
        table,
        column,
        reason: "not 64 hex digits",
    })?;
    Ok(out)
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp)
}

pub(super) fn user(r: &DbRow) -> Result<User, MetaError> {
    Ok(User {
        id: UserId(get(r, "id")?),
        name: get(r, "name")?,
        email: get(r, "email")?,
        created_at: Timestamp(get(r, "created_at")?),
        disabled_at: ts(get(r, "disabled_at")?),
    })
}

/// The `packages` column: names one per line, NULL for no restriction.
pub(super) fn packages_column(packages: Option<&[String]>) -> Option<String> {
    packages.map(|p| p.join("\n"))
}

/// A token row and its stored hash (compared by the caller, in constant time).
pub(super) fn token(r: &DbRow) -> Result<(ApiToken, Vec<u8>), MetaError> {
    Ok((
        ApiToken {
            id: TokenId(get(r, "t_id")?),
            user_id: UserId(get(r, "user_id")?),
            label: get(r, "label")?,
            created_at: Timestamp(get(r, "t_created_at")?),
            expires_at: ts(get(r, "expires_at")?),
            revoked_at: ts(get(r, "revoked_at")?),
            scope: {
                let s: String = get(r, "scope")?;
                TokenScope::parse(&s).ok_or(MetaError::Corrupt {
                    table: "api_tokens",
                    column: "scope",
                    reason: "neither owner nor admin",
                })?
            },
            packages: get::<Option<String>>(r, "packages")?
                .map(|p| p.split('\n').map(str::to_owned).collect()),
        },
        get(r, "token_hash")?,
    ))
}

pub(super) fn package(r: &DbRow) -> Result<Package, MetaError> {
    Ok(Package {
        id: PackageId(get(r, "id")?),
        name: get(r, "name")?,
        created_at: Timestamp(get(r, "created_at")?),
    })
}

pub(super) fn version(r: &DbRow) -> Result<VersionEntry, MetaError> {
    let blake3: String = get(r, "blake3")?;
    let sha256: String = get(r, "sha256")?;
    Ok(VersionEntry {
        id: VersionId(get(r, "id")?),
        package_id: PackageId(get(r, "package_id")?),
        version: get(r, "version")?,
        blake3: digest("versions", "blake3", &blake3)?,
        sha256: digest("versions", "sha256", &sha256)?,
        size: to_u64("versions", "size", get(r, "size")?)?,
        bundle_key: get(r, "bundle_key")?,
        log_index: to_u64("versions", "log_index", get(r, "log_index")?)?,
        publisher: get(r, "publisher")?,
        issuer: get(r, "issuer")?,
        binding_id: get::<Option<i64>>(r, "binding_id")?.map(BindingId),
        created_at: Timestamp(get(r, "created_at")?),
    })
}

fn publisher(table: &'static str, r: &DbRow) -> Result<Publisher, MetaError> {
    let provider: String = get(r, "provider")?;
    if provider == "email" {
        let email: Option<String> = get(r, "email")?;
        return Ok(Publisher::Email {
            email: email.ok_or(MetaError::Corrupt {
                table,
                column: "email",
                reason: "missing for an email binding",
            })?,
        });
    }
    ci_publisher(table, &provider, r)
}

/// A CI publisher from its `provider` and the row's repository, workflow and environment.
pub(super) fn ci_publisher(
    table: &'static str,
    provider: &str,
    r: &DbRow,
) -> Result<Publisher, MetaError> {
    Ok(Publisher::Ci {
        provider: CiProvider::parse(provider).ok_or(MetaError::Corrupt {
            table,
            column: "provider",
            reason: "unknown provider",
        })?,
        repository: get(r, "repository")?,
        workflow: get(r, "workflow")?,
        environment: get(r, "environment")?,
    })
}

pub(super) fn binding(r: &DbRow) -> Result<Binding, MetaError> {
    Ok(Binding {
        id: BindingId(get(r, "id")?),
        package_id: PackageId(get(r, "package_id")?),
        publisher: publisher("bindings", r)?,
        repository_owner_id: get(r, "repository_owner_id")?,
        created_by: UserId(get(r, "created_by")?),
        created_at: Timestamp(get(r, "created_at")?),
        removed_at: ts(get(r, "removed_at")?),
    })
}

pub(super) fn pending(r: &DbRow) -> Result<PendingBinding, MetaError> {
    Ok(PendingBinding {
        id: PendingBindingId(get(r, "id")?),
        package_name: get(r, "package_name")?,
        publisher: publisher("pending_bindings", r)?,
        created_by: UserId(get(r, "created_by")?),
        created_at: Timestamp(get(r, "created_at")?),
    })
}

pub(super) fn audit(r: &DbRow) -> Result<AuditEvent, MetaError> {
    Ok(AuditEvent {
        id: AuditId(get(r, "id")?),
        event: get(r, "event")?,
        actor: get(r, "actor")?,
        subject: get(r, "subject")?,
        details_json: get(r, "details")?,
        at: Timestamp(get(r, "at")?),
    })
}
