//! Village-like polygons (村里) across Taiwan's main island, for the benchmark on "data
//! nobody tuned for": thousands of small, simple polygons covering the whole island, like
//! MOI's 村里界 (about 7,700 villages; median ~21 vertices, a few hundred at most).
//!
//! A jittered grid of cells whose shared edges are bent the same way from both sides, so
//! neighbours meet without gaps or overlaps. Each edge has its own number of vertices, from
//! a heavy-tailed draw (most edges 1–10 segments, a few up to 200), which gives the spread
//! of vertex counts real boundaries have. Cells whose centre is off the island are left out.

use std::f64::consts::TAU;
use std::path::Path;

use gdal::vector::{LayerOptions, OGRwkbGeometryType};

use crate::cadastral::DBF_DATE;
use crate::city::on_main_island;
use crate::gdalio::{self, FeatureWriter, Field};
use crate::geom::{Geom, Polygon, Pt};
use crate::rng::Rng;
use crate::Result;

/// Main island extent in TWD97 TM2 (EPSG:3826) metres, a little larger than the outline.
const ISLAND_MIN: Pt = (150_000.0, 2_410_000.0);
const ISLAND_MAX: Pt = (360_000.0, 2_805_000.0);
/// Area of the main island, km² (for the cell size that gives the asked count).
const ISLAND_KM2: f64 = 35_800.0;

/// Streams of the RNG (see `rng::hash`): corner jitter, edge shape, names.
const CORNER: i64 = 41;
const EDGE: i64 = 42;
const NAME: i64 = 43;

/// One turn of the edges' wiggle, in radians: 6.28 rather than τ, because the villages
/// the benchmark figures were measured on (docs/ARCHITECTURE.md) were made with it.
#[allow(clippy::approx_constant)]
const TURN: f64 = 6.28;

const FIELDS: &[Field] =
    &[gdalio::string("VILLCODE", 16), gdalio::string("COUNTYNAME", 12), gdalio::string("TOWNNAME", 12), gdalio::string("VILLNAME", 12), gdalio::integer("POP", 9)];

/// Counties from north to south, by the northing band they get (a rough stand-in).
const COUNTIES: &[(f64, &str)] = &[
    (2_760_000.0, "新北市"),
    (2_735_000.0, "桃園市"),
    (2_700_000.0, "新竹縣"),
    (2_680_000.0, "苗栗縣"),
    (2_650_000.0, "臺中市"),
    (2_620_000.0, "彰化縣"),
    (2_595_000.0, "雲林縣"),
    (2_570_000.0, "嘉義縣"),
    (2_530_000.0, "臺南市"),
    (2_480_000.0, "高雄市"),
    (f64::NEG_INFINITY, "屏東縣"),
];
const NAME_CHARS: &[&str] = &[
    "興", "安", "和", "平", "福", "德", "仁", "義", "忠", "孝", "信", "中", "正", "文", "華", "新", "東", "西", "南", "北", "光", "明", "永", "春", "大", "林", "田", "山", "水",
    "長",
];

pub struct Village {
    pub code: String,
    pub county: &'static str,
    pub town: String,
    pub name: String,
    pub population: i64,
    pub polygon: Polygon,
}

/// The cell grid for about `count` villages on the island.
struct Cells {
    seed: u64,
    size: f64,
}

impl Cells {
    fn new(seed: u64, count: usize) -> Cells {
        Cells { seed, size: (ISLAND_KM2 * 1e6 / count.max(1) as f64).sqrt() }
    }

    /// Corner (i, j), jittered by up to a fifth of a cell.
    fn corner(&self, i: i64, j: i64) -> Pt {
        let mut r = Rng::derive(self.seed, &[CORNER, i, j]);
        let s = self.size;
        (ISLAND_MIN.0 + (i as f64 + r.range(-0.2, 0.2)) * s, ISLAND_MIN.1 + (j as f64 + r.range(-0.2, 0.2)) * s)
    }

    /// The points strictly between the two corners of edge `key`, from `a` to `b`. The
    /// same edge gives the same points to both cells that share it.
    fn edge(&self, key: [i64; 3], a: Pt, b: Pt) -> Vec<Pt> {
        let mut r = Rng::derive(self.seed, &[EDGE, key[0], key[1], key[2]]);
        // Log-normal segment count (median ~3, a long tail up to 200): a village's
        // vertices come out with a median of ~21 and a few hundred at most, as MOI's do.
        let g = (-2.0 * (1.0 - r.f64()).ln()).sqrt() * (TAU * r.f64()).cos(); // N(0, 1), Box–Muller
        let n = ((2.8 * (1.4 * g).exp()).round() as usize).clamp(1, 200);
        let (phase1, phase2) = (r.range(0.0, TURN), r.range(0.0, TURN));
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt();
        let (nx, ny) = (-dy / len, dx / len);
        (1..n)
            .map(|k| {
                let t = k as f64 / n as f64;
                // A gentle wiggle, zero at the corners, at most ~5 % of the edge sideways.
                let off = 0.05 * len * (std::f64::consts::PI * t).sin() * (0.7 * (3.0 * t * TURN + phase1).sin() + 0.3 * (7.0 * t * TURN + phase2).sin());
                (a.0 + dx * t + nx * off, a.1 + dy * t + ny * off)
            })
            .collect()
    }

