//! Formosa's HTTP server: one router over the store traits and the encoders
//! (`formosa-encoders`). HTTP only: handlers, the tile cache with typed keys, limits, the
//! tile builders, and the services behind the handlers (edits, invalidation, 3D Tiles
//! plans), and the server's life (drain on SIGTERM, reload on SIGHUP, request logs). The
//! `formosa` binary (`formosa-cli`) opens a store and calls `server::serve`.

pub mod builders;
pub mod cache;
pub mod config;
pub mod handlers;
pub mod http;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod ogc;
pub mod problem;
pub mod reload;
pub mod request_log;
pub mod server;
pub mod services;
pub mod state;
pub mod tile_key;
pub mod work;
