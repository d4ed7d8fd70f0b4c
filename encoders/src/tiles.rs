//! Vector tiles from the store: which features go into a tile, at what detail.
//!
//! Generalisation is by feature dropping, in two steps chosen by measurement on 1 M
//! parcels + 200 k buildings (docs/ARCHITECTURE.md, "Vector tiles"):
//! - per layer kind, a minzoom matching where styles/basemap.json starts drawing it
//!   (parcels z14, a zoom before their z15 lines; buildings z13; pipelines z12). Below it
//!   the layer is absent: a z12 tile over Taipei with every parcel in it was 1.8 MB and
//!   took 0.5 s, for lines no client draws at that zoom;
//! - from minzoom to the detail zoom, features whose envelope is smaller than a pixel are
//!   left out *before* their geometry is read (the R-tree gives envelopes), and what
//!   remains is simplified to a quarter pixel.

use crate::cluster;
use crate::labels::label_layer;
use crate::mvt::geometry::{to_tile, TileGeometry, TileSpace};
use crate::mvt::{LayerBuilder, TileFeature, EXTENT};
use formosa_store::mercator::{tile_bounds_m, to_lonlat, to_mercator};
use formosa_store::{Attributes, Catalog, FeatureLayer, LayerKind, StoreError, Value};

/// Tile units per pixel of a 256-px tile.
const UNITS_PER_PX: f64 = EXTENT as f64 / 256.0;
/// Buffer around each tile, in tile units (8 px), so lines and fills join across edges.
pub const BUFFER: u32 = 128;

/// How a layer is tiled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileRules {
    /// No features below this zoom.
    pub minzoom: u8,
    /// Deepest zoom with new detail; clients overzoom beyond it.
    pub maxzoom: u8,
    /// From this zoom on, every feature is kept at full detail.
    pub detail_zoom: u8,
    /// Include the source attributes that map to no column (useful for generic layers).
    pub extra_attributes: bool,
    /// From this zoom on, polygons also get a label point in `{layer}_label`.
    pub label_minzoom: Option<u8>,
    /// The attributes label points carry (all when `None`): a parcel's label needs its
    /// 地號, not the six columns its polygon already carries.
    pub label_fields: Option<&'static [&'static str]>,
    /// Below the detail zoom, only the features whose column is at least this much (the
    /// style draws the same: styles/basemap.json filters on it).
    pub mains_only: Option<(&'static str, f64)>,
}

/// Pipes drawn below the pipelines' detail zoom (z14): mains of 300 mm and more, as utility
/// maps generalise. At z12 that is 28 % of the generated network; the z12 pipelines part
/// over Taipei was 62 KB gzipped and 5.4 ms, and the soak's status edits rebuilt it about
/// once a second in each of 125 tiles.
pub const PIPE_MAINS_MM: f64 = 300.0;

