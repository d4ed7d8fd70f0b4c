//! Underground utility lines (公共設施管線) in the road corridors: a 2D
//! GeoPackage the way utility owners deliver attribute-rich network data, and a
//! 3D GeoJSON (WGS84) of power/telecom duct banks whose Z is the pipe-top
//! elevation.

use std::path::Path;

use gdal::vector::{LayerOptions, OGRwkbGeometryType};

use crate::cadastral::transform_geom;
use crate::city::{Grid, HILL_LIMIT_M, T_PIPE, T_PIPE3D};
use crate::gdalio::{self, integer, real, string, FeatureWriter, Field};
use crate::geom::{Geom, Pt};
use crate::rng::Rng;
use crate::terrain::ground_height;
use crate::{Progress, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utility {
    Water,
    Gas,
    Power,
    Telecom,
    Sewer,
}

pub const ALL: [Utility; 5] = [Utility::Water, Utility::Gas, Utility::Power, Utility::Telecom, Utility::Sewer];

impl Utility {
    pub fn zh(self) -> &'static str {
        match self {
            Utility::Water => "自來水",
            Utility::Gas => "瓦斯",
            Utility::Power => "電力",
            Utility::Telecom => "電信",
            Utility::Sewer => "污水",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Utility::Water => "water",
            Utility::Gas => "gas",
            Utility::Power => "power",
            Utility::Telecom => "telecom",
            Utility::Sewer => "sewer",
        }
    }
    pub fn owner_zh(self) -> &'static str {
        match self {
            Utility::Water => "臺北自來水事業處",
            Utility::Gas => "欣欣天然氣",
            Utility::Power => "台灣電力公司",
            Utility::Telecom => "中華電信",
            Utility::Sewer => "臺北市工務局衛生下水道工程處",
        }
    }
    pub fn owner_en(self) -> &'static str {
        match self {
            Utility::Water => "Taipei Water Department",
            Utility::Gas => "Shin Shin Natural Gas",
            Utility::Power => "Taiwan Power Company",
            Utility::Telecom => "Chunghwa Telecom",
            Utility::Sewer => "Taipei Sewerage Systems Office",
        }
    }
    /// Position across the road as a fraction of the half-width (negative =
    /// left of the centre-line): each utility keeps to its own strip, as the
    /// city's 管線 allocation rules require.
    fn lateral(self) -> f64 {
        match self {
            Utility::Water => -0.6,
            Utility::Gas => 0.6,
            Utility::Power => -0.3,
            Utility::Telecom => 0.3,
            Utility::Sewer => 0.0,
        }
    }
    /// (diameters in mm with weights, depth range of pipe top in m)
    fn sizes(self) -> (&'static [(i64, f64)], (f64, f64)) {
        match self {
            Utility::Water => (&[(100, 3.0), (150, 3.0), (200, 2.0), (300, 1.5), (500, 0.8), (800, 0.4), (1200, 0.2), (1500, 0.1)], (0.9, 1.8)),
            Utility::Gas => (&[(100, 3.0), (150, 2.0), (200, 1.5), (300, 0.7), (400, 0.3)], (0.6, 1.2)),
            Utility::Power => (&[(100, 1.0), (125, 1.0), (150, 2.0), (200, 1.0)], (1.2, 2.0)),
            Utility::Telecom => (&[(100, 2.0), (125, 1.0), (150, 1.0)], (0.8, 1.5)),
            Utility::Sewer => (&[(300, 2.0), (400, 2.0), (600, 1.5), (800, 1.0), (1000, 0.6), (1200, 0.4), (1500, 0.3)], (2.0, 4.0)),
        }
    }
    /// Material (Chinese trade names as in utility registers) given size and year.
    fn material(self, d: i64, year: i64, r: &mut Rng) -> (&'static str, &'static str) {
        match self {
            Utility::Water if d >= 800 => ("鋼管", "steel"),
            Utility::Water if d <= 150 && year >= 1975 && r.chance(0.3) => ("PVC", "PVC"),
            Utility::Water => ("延性鑄鐵管", "ductile iron"),
            Utility::Gas if year >= 1995 && d <= 200 && r.chance(0.6) => ("HDPE", "HDPE"),
            Utility::Gas => ("鋼管", "steel"),
            Utility::Power | Utility::Telecom if year >= 1995 && r.chance(0.5) => ("HDPE", "HDPE"),
            Utility::Power | Utility::Telecom => ("PVC", "PVC"),
            Utility::Sewer if d <= 400 && r.chance(0.3) => ("延性鑄鐵管", "ductile iron"),
            Utility::Sewer => ("RCP", "RCP"),
        }
    }
}

