//! Formosa's server: one HTTP router over the store's encoders, and the library behind the
//! `formosa` command-line tool.

pub mod config;
pub mod problem;
pub mod server;
pub mod mvt;
pub mod tiles;
pub mod cluster;
pub mod labels;
pub mod geojson;
pub mod ogc_features;
pub mod live;
pub mod limits;
pub mod seed;
pub mod tiles3d;
pub mod http_3dtiles;
pub mod http_tiles;
pub mod cache;
pub mod builders;
pub mod fonts;
pub mod terrain;
pub mod http_style;
pub mod render;
pub mod ogc;
