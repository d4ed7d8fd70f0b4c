//! WMTS tile matrix sets: GoogleMapsCompatible (EPSG:3857, OGC's well-known scale set)
//! and TWD97 (EPSG:3826), the grid of NLSC's national WMTS (wmts.nlsc.gov.tw/97): origin
//! (50 000, 3 000 000), 256-px tiles, 14 levels at the round map scales 1:12 500 000 …
//! 1:1 000 *at 96 dpi*, which OGC's 0.28-mm pixel writes as scale denominators
//! 11 811 779.58 … 944.94.

use crate::render::crs::MapCrs;
use crate::render::MapView;
use formosa_store::mercator::HALF_WORLD;

pub const TILE_SIZE: u32 = 256;
/// OGC's standardised rendering pixel, in metres.
pub const PIXEL_M: f64 = 0.00028;

#[derive(Debug, Clone)]
pub struct TileMatrix {
    pub id: String,
    pub scale_denominator: f64,
    /// Metres per pixel.
    pub resolution: f64,
    pub matrix_width: u32,
    pub matrix_height: u32,
}

#[derive(Debug, Clone)]
pub struct TileMatrixSet {
    pub id: &'static str,
    pub crs: MapCrs,
    pub crs_urn: &'static str,
    pub well_known_scale_set: Option<&'static str>,
    /// Top-left corner: easting, northing.
    pub origin: (f64, f64),
    pub matrices: Vec<TileMatrix>,
}

pub const GOOGLE: &str = "GoogleMapsCompatible";
pub const TWD97: &str = "TWD97";
/// The sets offered, in capabilities order.
const IDS: [&str; 2] = [GOOGLE, TWD97];
/// Deepest GoogleMapsCompatible level offered (about 1:1 066 at the equator).
const GOOGLE_MAX_LEVEL: u32 = 19;
/// The TWD97 grid covers Taiwan, Penghu and Green/Orchid Islands: eastings 50 km–450 km,
/// northings 2 350 km–3 000 km (Kinmen and Matsu are in EPSG:3825's zone).
const TWD97_MIN_NORTHING: f64 = 2_350_000.0;
const TWD97_MAX_EASTING: f64 = 450_000.0;
/// The inch NLSC's (ArcGIS-made) grid counts 96 dpi in: the US survey inch, 1/39.37 m.
const INCH_M: f64 = 1.0 / 39.37;
/// NLSC's levels as map scales at 96 dpi.
const TWD97_SCALES_96DPI: [f64; 14] =
    [12_500_000.0, 10_000_000.0, 5_000_000.0, 2_500_000.0, 1_000_000.0, 500_000.0, 250_000.0, 100_000.0, 50_000.0, 25_000.0, 10_000.0, 5_000.0, 2_500.0, 1_000.0];

impl TileMatrixSet {
    /// Every set, in the order of `IDS`.
    pub fn all() -> [TileMatrixSet; 2] {
        IDS.map(|id| Self::get(id).expect("a known id"))
    }

    /// The position of set `id` in `all()`.
    pub fn index_of(id: &str) -> Option<usize> {
        IDS.iter().position(|s| *s == id)
    }

    pub fn get(id: &str) -> Option<TileMatrixSet> {
        match id {
            GOOGLE => Some(Self::google()),
            TWD97 => Some(Self::twd97()),
            _ => None,
        }
    }

    pub fn google() -> TileMatrixSet {
        let matrices = (0..=GOOGLE_MAX_LEVEL)
            .map(|z| {
                let resolution = 2.0 * HALF_WORLD / (TILE_SIZE as f64 * (1u64 << z) as f64);
                TileMatrix { id: z.to_string(), scale_denominator: resolution / PIXEL_M, resolution, matrix_width: 1 << z, matrix_height: 1 << z }
            })
            .collect();
        TileMatrixSet {
            id: GOOGLE,
            crs: MapCrs::WebMercator,
            crs_urn: "urn:ogc:def:crs:EPSG::3857",
            well_known_scale_set: Some("urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"),
            origin: (-HALF_WORLD, HALF_WORLD),
            matrices,
        }
    }

    pub fn twd97() -> TileMatrixSet {
        let origin = (50_000.0, 3_000_000.0);
        let matrices = TWD97_SCALES_96DPI
            .iter()
            .enumerate()
            .map(|(i, scale)| {
                let resolution = scale * INCH_M / 96.0;
                let span = TILE_SIZE as f64 * resolution;
                TileMatrix {
                    id: i.to_string(),
                    scale_denominator: resolution / PIXEL_M,
                    resolution,
                    matrix_width: ((TWD97_MAX_EASTING - origin.0) / span).ceil() as u32,
                    matrix_height: ((origin.1 - TWD97_MIN_NORTHING) / span).ceil() as u32,
                }
            })
            .collect();
        TileMatrixSet { id: TWD97, crs: MapCrs::Tm2 { epsg: 3826 }, crs_urn: "urn:ogc:def:crs:EPSG::3826", well_known_scale_set: None, origin, matrices }
    }