pub struct PipeRecord {
    pub utility: Utility,
    pub diameter_mm: i64,
    pub depth_m: f64,
    pub material_zh: &'static str,
    pub material_en: &'static str,
    pub year: i64,
    /// EPSG:3826 vertices.
    pub points: Vec<Pt>,
}

/// Where pipes may run: a predicate over road segments (vertical?, line, k).
pub type SegmentFilter<'a> = &'a dyn Fn(bool, i64, i64) -> bool;

/// Which pipes to generate: the utilities, the chance each one is laid along a
/// given run, and whether this is the 3D set (its own random stream).
pub struct PipeSpec<'a> {
    pub utilities: &'a [Utility],
    pub p_include: f64,
    pub three_d: bool,
}

/// Pipes whose run starts at segment `k` of road line `line` (vertical = a
/// north-south road at column line `line`, segment k between row lines k, k+1).
///
/// Each road line is cut into runs of two segments with a per-line phase, so
/// every segment belongs to exactly one run and each run is generated once,
/// from its first segment, whatever order callers visit segments in.
pub fn pipes_at(grid: &Grid, vertical: bool, line: i64, k: i64, valid: SegmentFilter, spec: &PipeSpec) -> Vec<PipeRecord> {
    let tag = if spec.three_d { T_PIPE3D } else { T_PIPE };
    let v = vertical as i64;
    let phase = Rng::derive(grid.seed, &[tag, v, line]).int(0, 1);
    if (k - phase).rem_euclid(2) != 0 || !valid(vertical, line, k) || !seg_is_low(grid, vertical, line, k) {
        return Vec::new();
    }
    let mut segs = vec![k];
    if valid(vertical, line, k + 1) && seg_is_low(grid, vertical, line, k + 1) {
        segs.push(k + 1);
    }
    let mut out = Vec::new();
    for (ui, &u) in spec.utilities.iter().enumerate() {
        let mut r = Rng::derive(grid.seed, &[tag, v, line, k, ui as i64]);
        if !r.chance(spec.p_include) {
            continue;
        }
        let (diams, depths) = u.sizes();
        let d = r.weighted(diams);
        let year = r.int(1965, 2023);
        let (mzh, men) = u.material(d, year, &mut r);
        let depth = (r.range(depths.0, depths.1) * 100.0).round() / 100.0;
        let jitter = r.range(-0.5, 0.5);
        // Sometimes a run is registered as two pieces (one per block face).
        let pieces: Vec<Vec<i64>> = if segs.len() == 2 && r.chance(0.3) { vec![vec![segs[0]], vec![segs[1]]] } else { vec![segs.clone()] };
        for piece in pieces {
            let mut pts = Vec::new();
            for (n, &seg) in piece.iter().enumerate() {
                let (a, b, w) = grid.segment(vertical, line, seg);
                let off = u.lateral() * (w / 2.0 - 1.0) + jitter;
                let shift = |p: Pt| {
                    if vertical {
                        (p.0 + off, p.1)
                    } else {
                        (p.0, p.1 + off)
                    }
                };
                if n == 0 {
                    pts.push(grid.world(shift(a)));
                }
                // A mid-block vertex with a small bend, as surveyed lines have.
                let m = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
                let bend = r.range(-0.4, 0.4);
                let m = if vertical { (m.0 + bend, m.1) } else { (m.0, m.1 + bend) };
                pts.push(grid.world(shift(m)));
                pts.push(grid.world(shift(b)));
            }
            out.push(PipeRecord { utility: u, diameter_mm: d, depth_m: depth, material_zh: mzh, material_en: men, year, points: pts });
        }
    }
    out
}

