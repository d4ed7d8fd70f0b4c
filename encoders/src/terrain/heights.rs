//! Heights for the terrain encoders: the elevation pyramid sampled anywhere in a tile, in
//! ellipsoidal metres.
//!
//! The DEM is orthometric (TWVD2001, above the geoid); CesiumJS places terrain and 3D
//! Tiles on the WGS84 ellipsoid, and MapLibre's 3D terrain should agree with them, so both
//! encoders add the geoid undulation N: h = H + N. N is a constant from the configuration
//! (`[terrain] geoid_undulation_m`, default 20 m: EGM2008 gives about 17–22 m over the
//! western plains and Taipei, up to ~28 m in the Central Range). A geoid grid would be
//! exact; the constant keeps any one city within a few metres. Outside the DEM the height
//! is sea level (H = 0, h = N), never garbage.

use formosa_store::mercator::{tile_bounds_m, HALF_WORLD};
use formosa_store::raster::{ElevationTile, TILE_SIZE};
use formosa_store::{Pyramids, StoreError};
use std::sync::Arc;

/// A decoded pyramid tile, or the knowledge that there is none there.
type CachedTile = Arc<Option<ElevationTile>>;

/// Decoded pyramid tiles shared by requests: a terrain tile reads up to four of them
/// (its own and the neighbours its edge samples fall into), and decoding their TIFFs
/// was a sixth of a quantized-mesh tile's time. Holds `capacity` tiles (256 KiB each).
#[derive(Clone)]
pub struct ElevationCache(moka::sync::Cache<(u8, u32, u32), CachedTile>);

impl ElevationCache {
    pub fn new(capacity: u64) -> Self {
        ElevationCache(moka::sync::Cache::new(capacity))
    }

    fn get(&self, store: &dyn Pyramids, z: u8, x: u32, y: u32) -> Result<CachedTile, StoreError> {
        if let Some(t) = self.0.get(&(z, x, y)) {
            return Ok(t);
        }
        let tile = Arc::new(store.elevation_tile(z, x, y)?);
        self.0.insert((z, x, y), tile.clone());
        Ok(tile)
    }

    /// Forgets every tile (after the terrain is re-imported).
    pub fn clear(&self) {
        self.0.invalidate_all();
    }
}

/// Reads pyramid tiles at one zoom as needed (a tile and its neighbours) and interpolates.
pub struct Sampler<'a> {
    store: &'a dyn Pyramids,
    cache: &'a ElevationCache,
    zoom: u8,
    /// The few pyramid tiles read so far (a tile and its neighbours at most).
    tiles: Vec<((u32, u32), CachedTile)>,
    pub geoid_undulation_m: f64,
}

impl<'a> Sampler<'a> {
    /// Samples at the pyramid's level `min(z, max_zoom)`; None when the store has no DEM.
    pub fn new(store: &'a dyn Pyramids, cache: &'a ElevationCache, z: u8, geoid_undulation_m: f64) -> Option<Sampler<'a>> {
        let info = store.terrain()?;
        let max_zoom = info.max_zoom.unwrap_or(0);
        Some(Sampler { store, cache, zoom: z.min(max_zoom), tiles: Vec::new(), geoid_undulation_m })
    }

    /// Ellipsoidal height at Web Mercator (x, y) metres: bilinear between the pyramid's
    /// pixel centres, across tile edges; sea level where the DEM has no data.
    pub fn height(&mut self, mx: f64, my: f64) -> Result<f64, StoreError> {
        let n = 1u64 << self.zoom;
        let world = HALF_WORLD * 2.0;
        let px_size = world / (n as f64 * TILE_SIZE as f64);
        // Global pixel coordinates, pixel centres at integer + 0.5.
        let gx = (mx + world / 2.0) / px_size - 0.5;
        let gy = (world / 2.0 - my) / px_size - 0.5;
        let (x0, y0) = (gx.floor(), gy.floor());
        let (fx, fy) = (gx - x0, gy - y0);
        let mut sum = 0.0;
        let mut weight = 0.0;
        for (dx, dy, w) in [(0.0, 0.0, (1.0 - fx) * (1.0 - fy)), (1.0, 0.0, fx * (1.0 - fy)), (0.0, 1.0, (1.0 - fx) * fy), (1.0, 1.0, fx * fy)] {
            if w <= 0.0 {
                continue;
            }
            if let Some(h) = self.pixel((x0 + dx) as i64, (y0 + dy) as i64, n)? {
                sum += h * w;
                weight += w;
            }
        }
        let orthometric = if weight > 1e-9 { sum / weight } else { 0.0 };
        Ok(orthometric + self.geoid_undulation_m)
    }

    /// The pyramid level sampled.
    pub fn zoom(&self) -> u8 {
        self.zoom
    }

    /// The orthometric height of pyramid pixel (gx, gy) at `zoom()`, counted from the
    /// world's north-west corner (None: no data or off the world).
    pub fn pixel_height(&mut self, gx: i64, gy: i64) -> Result<Option<f64>, StoreError> {
        self.pixel(gx, gy, 1u64 << self.zoom)
    }

    /// A pyramid pixel's orthometric height (None: no data or off the world).
    fn pixel(&mut self, gx: i64, gy: i64, n: u64) -> Result<Option<f64>, StoreError> {
        let size = TILE_SIZE as i64;
        let total = n as i64 * size;
        if gy < 0 || gy >= total {
            return Ok(None);
        }
        let gx = gx.rem_euclid(total); // the antimeridian wraps
        let key = ((gx / size) as u32, (gy / size) as u32);
        let slot = match self.tiles.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.tiles.push((key, self.cache.get(self.store, self.zoom, key.0, key.1)?));
                self.tiles.len() - 1
            }
        };
        Ok(self.tiles[slot].1.as_ref().as_ref().and_then(|t| t.get((gx % size) as usize, (gy % size) as usize)).map(f64::from))
    }

    /// Heights on a `grid`×`grid` lattice spanning tile z/x/y corner to corner (row 0 at
    /// the north edge), so that neighbouring tiles share their edge samples exactly.
    pub fn lattice(&mut self, z: u8, x: u32, y: u32, grid: usize) -> Result<Vec<f32>, StoreError> {
        let b = tile_bounds_m(z, x, y);
        let step_x = (b.max_x - b.min_x) / (grid - 1) as f64;
        let step_y = (b.max_y - b.min_y) / (grid - 1) as f64;
        let mut out = Vec::with_capacity(grid * grid);
        for row in 0..grid {
            for col in 0..grid {
                out.push(self.height(b.min_x + col as f64 * step_x, b.max_y - row as f64 * step_y)? as f32);
            }
        }
        Ok(out)
    }
}
