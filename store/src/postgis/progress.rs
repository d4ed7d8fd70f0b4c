//! The PostGIS board of imports in progress: table `formosa_import_progress` on the
//! primary, written on a pooled (autocommit) connection, because the import's own
//! transaction is invisible to every other session until it commits. UNLOGGED: a record
//! lives only while its import does, so it needs no WAL and no replica (a crash that
//! empties the table loses nothing worth keeping). Ages are measured by the database's
//! clock, so nodes with skewed clocks agree on what is stale.
//!
//! `pg_stat_progress_*` covers only PostgreSQL's own commands (COPY, CREATE INDEX, …),
//! not rows an application sends in batches; `application_name` can carry a count, but
//! setting it per second inside the import's transaction would put the progress on the
//! import's connection and the staleness rules out of reach of a reader.

use super::db::Db;
use crate::progress::{Board, ImportProgress};
use crate::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// Progress is never worth holding up an import's commit or a scrape for long.
const TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) struct PgBoard {
    pub db: Arc<Db>,
}

impl PgBoard {
    fn call<T>(&self, f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.db.block_on(async {
            let go = async {
                let client = self.db.pooled().await?;
                f(&client).await
            };
            tokio::time::timeout(TIMEOUT, go).await.unwrap_or_else(|_| Err(StoreError::Unavailable(format!("the database did not answer within {} s", TIMEOUT.as_secs()))))
        })
    }
}

impl Board for PgBoard {
    fn put(&self, p: &ImportProgress) -> Result<(), StoreError> {
        let total = p.rows_total.map(|t| t as i64);
        self.call(async |c| {
            c.execute(
                "INSERT INTO formosa_import_progress (host, pid, layer, kind, started_at, rows_done, rows_total, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, now())
                 ON CONFLICT (host, pid, layer) DO UPDATE SET kind = EXCLUDED.kind, started_at = EXCLUDED.started_at,
                   rows_done = EXCLUDED.rows_done, rows_total = EXCLUDED.rows_total, updated_at = now()",
                &[&p.host, &(p.pid as i32), &p.layer, &p.kind, &p.started_at, &(p.rows_done as i64), &total],
            )
            .await?;
            Ok(())
        })
    }

    fn remove(&self, p: &ImportProgress) {
        let r = self.call(async |c| {
            c.execute("DELETE FROM formosa_import_progress WHERE host = $1 AND pid = $2 AND layer = $3", &[&p.host, &(p.pid as i32), &p.layer]).await?;
            Ok(())
        });
        if let Err(e) = r {
            // The record then goes stale and the next reader removes it.
            tracing::debug!("cannot remove the progress record of '{}': {e}", p.layer);
        }
    }

    fn list(&self) -> Result<Vec<(ImportProgress, Duration)>, StoreError> {
        self.call(async |c| {
            let rows = match c
                .query(
                    "SELECT host, pid, layer, kind, started_at, rows_done, rows_total,
                            greatest(extract(epoch FROM now() - updated_at), 0)::float8
                     FROM formosa_import_progress",
                    &[],
                )
                .await
            {
                Ok(rows) => rows,
                // A database set up before the table existed: no import has recorded yet.
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            Ok(rows
                .iter()
                .map(|r| {
                    let p = ImportProgress {
                        host: r.get(0),
                        pid: r.get::<_, i32>(1) as u32,
                        layer: r.get(2),
                        kind: r.get(3),
                        started_at: r.get(4),
                        rows_done: r.get::<_, i64>(5).max(0) as u64,
                        rows_total: r.get::<_, Option<i64>>(6).map(|t| t.max(0) as u64),
                    };
                    (p, Duration::from_secs_f64(r.get::<_, f64>(7)))
                })
                .collect())
        })
    }
}
