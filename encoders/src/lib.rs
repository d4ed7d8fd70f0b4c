//! Formosa's encoders: every output the server and `formosa seed` make, as pure functions
//! over the store traits (`formosa_store::{Catalog, FeatureLayer, Pyramids, Source}`).
//! No HTTP, no async runtime: the server crate calls these from its tile builders.
//!
//! - `tiles` (which features a vector tile holds), `mvt` (the MVT 2.1 encoder), `cluster`,
//!   `labels`: vector tiles;
//! - `terrain`: quantized-mesh-1.0 and terrain-RGB from the elevation pyramid;
//! - `tiles3d`: OGC 3D Tiles 1.1 for buildings and pipelines;
//! - `render`: the base-map style drawn on the server (WMS/WMTS maps), with `grids` (the
//!   WMTS tile matrix sets), `wmts` (one rendered tile of a grid), `legend` and
//!   `feature_info`;
//! - `fonts` (SDF glyph ranges), `geojson`, `markup` (XML/HTML escaping).

pub mod cluster;
pub mod feature_info;
pub mod fonts;
pub mod geojson;
pub mod grids;
pub mod labels;
pub mod legend;
pub mod markup;
pub mod mvt;
pub mod render;
pub mod terrain;
pub mod tiles;
pub mod tiles3d;
pub mod wmts;
