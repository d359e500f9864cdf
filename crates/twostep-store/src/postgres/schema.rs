//! Creating and migrating the store's tables at start.
//!
//! `twostep_migrations` records which versions were applied; [`MIGRATIONS`]
//! holds one script per version. Everything runs in one transaction under an
//! advisory lock, so instances starting together migrate once.

use tokio_postgres::Client;

use super::target::{Target, pg_error};
use crate::StoreError;

/// First key of the advisory lock migrations take (the second is 0).
const MIGRATION_LOCK: i32 = 0x7477_6f6d; // "twom"

/// Migration `i` brings the schema from version `i` to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1. `position` is the global order, assigned under the append
    // lock (see append.rs), never by a sequence. `data` and `metadata` are
    // JSON kept as written (`json`, not `jsonb`, so that numbers and text
    // read back exactly); auditors can still query them with `->>`.
    "CREATE TABLE events (
        position       BIGINT      PRIMARY KEY CHECK (position > 0),
        event_id       UUID        NOT NULL UNIQUE,
        stream         TEXT        NOT NULL CHECK (stream <> ''),
        version        BIGINT      NOT NULL CHECK (version > 0),
        event_type     TEXT        NOT NULL,
        schema_version BIGINT      NOT NULL,
        recorded_at    TIMESTAMPTZ NOT NULL,
        data           JSON        NOT NULL,
        metadata       JSON        NOT NULL,
        UNIQUE (stream, version)
    );",
];

/// Creates the schema and applies every migration it has not seen yet.
pub(super) async fn migrate(client: &Client, target: &Target) -> Result<(), StoreError> {
    let schema = target.schema();
    client.batch_execute("BEGIN").await.map_err(pg_error)?;
    let result = migrate_in_transaction(client, schema).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client.batch_execute(end).await.map_err(pg_error);
    let applied = result?;
    ended?;
    if applied > 0 {
        tracing::info!(
            schema,
            schema_version = MIGRATIONS.len(),
            "migrated the postgres event store"
        );
    }
    Ok(())
}

/// How many migrations it applied.
async fn migrate_in_transaction(client: &Client, schema: &str) -> Result<usize, StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1, 0)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    // The name was checked (target.rs): safe to splice.
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.twostep_migrations (
                 version    INTEGER     PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             );"
        ))
        .await
        .map_err(pg_error)?;
    let current: i32 = client
        .query_one(
            &format!("SELECT COALESCE(MAX(version), 0) FROM {schema}.twostep_migrations"),
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg_error)?;
    let current = usize::try_from(current)
        .map_err(|_| StoreError::Corrupt(format!("negative schema version {current}")))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "the postgres store has schema version {current}, newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    let mut applied = 0;
    for (index, script) in MIGRATIONS.iter().enumerate().skip(current) {
        client
            .batch_execute(&format!("SET LOCAL search_path TO {schema}; {script}"))
            .await
            .map_err(pg_error)?;
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        client
            .execute(
                &format!("INSERT INTO {schema}.twostep_migrations (version) VALUES ($1)"),
                &[&version],
            )
            .await
            .map_err(pg_error)?;
        applied += 1;
    }
    Ok(applied)
}

/// Drops the schema and everything in it. For tests and tearing down a
/// deployment; refuses the default `public` schema.
pub(super) async fn drop_schema(client: &Client, target: &Target) -> Result<(), StoreError> {
    let schema = target.schema();
    if schema == super::target::DEFAULT_SCHEMA {
        return Err(StoreError::Invalid(
            "refusing to drop the public schema".into(),
        ));
    }
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .map_err(pg_error)
}
