//! Where a node reads: a streaming replica when one is given (`--read-store`), else the
//! primary. A replica lags the primary, so a read that must include the edits this node
//! has already applied waits until the replica has replayed past the primary's WAL
//! position noted after those edits (`pg_last_wal_replay_lsn()` against it); a replica
//! still behind after a short wait is passed over for the primary. Never is a change
//! served from a replica before it has replayed there.

use super::db::Db;
use crate::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a read waits for the replica to catch up before it goes to the primary.
const REPLICA_WAIT: Duration = Duration::from_millis(500);

pub struct Reads {
    pub primary: Arc<Db>,
    pub reader: Arc<Db>,
    /// The primary's WAL position after the newest change this node applied.
    needed: AtomicU64,
    /// The newest replay position seen on the replica.
    replayed: AtomicU64,
}

/// A `pg_lsn` ("16/B374D848") as a number.
fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

impl Reads {
    pub fn new(primary: Arc<Db>, reader: Arc<Db>) -> Reads {
        Reads { primary, reader, needed: AtomicU64::new(0), replayed: AtomicU64::new(0) }
    }

    pub fn has_replica(&self) -> bool {
        !Arc::ptr_eq(&self.primary, &self.reader)
    }

    /// Notes the primary's WAL position now: reads after this include what this node has
    /// applied so far (call after applying changes).
    pub fn note_applied(&self) -> Result<(), StoreError> {
        if !self.has_replica() {
            return Ok(());
        }
        let text: String = self.primary.with(async |c| Ok(c.query_one("SELECT pg_current_wal_lsn()::text", &[]).await?.get(0)))?;
        if let Some(lsn) = parse_lsn(&text) {
            self.needed.fetch_max(lsn, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The database to read rows from now.
    pub fn db(&self) -> &Db {
        if !self.has_replica() {
            return &self.primary;
        }
        let needed = self.needed.load(Ordering::SeqCst);
        let started = Instant::now();
        loop {
            if self.replayed.load(Ordering::SeqCst) >= needed {
                return &self.reader;
            }
            let replayed = self.reader.with(async |c| Ok(c.query_one("SELECT coalesce(pg_last_wal_replay_lsn(), '0/0')::text", &[]).await?.get::<_, String>(0)));
            match replayed.ok().as_deref().and_then(parse_lsn) {
                Some(lsn) => {
                    self.replayed.fetch_max(lsn, Ordering::SeqCst);
                    if lsn >= needed {
                        return &self.reader;
                    }
                }
                None => return &self.primary,
            }
            if started.elapsed() > REPLICA_WAIT {
                tracing::debug!("replica behind the changes this node applied; reading from the primary");
                return &self.primary;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lsns_order_as_numbers() {
        assert_eq!(super::parse_lsn("0/0"), Some(0));
        assert_eq!(super::parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(super::parse_lsn("1/FFFFFFFF") < super::parse_lsn("2/0"));
        assert_eq!(super::parse_lsn("x"), None);
    }
}
