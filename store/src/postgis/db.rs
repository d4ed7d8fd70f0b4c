//! Connections to one PostgreSQL server: a pool (deadpool) for short statements, single
//! connections for imports and for LISTEN, all driven by the store's own small tokio
//! runtime. The store traits are synchronous, so every call blocks its caller until the
//! database answers or a timeout passes; a connection the server dropped (a restart)
//! leaves the pool and the next call opens a new one.

use crate::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::future::Future;
use std::time::Duration;
use tokio_postgres::NoTls;

/// The longest any single store call waits for the database (imports excepted).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Db {
    /// Taken on drop, to shut down without waiting (a store may be dropped on a thread
    /// of another runtime, where blocking is not allowed).
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    config: tokio_postgres::Config,
    /// The URL without its password, for logs and errors.
    pub location: String,
}

impl Db {
    /// Connects to `url` (a libpq URL, `postgresql://user@host:port/db`) and checks that
    /// the server answers.
    pub fn connect(url: &str) -> Result<Db, StoreError> {
        let location = without_password(url);
        let fail = |reason: String| StoreError::Connect { url: location.clone(), reason };
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| fail(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("formosa");
        }
        // Dead peers (a pulled cable, a killed VM) are noticed within a minute, not hours.
        config.keepalives_idle(Duration::from_secs(30));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("formosa-postgis")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the database runtime: {e}")))?;
        let manager = Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let db = Db { runtime: Some(runtime), pool, config, location: location.clone() };
        db.with(async |c| Ok(c.simple_query("SELECT 1").await?)).map_err(|e| fail(reason_of(e)))?;
        Ok(db)
    }

    /// Runs `fut` to completion on the calling thread, inside the store's runtime (its
    /// timers and sockets are driven there). Never call from the store's own runtime.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _inside = self.runtime().enter();
        futures_executor::block_on(fut)
    }

    /// Spawns a background task on the store's runtime.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        self.runtime().spawn(fut);
    }

    /// Runs `fut` on the calling thread within [`CALL_TIMEOUT`].
    pub fn run<T>(&self, fut: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.block_on(async {
            match tokio::time::timeout(CALL_TIMEOUT, fut).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Unavailable(format!("the database did not answer within {} s", CALL_TIMEOUT.as_secs()))),
            }
        })
    }

    /// A pooled connection.
    pub async fn pooled(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }

    /// Runs `f` with a pooled connection, within [`CALL_TIMEOUT`].
    pub fn with<T>(&self, f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.run(async {
            let client = self.pooled().await?;
            f(&client).await
        })
    }

    /// Opens a connection of its own (for an import's long transaction, or for LISTEN);
    /// its driver runs on the store's runtime until the client is dropped.
    pub async fn dedicated(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, connection) = self.config.connect(NoTls).await?;
        self.runtime().spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives as long as the store")
    }

    /// The connection settings (for the change listener, which drives its own connection).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The URL with its password replaced by `***`.
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn reason_of(e: StoreError) -> String {
    match e {
        StoreError::Unavailable(m) | StoreError::Database(m) => m,
        other => other.to_string(),
    }
}

/// Database errors: lost connections and a server shutting down or starting up mean the
/// database is unavailable (try again later); anything else is the statement's fault.
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let text = match db.detail() {
                    Some(detail) => format!("{} ({detail})", db.message()),
                    None => db.message().to_string(),
                };
                // Class 08: connection exception; 57P01-57P03: shutdown, crash, starting up.
                if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
                    StoreError::Unavailable(text)
                } else {
                    StoreError::Database(text)
                }
            }
            None => StoreError::Unavailable(format!("database connection: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(without_password("postgresql://gis:s3cret@db.example:5432/formosa"), "postgresql://gis:***@db.example:5432/formosa");
        assert_eq!(without_password("postgresql://gis@db/formosa"), "postgresql://gis@db/formosa");
        assert_eq!(without_password("postgresql:///formosa?host=/run/postgresql"), "postgresql:///formosa?host=/run/postgresql");
    }
}
