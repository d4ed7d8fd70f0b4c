//! quantized-mesh tiles from the bundled DEM, read back field by field as the spec lays
//! them out: header, vertex streams, aligned and high-water-mark-coded indices, edge
//! lists, normals. (The node tests decode the same tiles with @loaders.gl/terrain.)

mod common;
use common::*;
use formosa_encoders::terrain::heights::ElevationCache;
use formosa_encoders::terrain::quantized_mesh::{max_error, tile, to_ecef};
use formosa_store::GpkgStore;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn f64(&mut self) -> f64 {
        self.at += 8;
        f64::from_le_bytes(self.b[self.at - 8..self.at].try_into().unwrap())
    }
    fn f32(&mut self) -> f32 {
        self.at += 4;
        f32::from_le_bytes(self.b[self.at - 4..self.at].try_into().unwrap())
    }
    fn u32(&mut self) -> u32 {
        self.at += 4;
        u32::from_le_bytes(self.b[self.at - 4..self.at].try_into().unwrap())
    }
    fn u16(&mut self) -> u16 {
        self.at += 2;
        u16::from_le_bytes(self.b[self.at - 2..self.at].try_into().unwrap())
    }
}

#[test]
fn quantized_mesh_tiles_follow_the_spec_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("t.gpkg");
    formosa_ok(&store_path, &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")]);
    let store = GpkgStore::open(&store_path).unwrap();
    let cache = ElevationCache::new(64);
    // z13 tile over 信義區 (XYZ rows), with normals.
    let (z, x, y) = (13u8, 6862u32, 3507u32);
    let t = tile(&store, &cache, z, x, y, 20.0, true).unwrap().expect("store has terrain");
    let mut r = Reader { b: &t, at: 0 };
    let centre = [r.f64(), r.f64(), r.f64()];
    let (min_h, max_h) = (r.f32() as f64, r.f32() as f64);
    let sphere = [r.f64(), r.f64(), r.f64()];
    let radius = r.f64();
    let horizon = [r.f64(), r.f64(), r.f64()];
    assert_eq!(r.at, 88);
    assert!(min_h < max_h && min_h >= 19.999 && max_h < 420.0, "heights {min_h}–{max_h} (ellipsoidal)");
    let n = r.u32() as usize;
    assert!(n > 50, "{n} vertices");
    let mut streams = [vec![0u16; n], vec![0u16; n], vec![0u16; n]];
    for s in &mut streams {
        let mut v = 0i32;
        for slot in s.iter_mut() {
            let z = r.u16() as i32;
            v += (z >> 1) ^ -(z & 1);
            assert!((0..=32767).contains(&v));
            *slot = v as u16;
        }
    }
    let width = if n > 65536 { 4 } else { 2 };
    assert_eq!(r.at % width, 0, "indices start aligned to their size");
    let triangles = r.u32() as usize;
    let mut highest = 0u32;
    let mut indices = Vec::with_capacity(triangles * 3);
    for _ in 0..triangles * 3 {
        let code = r.u16() as u32;
        let i = highest - code;
        if code == 0 {
            highest += 1;
        }
        assert!((i as usize) < n);
        indices.push(i);
    }
    assert_eq!(highest as usize, n, "every vertex is used, numbered in order of first use");
    // Edges: west (u = 0), south (v = 0), east, north, each complete.
    let (u, v, h) = (&streams[0], &streams[1], &streams[2]);
    for (edge, on_edge) in [
        ("west", Box::new(|i: usize| u[i] == 0) as Box<dyn Fn(usize) -> bool>),
        ("south", Box::new(|i: usize| v[i] == 0)),
        ("east", Box::new(|i: usize| u[i] == 32767)),
        ("north", Box::new(|i: usize| v[i] == 32767)),
    ] {
        let count = r.u32() as usize;
        let list: Vec<usize> = (0..count).map(|_| r.u16() as usize).collect();
        let expected = (0..n).filter(|&i| on_edge(i)).count();
        assert_eq!(count, expected, "{edge} edge lists every vertex on it");
        assert!(list.iter().all(|&i| on_edge(i)), "{edge} edge lists only vertices on it");
        assert!(count >= 2, "{edge} edge has its corners");
    }
    // Normals extension.
    assert_eq!(t[r.at], 1, "extension id 1: oct-encoded normals");
    r.at += 1;
    assert_eq!(r.u32() as usize, 2 * n);
    r.at += 2 * n;
    assert_eq!(r.at, t.len(), "nothing after the extension");
    // Bounding sphere holds every vertex; the header centre is in the tile.
    let b = formosa_store::mercator::tile_bounds_m(z, x, y);
    for i in 0..n {
        let mx = b.min_x + (b.max_x - b.min_x) * u[i] as f64 / 32767.0;
        let my = b.min_y + (b.max_y - b.min_y) * v[i] as f64 / 32767.0;
        let (lon, lat) = formosa_store::mercator::to_lonlat(mx, my);
        let height = min_h + (max_h - min_h) * h[i] as f64 / 32767.0;
        let p = to_ecef(lon, lat, height);
        let d = ((p[0] - sphere[0]).powi(2) + (p[1] - sphere[1]).powi(2) + (p[2] - sphere[2]).powi(2)).sqrt();
        assert!(d <= radius + 0.01, "vertex {i} outside the bounding sphere by {} m", d - radius);
    }
    let c = ((centre[0].powi(2) + centre[1].powi(2) + centre[2].powi(2)) as f64).sqrt();
    assert!((c - 6_378_137.0).abs() < 30_000.0, "centre on the Earth's surface");
    // The horizon occlusion point is just above the surface, in ellipsoid-scaled space.
    let m = (horizon[0].powi(2) + horizon[1].powi(2) + horizon[2].powi(2)).sqrt();
    assert!(m > 1.0 && m < 1.01, "horizon occlusion point magnitude {m}");
    assert!(max_error(z) > 9.0 && max_error(z) < 10.0);
}
