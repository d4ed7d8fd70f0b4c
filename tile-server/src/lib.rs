//! Formosa's HTTP server: one router over the store traits and the encoders
//! (`formosa-encoders`). HTTP only: handlers, the tile cache with typed keys, limits, the
//! tile builders, and the services behind the handlers (edits, invalidation, 3D Tiles
//! plans). The `formosa` binary (`formosa-cli`) opens a store and calls `server::serve`.

pub mod builders;
pub mod cache;
pub mod config;
pub mod handlers;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod ogc;
pub mod problem;
pub mod server;
pub mod services;
pub mod state;
pub mod tile_key;