    pub fn matrix(&self, id: &str) -> Option<(usize, &TileMatrix)> {
        self.matrices.iter().enumerate().find(|(_, m)| m.id == id)
    }

    /// The tiles of `level` whose box grown by `margin_px` meets a longitude/latitude
    /// box: first and last column and row (None when none does).
    pub fn tiles_touching(&self, level: usize, area: &formosa_store::Envelope, margin_px: f64) -> Option<(u32, u32, u32, u32)> {
        let m = &self.matrices[level];
        let span = TILE_SIZE as f64 * m.resolution;
        let pad = margin_px * m.resolution;
        let b = self.crs.project_envelope(area);
        let col = |x: f64| ((x - self.origin.0) / span).floor();
        let row = |y: f64| ((self.origin.1 - y) / span).floor();
        let (c0, c1) = (col(b[0] - pad), col(b[2] + pad));
        let (r0, r1) = (row(b[3] + pad), row(b[1] - pad));
        if !(c0.is_finite() && c1.is_finite() && r0.is_finite() && r1.is_finite()) || c1 < 0.0 || r1 < 0.0 || c0 >= m.matrix_width as f64 || r0 >= m.matrix_height as f64 {
            return None;
        }
        let clamp = |v: f64, n: u32| v.clamp(0.0, (n - 1) as f64) as u32;
        Some((clamp(c0, m.matrix_width), clamp(r0, m.matrix_height), clamp(c1, m.matrix_width), clamp(r1, m.matrix_height)))
    }

    /// The map a tile shows.
    pub fn tile_view(&self, level: usize, row: u32, col: u32) -> MapView {
        let m = &self.matrices[level];
        let span = TILE_SIZE as f64 * m.resolution;
        let (x0, y0) = (self.origin.0 + col as f64 * span, self.origin.1 - row as f64 * span);
        MapView { crs: self.crs, bbox: [x0, y0 - span, x0 + span, y0], width: TILE_SIZE, height: TILE_SIZE }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twd97_matches_nlsc_and_google_matches_the_well_known_set() {
        let t = TileMatrixSet::twd97();
        assert_eq!(t.matrices.len(), 14);
        assert!((t.matrices[0].scale_denominator - 11_811_779.575_938_62).abs() < 1e-3);
        assert!((t.matrices[13].scale_denominator - 944.942_366_075_089_6).abs() < 1e-6);
        let g = TileMatrixSet::google();
        assert!((g.matrices[0].scale_denominator - 559_082_264.028_717_8).abs() < 1e-3);
        // The tile over Taipei 101 at TWD97 level 13 (1:1000) contains it.
        let (x, y) = MapCrs::Tm2 { epsg: 3826 }.forward(121.5645, 25.0340);
        let m = &t.matrices[13];
        let span = 256.0 * m.resolution;
        let (col, row) = (((x - 50_000.0) / span) as u32, ((3_000_000.0 - y) / span) as u32);
        let v = t.tile_view(13, row, col);
        assert!(v.bbox[0] <= x && x < v.bbox[2] && v.bbox[1] < y && y <= v.bbox[3]);
        assert!(col < m.matrix_width && row < m.matrix_height);
    }

    /// Every tile whose box (plus margin) meets an edit is among the listed ones.
    #[test]
    fn tiles_touching_covers_every_tile_an_edit_meets() {
        let area = formosa_store::Envelope { min_x: 121.5641, min_y: 25.0337, max_x: 121.5649, max_y: 25.0341 };
        for set in TileMatrixSet::all() {
            for level in [set.matrices.len() - 5, set.matrices.len() - 1] {
                let (c0, r0, c1, r1) = set.tiles_touching(level, &area, 64.0).expect("over Taipei");
                for col in c0.saturating_sub(4)..=c1 + 4 {
                    for row in r0.saturating_sub(4)..=r1 + 4 {
                        let meets = set.tile_view(level, row, col).lonlat_bounds(64.0).intersects(&area);
                        let listed = (c0..=c1).contains(&col) && (r0..=r1).contains(&row);
                        assert!(!meets || listed, "{} level {level}: tile {row}/{col} meets the edit but is not listed", set.id);
                    }
                }
            }
        }
        let far = formosa_store::Envelope { min_x: 0.0, min_y: 0.0, max_x: 1.0, max_y: 1.0 };
        assert_eq!(TileMatrixSet::twd97().tiles_touching(13, &far, 64.0), None, "off the TWD97 grid");
    }
}
