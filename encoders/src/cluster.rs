//! Clustering of disaster reports below their detail zoom, for tiles and maps alike.
//!
//! After a surge, a city holds tens of thousands of reports: at the end of the 10-minute
//! soak (146 k incidents over Taipei) a z12 incidents tile was 333 KB gzipped and took
//! 28 ms, z10 955 KB and 78 ms, for dots no one can tell apart, and every new report
//! rebuilt it. Below `CLUSTER_BELOW` the points of a layer that clusters are gathered
//! per grid cell instead: a 16 × 16 grid per tile of that zoom (32 px of a 512-px
//! MapLibre tile), aligned to the world's tile grid so neighbouring tiles, zooms and
//! maps agree. A cell holding one report shows the report itself; a cell holding more
//! shows one point at their mean position with `point_count`, `point_count_abbreviated`
//! (the names MapLibre's own GeoJSON clustering uses) and the highest `severity`.
//! Lines and areas (closures) are never clustered (those under ~2 m count as points).

use formosa_store::mercator::{tile_size_m, to_lonlat, to_mercator};
use formosa_store::traits::ENVELOPE_ROUNDING_DEG;
use formosa_store::{Envelope, Feature, FeatureLayer, Geometry, LayerKind, StoreError, Value};
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;

/// From this tile zoom on, every report is shown on its own: z16, about 2.4 m a pixel,
/// as MapLibre's own clustering (supercluster) stops at z16–z17. At z15 in the 10-minute
/// soak, unclustered tiles of ~1,000 reports cost 1.5 ms to rebuild after each report.
pub const CLUSTER_BELOW: u8 = 16;
/// Grid cells per tile side at the tile's zoom.
pub const CELLS_PER_TILE: f64 = 16.0;

/// The most map pixels a cell's diagonal spans in a server-drawn map: a cell is 32 px at
/// its tile zoom (of a 512-px tile) and grows until the next zoom takes over, to 64 px.
/// An edit must reach this much further to find every map tile whose clusters it moves.
pub const MAX_CELL_DIAGONAL_PX: f64 = 64.0 * std::f64::consts::SQRT_2;

/// Whether `layer`'s points are clustered at tile zoom `z`.
pub fn clusters(layer: &dyn FeatureLayer, z: u8) -> bool {
    layer.info().feature_kind() == Some(LayerKind::Incidents) && z < CLUSTER_BELOW
}

/// Whether an envelope is a point's: a store's index may round envelopes outward by up
/// to `ENVELOPE_ROUNDING_DEG` on each side (32-bit boxes: a point spans up to two float
/// steps, 1.5e-5° at Taiwan's longitudes), so anything under about 2 m counts.
pub fn point_sized(e: &Envelope) -> bool {
    const MAX_DEG: f64 = 2.0 * ENVELOPE_ROUNDING_DEG;
    e.max_x - e.min_x <= MAX_DEG && e.max_y - e.min_y <= MAX_DEG
}

/// Width of a cluster cell at tile zoom `z`, in Web Mercator metres.
pub fn cell_size_m(z: u8) -> f64 {
    tile_size_m(z) / CELLS_PER_TILE
}

/// A grid cell's column and row from the Web Mercator origin (the west, south corner of
/// a cell at the x, y of its index times `cell_size_m`).
pub type Cell = (i64, i64);