pub fn rules(kind: Option<LayerKind>) -> TileRules {
    match kind {
        // 地號 labels are drawn from z17: their points come with the z16 tiles (overzoomed).
        Some(LayerKind::Cadastral) => TileRules {
            minzoom: 14,
            maxzoom: 16,
            detail_zoom: 15,
            extra_attributes: false,
            label_minzoom: Some(16),
            label_fields: Some(&["parcel_no", "section"]),
            mains_only: None,
        },
        Some(LayerKind::Buildings) => TileRules { minzoom: 13, maxzoom: 16, detail_zoom: 15, extra_attributes: false, label_minzoom: None, label_fields: None, mains_only: None },
        // Disaster reports: every one at every zoom (points are never dropped as sub-pixel;
        // below z16 they are clustered, see cluster.rs).
        Some(LayerKind::Incidents) => TileRules { minzoom: 0, maxzoom: 16, detail_zoom: 0, extra_attributes: false, label_minzoom: None, label_fields: None, mains_only: None },
        Some(LayerKind::Pipelines) => TileRules {
            minzoom: 12,
            maxzoom: 16,
            detail_zoom: 14,
            extra_attributes: false,
            label_minzoom: None,
            label_fields: None,
            mains_only: Some(("diameter_mm", PIPE_MAINS_MM)),
        },
        _ => TileRules { minzoom: 0, maxzoom: 14, detail_zoom: 12, extra_attributes: true, label_minzoom: Some(0), label_fields: None, mains_only: None },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error("no vector layer named '{0}'")]
    UnknownLayer(String),
    #[error("tile {z}/{x}/{y} does not exist: at zoom {z}, x and y go from 0 to {max}")]
    OutOfRange { z: u8, x: u32, y: u32, max: u64 },
    #[error("zoom {0} is out of range (0–24)")]
    BadZoom(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub const MAX_ZOOM: u32 = 24;

pub fn check_tile(z: u32, x: u32, y: u32) -> Result<u8, TileError> {
    if z > MAX_ZOOM {
        return Err(TileError::BadZoom(z));
    }
    let n = 1u64 << z;
    if x as u64 >= n || y as u64 >= n {
        return Err(TileError::OutOfRange { z: z as u8, x, y, max: n - 1 });
    }
    Ok(z as u8)
}

/// The render buffer of a zoom-z tile, in Web Mercator metres.
fn buffer_m(z: u8) -> f64 {
    formosa_store::mercator::tile_size_m(z) * BUFFER as f64 / EXTENT as f64
}

/// Tile z/x/y plus its render buffer, in lon/lat: padded in Web Mercator (where the
/// buffer is square at every latitude). What a tile reads, and what an edit must meet to
/// change it.
pub fn buffered_bounds(z: u8, x: u32, y: u32) -> formosa_store::Envelope {
    let m = tile_bounds_m(z, x, y);
    let pad = buffer_m(z);
    let (min_x, min_y) = to_lonlat(m.min_x - pad, m.min_y - pad);
    let (max_x, max_y) = to_lonlat(m.max_x + pad, m.max_y + pad);
    formosa_store::Envelope { min_x, min_y, max_x, max_y }
}

/// The tiles of zoom z whose bounds plus render buffer meet a longitude/latitude box
/// (`buffered_bounds` the other way round): first and last column and row.
pub fn tiles_touching(area: &formosa_store::Envelope, z: u8) -> (u32, u32, u32, u32) {
    let pad = buffer_m(z);
    let (x0, y0) = to_mercator(area.min_x, area.min_y);
    let (x1, y1) = to_mercator(area.max_x, area.max_y);
    formosa_store::mercator::tiles_covering_m(&formosa_store::Envelope { min_x: x0 - pad, min_y: y0 - pad, max_x: x1 + pad, max_y: y1 + pad }, z)
}

/// Adds one store layer's features for tile z/x/y to `builder`, and their label points
/// (those inside the tile proper) to `labels`.
pub fn add_layer(layer: &dyn FeatureLayer, z: u8, x: u32, y: u32, builder: &mut LayerBuilder, labels: &mut LayerBuilder) -> Result<(), StoreError> {
    let kind = layer.info().feature_kind();
    let r = rules(kind);
    if kind.is_none() || z < r.minzoom {
        return Ok(());
    }
    let space = TileSpace::new(z, x, y, EXTENT, BUFFER);
    let padded = buffered_bounds(z, x, y);
    let generalise = z < r.detail_zoom;
    let units_per_m = EXTENT as f64 / formosa_store::mercator::tile_size_m(z);
    let min_size = if generalise { UNITS_PER_PX } else { 0.0 };
    let mut entries = layer.query_envelopes(&padded);
    if min_size > 0.0 {
        entries.retain(|(_, e)| {
            let (x0, y0) = to_mercator(e.min_x, e.min_y);
            let (x1, y1) = to_mercator(e.max_x, e.max_y);
            (x1 - x0).max(y1 - y0) * units_per_m >= min_size
        });
    }
    // Clusters only from the tile's own cells: a cell's cluster moves with every report
    // in it, so it must live in the one tile an edit there invalidates.
    let clusters = if cluster::clusters(layer, z) { cluster::gather(layer, z, &mut entries, cluster::cells_meeting(z, &tile_bounds_m(z, x, y)))? } else { Vec::new() };
    let mut ids: Vec<i64> = entries.into_iter().map(|(id, _)| id).collect();
    ids.sort_unstable();
    if let Some((column, least)) = r.mains_only.filter(|_| generalise) {
        let sizes = layer.column(&ids, column)?;
        let mut sizes = sizes.iter();
        ids.retain(|_| sizes.next().and_then(Value::as_f64).is_some_and(|v| v >= least));
    }
    let tolerance = if generalise { UNITS_PER_PX / 4.0 } else { 0.0 };
    let min_area = if generalise { UNITS_PER_PX * UNITS_PER_PX } else { 0.0 };
    let attributes = if r.extra_attributes { Attributes::All } else { Attributes::Typed };
    let with_labels = r.label_minzoom.is_some_and(|lz| z >= lz);
    // Label points come with the rows (computed once per feature, see store::labels).
    let features = if with_labels { layer.labelled_features(&ids, attributes)? } else { layer.features(&ids, attributes)?.into_iter().map(|f| (f, None)).collect() };
    for (f, label) in features.into_iter().chain(clusters.into_iter().map(|c| (c, None))) {
        if let Some(p) = label.map(|(lon, lat)| space.project(lon, lat)) {
            if (0.0..EXTENT as f64).contains(&p[0]) && (0.0..EXTENT as f64).contains(&p[1]) {
                let point = TileGeometry::Points(vec![[p[0] as i32, p[1] as i32]]);
                let fields: Vec<_> = match r.label_fields {
                    Some(names) => f.properties.iter().filter(|(k, _)| names.contains(&k.as_ref())).cloned().collect(),
                    None => f.properties.clone(),
                };
                labels.add(TileFeature { id: f.id as u64, geometry: point, properties: &fields });
            }
        }
        if let Some(geometry) = to_tile(&f.geometry, &space, tolerance, min_area) {
            builder.add(TileFeature { id: f.id as u64, geometry, properties: &f.properties });
        }
    }
    Ok(())
}

/// How many features a vector tile of `layers` will read (an R-tree count per layer, no
/// row read): its cost, known before it is made.
pub fn features_to_read(store: &dyn Catalog, layers: &[String], z: u8, x: u32, y: u32) -> usize {
    let padded = buffered_bounds(z, x, y);
    layers.iter().filter_map(|name| store.feature_layer(name)).filter(|l| l.info().feature_kind().is_some_and(|k| z >= rules(Some(k)).minzoom)).map(|l| l.count(&padded)).sum()
}

/// Every feature layer of the store, in drawing order (areas under lines under points),
/// as the composite base map carries them.
pub fn basemap_layers(store: &dyn Catalog) -> Vec<String> {
    let order = |kind: Option<LayerKind>| match kind {
        Some(LayerKind::Vector) => 0,
        Some(LayerKind::Cadastral) => 1,
        Some(LayerKind::Buildings) => 2,
        Some(LayerKind::Pipelines) => 3,
        _ => 4,
    };
    let mut layers: Vec<(i32, String)> = store.layers().iter().filter(|l| l.feature_kind().is_some()).map(|l| (order(l.feature_kind()), l.name.clone())).collect();
    layers.sort();
    layers.into_iter().map(|(_, n)| n).collect()
}

/// An MVT tile with one MVT layer per named store layer, plus `{layer}_label` points for
/// polygon layers (layers with nothing in the tile are left out; a tile with nothing at
/// all is empty, zero bytes).
pub fn vector_tile(store: &dyn Catalog, layers: &[String], z: u8, x: u32, y: u32) -> Result<Vec<u8>, TileError> {
    let mut tile = Vec::new();
    for name in layers {
        let layer = store.feature_layer(name).ok_or_else(|| TileError::UnknownLayer(name.clone()))?;
        let mut builder = LayerBuilder::new(name);
        let mut labels = LayerBuilder::new(&label_layer(name));
        add_layer(layer.as_ref(), z, x, y, &mut builder, &mut labels)?;
        for b in [builder, labels] {
            if !b.is_empty() {
                b.finish_into(&mut tile);
            }
        }
    }
    Ok(tile)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listed tiles are exactly those whose buffered bounds meet the box.
    #[test]
    fn tiles_touching_is_buffered_bounds_inverted() {
        let area = formosa_store::Envelope { min_x: 121.5641, min_y: 25.0337, max_x: 121.5649, max_y: 25.0341 };
        for z in [10u8, 15, 17, 20] {
            let (x0, y0, x1, y1) = tiles_touching(&area, z);
            let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
            for x in cx.saturating_sub(6)..=cx + 6 {
                for y in cy.saturating_sub(6)..=cy + 6 {
                    let listed = (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
                    assert_eq!(listed, buffered_bounds(z, x, y).intersects(&area), "z{z} {x}/{y}");
                }
            }
        }
    }
}
