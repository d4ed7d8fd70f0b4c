//! quantized-mesh-1.0 terrain tiles (the format CesiumJS streams), on the Web Mercator
//! tile grid (`"projection": "EPSG:3857"` in layer.json, TMS row order).
//!
//! A tile is the pyramid sampled on a 257×257 lattice, meshed by RTIN to the level's error
//! bound, then written as: header (centre, height range, bounding sphere, horizon
//! occlusion point), zig-zag delta-coded u/v/height, high-water-mark-coded indices, edge
//! vertex lists for skirts, and, when asked, oct-encoded vertex normals (extension 1).

use super::heights::{ElevationCache, Sampler};
use super::rtin::Rtin;
use formosa_store::mercator::{tile_bounds_m, to_lonlat};
use formosa_store::{Pyramids, StoreError};
use std::sync::OnceLock;

/// Samples per tile side: 2^8 + 1, one per pyramid pixel at the pyramid's deepest level.
pub const GRID: usize = 257;
const QMAX: f64 = 32767.0;
const WGS84_A: f64 = 6_378_137.0;
const WGS84_B: f64 = 6_356_752.314_245_179;

/// The error bound of level z, in metres: half of the geometric error CesiumJS assumes
/// for the level (a 65-sample heightmap over a quarter of the equator at z0), and never
/// below 0.5 m. z10: 75 m, z13: 9.4 m, z15: 2.4 m, z17 and deeper: 0.59 → 0.5 m.
pub fn max_error(z: u8) -> f64 {
    let level0 = WGS84_A * 2.0 * std::f64::consts::PI * 0.25 / 65.0;
    (0.5 * level0 / (1u64 << z) as f64).max(0.5)
}

/// The longest triangle leg allowed at level z, in lattice cells: 1/64 of the equator
/// (5.6°), so that low-zoom tiles follow the Earth's curvature (a leg's chord then sags
/// at most ~1.5 km, well inside z0's 77 km error bound). No limit from z6 on.
pub fn max_leg(z: u8) -> u16 {
    let cells = (GRID as u64 - 1) << z; // lattice cells around the world at level z
    (cells / 64).clamp(1, GRID as u64 - 1) as u16
}

/// The geometric error CesiumJS assigns to level z (layer.json readers use it too).
pub fn geometric_error(z: u8) -> f64 {
    2.0 * max_error(z)
}

fn rtin() -> &'static Rtin {
    static RTIN: OnceLock<Rtin> = OnceLock::new();
    RTIN.get_or_init(|| Rtin::new(GRID))
}

