//! The change feed across nodes. Every edit commits its row and its change-log entry in
//! one transaction on the primary, under one advisory lock, so `seq` order is commit
//! order and has no gaps. Each node LISTENs on the primary; a notification (or a
//! reconnect, or a periodic look) wakes the follower thread, which reads the log from the
//! last `seq` this node applied, brings the in-memory indexes and rows up to date (rows
//! read from the primary: a replica may not have replayed them yet) and tells the
//! listeners, in order. A node's own edits go through the same gate, so listeners see
//! every change exactly once and in commit order, whichever node made it.

use super::db::Db;
use super::layer::{row_data, PgLayer};
use super::schema::{select_columns, CHANGES_CHANNEL};
use super::store::Inner;
use crate::edit::Change;
use crate::memory::RowData;
use crate::model::Envelope;
use crate::traits::ChangeListener;
use crate::StoreError;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// How often the follower looks at the log even without a notification (a lost
/// notification, a listener reconnecting): the bound on how late a change can arrive.
const POLL: Duration = Duration::from_secs(2);
/// Changes read per round trip when catching up.
const BATCH: usize = 1000;

pub(crate) struct Feed {
    /// The newest seq applied to this node's memory and told to its listeners.
    applied: Mutex<i64>,
    listeners: RwLock<Vec<ChangeListener>>,
    wake: (SyncSender<()>, Mutex<Option<Receiver<()>>>),
    /// Why the database is not reachable from this node, if it is not.
    trouble: Mutex<Option<String>>,
}

impl Default for Feed {
    fn default() -> Self {
        let (tx, rx) = sync_channel(1);
        Feed { applied: Mutex::new(0), listeners: RwLock::default(), wake: (tx, Mutex::new(Some(rx))), trouble: Mutex::new(None) }
    }
}

impl Feed {
    pub fn start_at(&self, seq: i64) {
        *self.applied.lock().unwrap() = seq;
    }

    pub fn subscribe(&self, listener: ChangeListener) {
        self.listeners.write().unwrap().push(listener);
    }

    pub fn trouble(&self) -> Option<String> {
        self.trouble.lock().unwrap().clone()
    }

    fn set_trouble(&self, t: Option<String>) {
        let mut slot = self.trouble.lock().unwrap();
        match (&*slot, &t) {
            (None, Some(why)) => tracing::warn!("store database unreachable: {why}; serving what this node holds"),
            (Some(_), None) => tracing::info!("store database reachable again; change feed caught up"),
            _ => {}
        }
        *slot = t;
    }

