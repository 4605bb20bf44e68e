//! The schema's migrations, embedded in the binary and applied at start in
//! one transaction under an advisory lock (nodes starting together apply
//! each once), recorded in `wasmhook_schema`. A database whose schema is
//! newer than this binary knows is refused: an older node must not write
//! records a newer schema keeps differently.

use deadpool_postgres::Pool;

use crate::store::StoreError;

/// Every migration, in order: its version, its name, its SQL.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (2, "leases", include_str!("migrations/0002_leases.sql")),
    (
        3,
        "kept callbacks",
        include_str!("migrations/0003_kept_callbacks.sql"),
    ),
];

/// The advisory lock the migrations run under ("wasmhook" + 1).
const MIGRATION_LOCK: i64 = 0x7761_736d_686f_6f01;

/// The newest schema this binary knows.
pub(super) fn known_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _, _)| *version)
}

/// Applies the migrations the database lacks; refuses a newer schema.
/// Returns the versions applied.
pub(super) async fn apply(pool: &Pool) -> Result<Vec<i32>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS wasmhook_schema (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at bigint NOT NULL
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM wasmhook_schema", &[])
        .await?
        .try_get(0)?;
    let known = known_version();
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        tx.batch_execute(sql)
            .await
            .map_err(|error| StoreError::Migration {
                version: *version,
                detail: error.to_string(),
            })?;
        tx.execute(
            "INSERT INTO wasmhook_schema (version, name, applied_at) VALUES ($1, $2, $3)",
            &[version, name, &super::rows::ms(crate::ids::now_ms())],
        )
        .await?;
        applied.push(*version);
    }
    tx.commit().await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "store: database schema migrated");
    }
    Ok(applied)
}