    /// Cell (i, j)'s ring: its four edges, counter-clockwise.
    fn ring(&self, i: i64, j: i64) -> Vec<Pt> {
        let c = [self.corner(i, j), self.corner(i + 1, j), self.corner(i + 1, j + 1), self.corner(i, j + 1)];
        let mut ring = Vec::new();
        // Bottom and right edges run in their canonical direction (from the lower index).
        ring.push(c[0]);
        ring.extend(self.edge([0, i, j], c[0], c[1]));
        ring.push(c[1]);
        ring.extend(self.edge([1, i + 1, j], c[1], c[2]));
        ring.push(c[2]);
        // Top and left edges are the neighbours' bottom and right edges, walked backwards.
        let mut top = self.edge([0, i, j + 1], c[3], c[2]);
        top.reverse();
        ring.extend(top);
        ring.push(c[3]);
        let mut left = self.edge([1, i, j], c[0], c[3]);
        left.reverse();
        ring.extend(left);
        ring
    }
}

/// About `count` villages covering the main island (the exact number depends on the
/// coastline), in TWD97 TM2 metres.
pub fn villages(seed: u64, count: usize) -> Vec<Village> {
    let cells = Cells::new(seed, count);
    let cols = ((ISLAND_MAX.0 - ISLAND_MIN.0) / cells.size).ceil() as i64;
    let rows = ((ISLAND_MAX.1 - ISLAND_MIN.1) / cells.size).ceil() as i64;
    let mut out = Vec::new();
    for j in 0..rows {
        for i in 0..cols {
            let centre = (ISLAND_MIN.0 + (i as f64 + 0.5) * cells.size, ISLAND_MIN.1 + (j as f64 + 0.5) * cells.size);
            if !on_main_island(centre) {
                continue;
            }
            let mut r = Rng::derive(seed, &[NAME, i, j]);
            let county = COUNTIES.iter().find(|(north_of, _)| centre.1 >= *north_of).map_or("屏東縣", |(_, c)| c);
            let town = format!("{}{}區", r.pick(NAME_CHARS), r.pick(NAME_CHARS));
            let name = format!("{}{}里", r.pick(NAME_CHARS), r.pick(NAME_CHARS));
            let n = out.len() + 1;
            out.push(Village { code: format!("V{j:03}{i:03}-{n:05}"), county, town, name, population: r.int(300, 12_000), polygon: Polygon::simple(cells.ring(i, j)).oriented() });
        }
    }
    out
}

/// Writes the villages as `villages.shp` (EPSG:3826, UTF-8 DBF) and returns how many.
pub fn write_villages(path: &Path, seed: u64, count: usize) -> Result<usize> {
    let mut ds = gdalio::create_vector("ESRI Shapefile", path)?;
    let srs = gdalio::srs(3826)?;
    let layer = ds.create_layer(LayerOptions { name: "villages", srs: Some(&srs), ty: OGRwkbGeometryType::wkbPolygon, options: Some(&["ENCODING=UTF-8", DBF_DATE]) })?;
    gdalio::create_fields(&layer, FIELDS)?;
    let mut w = FeatureWriter::new(&layer)?;
    let all = villages(seed, count);
    for v in &all {
        w.set_str(0, &v.code)?;
        w.set_str(1, v.county)?;
        w.set_str(2, &v.town)?;
        w.set_str(3, &v.name)?;
        w.set_int(4, v.population);
        w.set_geometry(Some(&Geom::Polygon(v.polygon.clone())))?;
        w.write()?;
    }
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn villages_tile_the_island_with_real_world_vertex_counts() {
        let v = villages(crate::DEFAULT_SEED, 7_700);
        assert!((6_000..9_500).contains(&v.len()), "{} villages", v.len());
        let mut counts: Vec<usize> = v.iter().map(|v| v.polygon.exterior.len() + 1).collect();
        counts.sort();
        let median = counts[counts.len() / 2];
        assert!((15..=30).contains(&median), "median {median} vertices");
        assert!(*counts.last().unwrap() <= 801);
        // Neighbours share their edge exactly: every point of a cell's top edge is on the
        // bottom edge of the cell above it, so there are no gaps or overlaps.
        let cells = Cells::new(crate::DEFAULT_SEED, 7_700);
        let (below, above) = (cells.ring(30, 40), cells.ring(30, 41));
        let shared = below.iter().filter(|p| above.contains(p)).count();
        assert_eq!(shared, cells.edge([0, 30, 41], cells.corner(30, 41), cells.corner(31, 41)).len() + 2, "the whole edge and its two corners are shared");
    }
}