    /// Starts the LISTEN task (on the store's runtime) and the follower thread.
    pub fn follow(inner: &Arc<Inner>) {
        let Some(wake) = inner.feed.wake.1.lock().unwrap().take() else { return };
        let poke = inner.feed.wake.0.clone();
        inner.primary.spawn(listen(inner.primary.config().clone(), poke));
        let weak: Weak<Inner> = Arc::downgrade(inner);
        let spawned = std::thread::Builder::new().name("formosa-feed".into()).spawn(move || loop {
            let woke = wake.recv_timeout(POLL);
            let Some(inner) = weak.upgrade() else { return };
            if matches!(woke, Err(std::sync::mpsc::RecvTimeoutError::Disconnected)) {
                return;
            }
            let result = inner.catch_up(None);
            inner.feed.set_trouble(result.err().map(|e| e.to_string()));
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the change follower: {e}");
        }
    }
}

/// Keeps one connection LISTENing on the primary; pokes the follower on every
/// notification and after every (re)connect.
async fn listen(config: tokio_postgres::Config, poke: SyncSender<()>) {
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                let statement = format!("LISTEN {CHANGES_CHANNEL}");
                let subscribe = client.batch_execute(&statement);
                tokio::pin!(subscribe);
                let subscribed = loop {
                    tokio::select! {
                        r = &mut subscribe => break r.is_ok(),
                        m = messages.next() => if !matches!(m, Some(Ok(_))) { break false },
                    }
                };
                if subscribed {
                    let _ = poke.try_send(());
                    while let Some(Ok(_)) = messages.next().await {
                        let _ = poke.try_send(());
                    }
                }
            }
            Err(e) => tracing::debug!("change listener cannot connect: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Inner {
    /// Applies every logged change after the last applied one (up to `own`'s seq, which
    /// is then applied with the row its edit already has) and tells the listeners.
    pub(crate) fn catch_up(&self, own: Option<(Change, Option<RowData>)>) -> Result<(), StoreError> {
        let mut applied = self.feed.applied.lock().unwrap();
        let target = own.as_ref().map(|(c, _)| c.seq - 1);
        loop {
            if target.is_some_and(|t| *applied >= t) {
                break;
            }
            let batch = changes_since(&self.primary, *applied, BATCH)?;
            let batch: Vec<Change> = batch.into_iter().filter(|c| target.is_none_or(|t| c.seq <= t)).collect();
            if batch.is_empty() {
                break;
            }
            let rows = self.current_rows(&batch)?;
            for c in &batch {
                let row = rows.get(&(c.layer.clone(), c.fid)).cloned();
                self.apply(c, row);
                *applied = c.seq;
            }
            self.reads.note_applied()?;
            if batch.len() < BATCH {
                break;
            }
        }
        if let Some((c, row)) = own {
            if c.seq > *applied {
                self.reads.note_applied()?;
                self.apply(&c, row);
                *applied = c.seq;
            }
        }
        Ok(())
    }

    /// Applies to a layer just (re)loaded as of `since` the edits the feed applied after.
    pub(crate) fn replay_since(&self, layer: &PgLayer, since: i64) -> Result<(), StoreError> {
        let applied = self.feed.applied.lock().unwrap();
        let mut from = since;
        while from < *applied {
            let batch: Vec<Change> = changes_since(&self.primary, from, BATCH)?.into_iter().filter(|c| c.seq <= *applied).collect();
            let Some(last) = batch.last().map(|c| c.seq) else { break };
            let mine: Vec<Change> = batch.into_iter().filter(|c| c.layer == layer.info.name).collect();
            let rows = self.current_rows(&mine)?;
            for c in &mine {
                let row = rows.get(&(c.layer.clone(), c.fid)).cloned();
                layer.resident.apply(c.fid, c.before, c.after, row);
            }
            from = last;
        }
        Ok(())
    }

    fn apply(&self, c: &Change, row: Option<RowData>) {
        if let Some(layer) = self.layers.read().unwrap().get(&c.layer).cloned() {
            layer.resident.apply(c.fid, c.before, c.after, row);
        }
        for listener in self.feed.listeners.read().unwrap().iter() {
            listener(c);
        }
    }

    /// The current rows (from the primary) of the features these changes left in layers
    /// whose rows this node holds.
    fn current_rows(&self, changes: &[Change]) -> Result<HashMap<(String, i64), RowData>, StoreError> {
        let mut wanted: HashMap<String, Vec<i64>> = HashMap::new();
        for c in changes.iter().filter(|c| c.after.is_some()) {
            wanted.entry(c.layer.clone()).or_default().push(c.fid);
        }
        let mut out = HashMap::new();
        for (name, fids) in wanted {
            let Some(layer) = self.layers.read().unwrap().get(&name).cloned() else { continue };
            let Some(kind) = layer.info.feature_kind() else { continue };
            if !layer.resident.has_rows() {
                continue;
            }
            let sql = format!("SELECT {} FROM \"{name}\" WHERE fid = ANY($1)", select_columns(kind, true));
            let rows = self.primary.with(async |c| {
                let rows = c.query(sql.as_str(), &[&fids]).await?;
                rows.iter().map(|r| row_data(r, kind)).collect::<Result<Vec<_>, StoreError>>()
            })?;
            for (fid, data) in rows {
                out.insert((name.clone(), fid), data);
            }
        }
        Ok(out)
    }
}

/// Logged edits after `since`, oldest first, at most `limit` (from `db`).
pub(crate) fn changes_since(db: &Db, since: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
    db.with(async |c| {
        let rows = c
            .query(
                "SELECT seq, layer, fid, op, before_min_x, before_min_y, before_max_x, before_max_y,
                 after_min_x, after_min_y, after_max_x, after_max_y, at FROM formosa_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&since, &(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let env = |i: usize| -> Result<Option<Envelope>, tokio_postgres::Error> {
                    Ok(match (r.try_get(i)?, r.try_get(i + 1)?, r.try_get(i + 2)?, r.try_get(i + 3)?) {
                        (Some(min_x), Some(min_y), Some(max_x), Some(max_y)) => Some(Envelope { min_x, min_y, max_x, max_y }),
                        _ => None,
                    })
                };
                Ok(Change { seq: r.try_get(0)?, layer: r.try_get(1)?, fid: r.try_get(2)?, op: r.try_get(3)?, before: env(4)?, after: env(8)?, at: r.try_get(12)? })
            })
            .collect()
    })
}