/// Roads do not climb onto the hills.
fn seg_is_low(grid: &Grid, vertical: bool, line: i64, k: i64) -> bool {
    let (a, b, _) = grid.segment(vertical, line, k);
    let (x, y) = grid.world(((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0));
    ground_height(x, y) <= HILL_LIMIT_M
}

pub const PIPE_FIELDS: &[Field] = &[string("管線種類", 0), integer("管徑", 0), real("埋深", 0, 0), string("材質", 0), integer("埋設年", 0), string("權屬單位", 0)];

/// Fixed GeoPackage timestamps, so the file is reproducible.
pub fn fix_gpkg_timestamps() -> Result<()> {
    gdal::config::set_config_option("OGR_CURRENT_DATE", "2024-01-01T00:00:00.000Z")?;
    Ok(())
}

/// Write 2D pipelines to a GeoPackage (layer `pipelines`, EPSG:3826), inside
/// one transaction. `pipes` is consumed lazily; stops at `limit`.
pub fn write_pipelines_gpkg(path: &Path, pipes: impl Iterator<Item = PipeRecord>, limit: usize, progress: &mut Progress) -> Result<usize> {
    fix_gpkg_timestamps()?;
    let mut ds = gdalio::create_vector("GPKG", path)?;
    let srs = gdalio::srs(3826)?;
    {
        let layer =
            ds.create_layer(LayerOptions { name: "pipelines", srs: Some(&srs), ty: OGRwkbGeometryType::wkbLineString, options: Some(&["FID=fid", "GEOMETRY_NAME=geom"]) })?;
        gdalio::create_fields(&layer, PIPE_FIELDS)?;
    }
    // Re-fetch the layer through a shared borrow so the transaction calls can
    // borrow the dataset too.
    let tx = gdalio::begin(&ds);
    let layer = ds.layer_by_name("pipelines")?;
    let mut w = FeatureWriter::new(&layer)?;
    let mut n = 0;
    for p in pipes.take(limit) {
        w.set_str(0, p.utility.zh())?;
        w.set_int(1, p.diameter_mm);
        w.set_f64(2, p.depth_m);
        w.set_str(3, p.material_zh)?;
        w.set_int(4, p.year);
        w.set_str(5, p.utility.owner_zh())?;
        w.set_geometry(Some(&Geom::LineString(p.points)))?;
        w.write()?;
        n += 1;
        progress.tick(n);
    }
    drop(w);
    gdalio::commit(&ds, tx)?;
    ds.close()?;
    Ok(n)
}

pub const PIPE3D_FIELDS: &[Field] = &[string("type", 0), integer("diameter_mm", 0), real("depth_m", 0, 0), string("material", 0), integer("install_year", 0), string("owner", 0)];

/// Densify a polyline so no edge is longer than `step` metres (so Z can follow
/// the ground between intersections).
pub fn densify(pts: &[Pt], step: f64) -> Vec<Pt> {
    let mut out = vec![pts[0]];
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let n = (len / step).ceil().max(1.0) as usize;
        for k in 1..=n {
            let f = k as f64 / n as f64;
            out.push((a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1)));
        }
    }
    out
}

/// Write 3D duct banks as RFC 7946 GeoJSON (WGS84 lon/lat, Z = pipe-top
/// elevation in TWVD2001 metres = ground − depth).
pub fn write_pipelines_3d_geojson(path: &Path, pipes: &[PipeRecord]) -> Result<usize> {
    let mut ds = gdalio::create_vector("GeoJSON", path)?;
    let wgs84 = gdalio::srs(4326)?;
    let ct = gdal::spatial_ref::CoordTransform::new(&gdalio::srs(3826)?, &wgs84)?;
    let layer = ds.create_layer(LayerOptions {
        name: "pipelines_3d",
        srs: Some(&wgs84),
        ty: OGRwkbGeometryType::wkbLineString25D,
        // 8 decimals of a degree ≈ 1 mm, so the Z-vs-ground check is not blurred
        // by rounding; Z keeps centimetres.
        options: Some(&["RFC7946=YES", "COORDINATE_PRECISION=8", "WRITE_NAME=YES"]),
    })?;
    gdalio::create_fields(&layer, PIPE3D_FIELDS)?;
    let mut w = FeatureWriter::new(&layer)?;
    for p in pipes {
        let pts: Vec<(f64, f64, f64)> = densify(&p.points, 20.0).into_iter().map(|(x, y)| (x, y, ((ground_height(x, y) - p.depth_m) * 100.0).round() / 100.0)).collect();
        let geom = transform_geom(&ct, &Geom::LineStringZ(pts))?;
        w.set_str(0, p.utility.en())?;
        w.set_int(1, p.diameter_mm);
        w.set_f64(2, p.depth_m);
        w.set_str(3, p.material_en)?;
        w.set_int(4, p.year);
        w.set_str(5, p.utility.owner_en())?;
        w.set_geometry(Some(&geom))?;
        w.write()?;
    }
    drop(w);
    ds.close()?;
    Ok(pipes.len())
}