/// Encodes tile z/x/y (XYZ row order) or None when the store has no terrain.
pub fn tile(store: &dyn Pyramids, cache: &ElevationCache, z: u8, x: u32, y: u32, geoid_undulation_m: f64, normals: bool) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(mut sampler) = Sampler::new(store, cache, z, geoid_undulation_m) else { return Ok(None) };
    let heights = sampler.lattice(z, x, y, GRID)?;
    let rtin = rtin();
    let mesh = rtin.mesh(&rtin.errors(&heights), max_error(z) as f32, max_leg(z));

    let b = tile_bounds_m(z, x, y);
    let last = (GRID - 1) as f64;
    // Per vertex: quantized u, v (v north-up) and the height; ECEF for the header.
    let mut u = Vec::with_capacity(mesh.vertices.len());
    let mut v = Vec::with_capacity(mesh.vertices.len());
    let mut h = Vec::with_capacity(mesh.vertices.len());
    for p in &mesh.vertices {
        u.push((p[0] as f64 / last * QMAX).round() as u16);
        v.push(((last - p[1] as f64) / last * QMAX).round() as u16);
        h.push(heights[p[1] as usize * GRID + p[0] as usize] as f64);
    }
    let (min_h, max_h) = h.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let range = (max_h - min_h).max(1e-6);
    let hq: Vec<u16> = h.iter().map(|x| ((x - min_h) / range * QMAX).round() as u16).collect();
    let ecef: Vec<[f64; 3]> = mesh
        .vertices
        .iter()
        .zip(&h)
        .map(|(p, height)| {
            let mx = b.min_x + (b.max_x - b.min_x) * p[0] as f64 / last;
            let my = b.max_y - (b.max_y - b.min_y) * p[1] as f64 / last;
            let (lon, lat) = to_lonlat(mx, my);
            to_ecef(lon, lat, *height)
        })
        .collect();

    let mut out = Vec::with_capacity(128 + mesh.vertices.len() * 10 + mesh.triangles.len() * 6);
    // Header.
    let (clon, clat) = to_lonlat((b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0);
    for c in to_ecef(clon, clat, (min_h + max_h) / 2.0) {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.extend_from_slice(&(min_h as f32).to_le_bytes());
    out.extend_from_slice(&(max_h as f32).to_le_bytes());
    let (centre, radius) = bounding_sphere(&ecef);
    for c in centre {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.extend_from_slice(&radius.to_le_bytes());
    for c in horizon_occlusion_point(&ecef, centre) {
        out.extend_from_slice(&c.to_le_bytes());
    }
    // Vertex data.
    out.extend_from_slice(&(mesh.vertices.len() as u32).to_le_bytes());
    for column in [&u, &v, &hq] {
        let mut prev = 0i32;
        for &q in column.iter() {
            let d = q as i32 - prev;
            prev = q as i32;
            out.extend_from_slice(&(((d << 1) ^ (d >> 31)) as u16).to_le_bytes());
        }
    }
    // Index data, 16-bit up to 65,536 vertices, aligned to its own size.
    let wide = mesh.vertices.len() > 65536;
    let index_bytes = if wide { 4 } else { 2 };
    while out.len() % index_bytes != 0 {
        out.push(0);
    }
    let put = |out: &mut Vec<u8>, i: u32| {
        if wide {
            out.extend_from_slice(&i.to_le_bytes())
        } else {
            out.extend_from_slice(&(i as u16).to_le_bytes())
        }
    };
    out.extend_from_slice(&(mesh.triangles.len() as u32).to_le_bytes());
    let mut highest = 0u32;
    for t in &mesh.triangles {
        for &i in t {
            let code = highest - i;
            put(&mut out, code);
            if code == 0 {
                highest += 1;
            }
        }
    }
    // The high-water mark needs vertices numbered in order of first use; RTIN numbers
    // them so (each new vertex gets the next index when a triangle first names it).
    // Edge vertices (west, south, east, north), each list sorted along its edge.
    let edge = |keep: &dyn Fn(usize) -> bool, along: &dyn Fn(usize) -> u16| {
        let mut e: Vec<u32> = (0..u.len()).filter(|&i| keep(i)).map(|i| i as u32).collect();
        e.sort_by_key(|&i| along(i as usize));
        e
    };
    let max = QMAX as u16;
    for list in [edge(&|i| u[i] == 0, &|i| v[i]), edge(&|i| v[i] == 0, &|i| u[i]), edge(&|i| u[i] == max, &|i| v[i]), edge(&|i| v[i] == max, &|i| u[i])] {
        out.extend_from_slice(&(list.len() as u32).to_le_bytes());
        for i in list {
            put(&mut out, i);
        }
    }
    if normals {
        let n = vertex_normals(&ecef, &mesh.triangles);
        out.push(1); // extension id: oct-encoded per-vertex normals
        out.extend_from_slice(&((n.len() * 2) as u32).to_le_bytes());
        for normal in n {
            out.extend_from_slice(&oct_encode(normal));
        }
    }
    Ok(Some(out))
}

/// Geodetic (degrees, ellipsoidal metres) → Earth-centred, Earth-fixed metres.
pub fn to_ecef(lon: f64, lat: f64, h: f64) -> [f64; 3] {
    let (lon, lat) = (lon.to_radians(), lat.to_radians());
    let e2 = 1.0 - (WGS84_B * WGS84_B) / (WGS84_A * WGS84_A);
    let n = WGS84_A / (1.0 - e2 * lat.sin().powi(2)).sqrt();
    [(n + h) * lat.cos() * lon.cos(), (n + h) * lat.cos() * lon.sin(), (n * (1.0 - e2) + h) * lat.sin()]
}

/// A sphere holding every point: the box centre and the farthest point's distance.
fn bounding_sphere(points: &[[f64; 3]]) -> ([f64; 3], f64) {
    let mut lo = [f64::MAX; 3];
    let mut hi = [f64::MIN; 3];
    for p in points {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let c = [0, 1, 2].map(|k| (lo[k] + hi[k]) / 2.0);
    let r = points.iter().map(|p| dist(*p, c)).fold(0.0, f64::max);
    (c, r)
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The horizon occlusion point in ellipsoid-scaled ECEF: if it is below the horizon, so is
/// every vertex of the tile (the construction CesiumJS's EllipsoidalOccluder uses).
fn horizon_occlusion_point(points: &[[f64; 3]], direction: [f64; 3]) -> [f64; 3] {
    let radii = [WGS84_A, WGS84_A, WGS84_B];
    let scale = |p: [f64; 3]| [p[0] / radii[0], p[1] / radii[1], p[2] / radii[2]];
    let norm = |p: [f64; 3]| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
    let d = scale(direction);
    let dn = norm(d);
    let d = [d[0] / dn, d[1] / dn, d[2] / dn];
    let mut magnitude: f64 = 0.0;
    for p in points {
        let s = scale(*p);
        let m2 = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).max(1.0);
        let m = m2.sqrt();
        let sn = norm(s);
        let dir = [s[0] / sn, s[1] / sn, s[2] / sn];
        let cos_alpha = dir[0] * d[0] + dir[1] * d[1] + dir[2] * d[2];
        let cross = [dir[1] * d[2] - dir[2] * d[1], dir[2] * d[0] - dir[0] * d[2], dir[0] * d[1] - dir[1] * d[0]];
        let sin_alpha = norm(cross);
        let cos_beta = 1.0 / m;
        let sin_beta = (m2 - 1.0).sqrt() * cos_beta;
        let denom = cos_alpha * cos_beta - sin_alpha * sin_beta;
        magnitude = magnitude.max(if denom > 1e-12 { 1.0 / denom } else { f64::MAX });
    }
    if magnitude == f64::MAX || !magnitude.is_finite() {
        // No point works for a tile this wide (z0–z1 span hemispheres): one far out
        // along the tile's direction is visible from wherever the tile's centre is (the
        // origin, tried first, hid the z1 tiles from every camera and blanked the globe).
        magnitude = 1000.0;
    }
    [d[0] * magnitude, d[1] * magnitude, d[2] * magnitude]
}

/// Area-weighted vertex normals in ECEF.
fn vertex_normals(ecef: &[[f64; 3]], triangles: &[[u32; 3]]) -> Vec<[f64; 3]> {
    let mut n = vec![[0.0; 3]; ecef.len()];
    for t in triangles {
        let [a, b, c] = t.map(|i| ecef[i as usize]);
        let (ab, ac) = ([b[0] - a[0], b[1] - a[1], b[2] - a[2]], [c[0] - a[0], c[1] - a[1], c[2] - a[2]]);
        let cross = [ab[1] * ac[2] - ab[2] * ac[1], ab[2] * ac[0] - ab[0] * ac[2], ab[0] * ac[1] - ab[1] * ac[0]];
        for &i in t {
            for k in 0..3 {
                n[i as usize][k] += cross[k];
            }
        }
    }
    n.into_iter()
        .zip(ecef)
        .map(|(v, p)| {
            let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            if len > 0.0 {
                [v[0] / len, v[1] / len, v[2] / len]
            } else {
                let l = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
                [p[0] / l, p[1] / l, p[2] / l]
            }
        })
        .collect()
}

/// Octahedral encoding of a unit vector into two bytes (the `octvertexnormals` layout).
pub fn oct_encode(n: [f64; 3]) -> [u8; 2] {
    let l1 = n[0].abs() + n[1].abs() + n[2].abs();
    let (mut x, mut y) = (n[0] / l1, n[1] / l1);
    if n[2] < 0.0 {
        let (ox, oy) = (x, y);
        x = (1.0 - oy.abs()) * if ox >= 0.0 { 1.0 } else { -1.0 };
        y = (1.0 - ox.abs()) * if oy >= 0.0 { 1.0 } else { -1.0 };
    }
    let snorm = |v: f64| ((v.clamp(-1.0, 1.0) * 0.5 + 0.5) * 255.0).round() as u8;
    [snorm(x), snorm(y)]
}

/// layer.json: the tileset description CesiumTerrainProvider reads first.
pub fn layer_json(store: &dyn Pyramids) -> Option<serde_json::Value> {
    let info = store.terrain()?;
    let max_zoom = info.max_zoom.unwrap_or(0);
    let bounds = info.extent.map(|e| [e.min_x, e.min_y, e.max_x, e.max_y]).unwrap_or([-180.0, -85.05, 180.0, 85.05]);
    // Every tile of every level up to the pyramid's deepest exists (sea level outside
    // the DEM); CesiumJS refines deeper by subdividing these.
    let available: Vec<serde_json::Value> = (0..=max_zoom)
        .map(|z| {
            let n = (1u64 << z) - 1;
            serde_json::json!([{ "startX": 0, "startY": 0, "endX": n, "endY": n }])
        })
        .collect();
    Some(serde_json::json!({
        "tilejson": "2.1.0",
        "name": "Formosa terrain",
        "description": "quantized-mesh-1.0 from the Formosa elevation pyramid; ellipsoidal heights (DEM + geoid undulation)",
        "version": "1.0.0",
        "format": "quantized-mesh-1.0",
        "scheme": "tms",
        "projection": "EPSG:3857",
        "tiles": ["{z}/{x}/{y}.terrain?v={version}"],
        "extensions": ["octvertexnormals"],
        "minzoom": 0,
        "maxzoom": max_zoom,
        "bounds": bounds,
        "available": available,
        "attribution": "DEM: Formosa elevation pyramid",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oct_encoding_matches_known_values() {
        assert_eq!(oct_encode([0.0, 0.0, 1.0]), [128, 128]);
        assert_eq!(oct_encode([1.0, 0.0, 0.0]), [255, 128]);
        assert_eq!(oct_encode([0.0, -1.0, 0.0]), [128, 0]);
    }

    #[test]
    fn ecef_of_known_points() {
        let p = to_ecef(0.0, 0.0, 0.0);
        assert!((p[0] - WGS84_A).abs() < 1e-6 && p[1].abs() < 1e-6 && p[2].abs() < 1e-6);
        let pole = to_ecef(0.0, 90.0, 10.0);
        assert!((pole[2] - WGS84_B - 10.0).abs() < 1e-6);
    }

    #[test]
    fn error_bounds_halve_per_level_down_to_half_a_metre() {
        assert!((max_error(10) / max_error(11) - 2.0).abs() < 1e-9);
        assert_eq!(max_error(20), 0.5);
    }
}
