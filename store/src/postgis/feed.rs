//! The change feed across nodes: when to look at the change log. Every edit commits its
//! row and its change-log entry in one transaction on the primary, under one advisory
//! lock, so `seq` order is commit order and has no gaps. Each node LISTENs on the primary;
//! a notification (or a reconnect, or a periodic look) wakes the follower thread, which
//! catches the node up (`follow.rs`: from the last `seq` applied, in order).

use super::db::Db;
use super::schema::CHANGES_CHANNEL;
use crate::edit::Change;
use crate::model::Envelope;
use crate::traits::ChangeListener;
use crate::StoreError;
use futures_util::StreamExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// How often the follower looks at the log even without a notification (a lost
/// notification, a listener reconnecting): the bound on how late a change can arrive.
const POLL: Duration = Duration::from_secs(2);
pub(crate) struct Feed {
    /// The newest seq applied to this node's memory and told to its listeners.
    pub(crate) applied: Mutex<i64>,
    pub(crate) listeners: RwLock<Vec<ChangeListener>>,
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

    pub fn set_trouble(&self, t: Option<String>) {
        let mut slot = self.trouble.lock().unwrap();
        match (&*slot, &t) {
            (None, Some(why)) => tracing::warn!("store database unreachable: {why}; serving what this node holds"),
            (Some(_), None) => tracing::info!("store database reachable again; change feed caught up"),
            _ => {}
        }
        *slot = t;
    }

    /// Starts the LISTEN task (on `primary`'s runtime) and the follower thread, which calls
    /// `catch_up` on every wake-up until it returns `None` (the store is gone); its errors
    /// are the store's trouble until the next success.
    pub fn follow(&self, primary: &Db, catch_up: impl Fn() -> Option<Result<(), StoreError>> + Send + 'static, trouble: impl Fn(Option<String>) + Send + 'static) {
        let Some(wake) = self.wake.1.lock().unwrap().take() else { return };
        primary.spawn(listen(primary.config().clone(), self.wake.0.clone()));
        let spawned = std::thread::Builder::new().name("formosa-feed".into()).spawn(move || loop {
            let woke = wake.recv_timeout(POLL);
            if matches!(woke, Err(std::sync::mpsc::RecvTimeoutError::Disconnected)) {
                return;
            }
            match catch_up() {
                None => return,
                Some(result) => trouble(result.err().map(|e| e.to_string())),
            }
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