/// Gathers the points among `entries` (fids and envelopes from the R-tree) into cells at
/// tile zoom `z`. Points in cells that `keep` refuses are dropped; cells with one point
/// leave its fid in `entries`; cells with more become cluster features, returned. The
/// entries that are not points stay as they are.
pub fn gather(layer: &dyn FeatureLayer, z: u8, entries: &mut Vec<(i64, Envelope)>, keep: impl Fn(Cell) -> bool) -> Result<Vec<Feature>, StoreError> {
    let cell_m = cell_size_m(z);
    let mut points: Vec<(i64, Envelope, f64, f64, Cell)> = Vec::new();
    entries.retain(|(id, e)| {
        if !point_sized(e) {
            return true;
        }
        let (mx, my) = to_mercator((e.min_x + e.max_x) / 2.0, (e.min_y + e.max_y) / 2.0);
        let cell = ((mx / cell_m).floor() as i64, (my / cell_m).floor() as i64);
        if keep(cell) {
            points.push((*id, *e, mx, my, cell));
        }
        false
    });
    let ids: Vec<i64> = points.iter().map(|p| p.0).collect();
    let severities = layer.column(&ids, "severity")?;
    struct Acc {
        first: i64,
        envelope: Envelope,
        sum_x: f64,
        sum_y: f64,
        count: u64,
        severity: Option<i64>,
    }
    let mut cells: HashMap<Cell, Acc> = HashMap::default();
    for (&(id, envelope, mx, my, cell), severity) in points.iter().zip(&severities) {
        let severity = if let Value::Integer(s) = severity { Some(*s) } else { None };
        let acc = cells.entry(cell).or_insert(Acc { first: id, envelope, sum_x: 0.0, sum_y: 0.0, count: 0, severity: None });
        acc.sum_x += mx;
        acc.sum_y += my;
        acc.count += 1;
        acc.severity = acc.severity.max(severity);
    }
    let mut out = Vec::new();
    for (cell, acc) in cells {
        if acc.count == 1 {
            entries.push((acc.first, acc.envelope));
            continue;
        }
        let (lon, lat) = to_lonlat(acc.sum_x / acc.count as f64, acc.sum_y / acc.count as f64);
        let mut properties =
            vec![(Cow::Borrowed("point_count"), Value::Integer(acc.count as i64)), (Cow::Borrowed("point_count_abbreviated"), Value::Text(abbreviated(acc.count)))];
        if let Some(s) = acc.severity {
            properties.push((Cow::Borrowed("severity"), Value::Integer(s)));
        }
        out.push(Feature { id: cluster_id(z, cell), geometry: Geometry::Point([lon, lat, 0.0]), properties });
    }
    // Cells come out of a hash map: sort, so equal data makes equal tiles (and ETags).
    out.sort_unstable_by_key(|f| f.id);
    Ok(out)
}

/// A cluster's feature id: a flag bit above every fid a store hands out in practice, the
/// zoom and the cell, kept under 2^53 so JavaScript clients read it exactly.
fn cluster_id(z: u8, (cx, cy): Cell) -> i64 {
    // At z < 16 a cell index from the centre fits in 19 bits (±16 × 2^15 / 2, signed).
    const MASK: i64 = (1 << 19) - 1;
    (1 << 50) | (z as i64) << 40 | (cx & MASK) << 20 | (cy & MASK)
}

/// 1234 → "1.2k", 45678 → "46k", as MapLibre abbreviates cluster counts.
fn abbreviated(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1000..=9999 => format!("{:.1}k", (n as f64 / 100.0).round() / 10.0),
        _ => format!("{}k", (n as f64 / 1000.0).round() as u64),
    }
}

/// The cells whose area meets a Web Mercator box, as a test for [`gather`].
pub fn cells_meeting(z: u8, m: &Envelope) -> impl Fn(Cell) -> bool {
    let cell_m = cell_size_m(z);
    // A tile's edges fall on cell edges; the tolerance keeps rounding from adding a row.
    const EPS: f64 = 1e-6;
    let (x0, y0) = ((m.min_x / cell_m + EPS).floor() as i64, (m.min_y / cell_m + EPS).floor() as i64);
    let (x1, y1) = ((m.max_x / cell_m - EPS).ceil() as i64 - 1, (m.max_y / cell_m - EPS).ceil() as i64 - 1);
    move |(cx, cy)| (x0..=x1).contains(&cx) && (y0..=y1).contains(&cy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_abbreviated_like_maplibre() {
        assert_eq!(abbreviated(7), "7");
        assert_eq!(abbreviated(999), "999");
        assert_eq!(abbreviated(1234), "1.2k");
        assert_eq!(abbreviated(45678), "46k");
    }

    /// A tile's own cells are exactly those inside it: 16 per side, none in the buffer.
    #[test]
    fn a_tiles_cells_are_its_own() {
        let (z, x, y) = (12u8, 3428u32, 1753u32);
        let b = formosa_store::mercator::tile_bounds_m(z, x, y);
        let inside = cells_meeting(z, &b);
        let cell_m = cell_size_m(z);
        let (cx0, cy0) = ((b.min_x / cell_m).round() as i64, (b.min_y / cell_m).round() as i64);
        let count = (cx0 - 2..cx0 + 18).flat_map(|cx| (cy0 - 2..cy0 + 18).map(move |cy| (cx, cy))).filter(|c| inside(*c)).count();
        assert_eq!(count, 256);
        assert!(inside((cx0, cy0)) && inside((cx0 + 15, cy0 + 15)) && !inside((cx0 - 1, cy0)) && !inside((cx0, cy0 + 16)));
    }

    #[test]
    fn cluster_ids_differ_by_zoom_and_cell_and_stay_below_2_pow_53() {
        let a = cluster_id(14, (-200_000, 150_000));
        assert!(a < 1 << 53 && a > 0);
        assert_ne!(a, cluster_id(13, (-200_000, 150_000)));
        assert_ne!(a, cluster_id(14, (-199_999, 150_000)));
    }
}
