//! Imagery layers drawn into a map: the store's RGBA tile pyramid resampled to the map's
//! pixels through the map's CRS, from the pyramid level nearest the map's resolution
//! (never coarser than needed), bilinear.

use super::MapView;
use formosa_store::mercator::HALF_WORLD;
use formosa_store::raster::TILE_SIZE;
use formosa_store::{Pyramids, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tiny_skia::Pixmap;

/// An encoded imagery tile (or none there), by (layer, z, x, y).
type CachedTile = Arc<Option<Vec<u8>>>;

/// Decoded imagery tiles (premultiplied RGBA), shared by requests.
#[derive(Clone)]
pub struct ImageryCache(moka::sync::Cache<(String, u8, u32, u32), CachedTile>);

impl ImageryCache {
    pub fn new(tiles: u64) -> Self {
        ImageryCache(moka::sync::Cache::new(tiles))
    }

    fn get(&self, store: &dyn Pyramids, layer: &str, z: u8, x: u32, y: u32) -> Result<CachedTile, StoreError> {
        let key = (layer.to_string(), z, x, y);
        if let Some(t) = self.0.get(&key) {
            return Ok(t);
        }
        let tile = match store.imagery_tile(layer, z, x, y)? {
            Some(bytes) => {
                let rgba = image::load_from_memory(&bytes).map_err(|e| StoreError::Schema(format!("imagery tile {layer} {z}/{x}/{y}: {e}")))?.to_rgba8().into_raw();
                Some(
                    rgba.chunks_exact(4)
                        .flat_map(|p| {
                            let a = p[3] as u16;
                            [(p[0] as u16 * a / 255) as u8, (p[1] as u16 * a / 255) as u8, (p[2] as u16 * a / 255) as u8, p[3]]
                        })
                        .collect(),
                )
            }
            None => None,
        };
        let tile = Arc::new(tile);
        self.0.insert(key, tile.clone());
        Ok(tile)
    }

    /// Forgets every tile (after imagery is re-imported).
    pub fn clear(&self) {
        self.0.invalidate_all();
    }
}

/// Draws imagery layer `layer` (pyramid levels 0..=max_zoom) over `pixmap`.
pub fn draw(pixmap: &mut Pixmap, view: &MapView, store: &dyn Pyramids, cache: &ImageryCache, layer: &str, max_zoom: u8) -> Result<(), StoreError> {
    // The level whose pixels are at least as fine as the map's.
    let b = view.mercator_bounds();
    let res = (b.max_x - b.min_x) / view.width as f64;
    let z = ((2.0 * HALF_WORLD / (TILE_SIZE as f64 * res)).log2().ceil()).clamp(0.0, max_zoom as f64) as u8;
    let px_m = 2.0 * HALF_WORLD / ((1u64 << z) as f64 * TILE_SIZE as f64);
    let n = 1i64 << z;
    let mut tiles: HashMap<(i64, i64), Arc<Option<Vec<u8>>>> = HashMap::new();
    let width = pixmap.width() as usize;
    let pixels = pixmap.pixels_mut();
    for py in 0..view.height as usize {
        for px in 0..view.width as usize {
            let (mx, my, _) = view.mercator_at(px as f64 + 0.5, py as f64 + 0.5);
            let gx = (mx + HALF_WORLD) / px_m - 0.5;
            let gy = (HALF_WORLD - my) / px_m - 0.5;
            let (x0, y0) = (gx.floor() as i64, gy.floor() as i64);
            let (fx, fy) = ((gx - x0 as f64) as f32, (gy - y0 as f64) as f32);
            let mut acc = [0f32; 4];
            for (dx, dy, w) in [(0, 0, (1.0 - fx) * (1.0 - fy)), (1, 0, fx * (1.0 - fy)), (0, 1, (1.0 - fx) * fy), (1, 1, fx * fy)] {
                let (sx, sy) = (x0 + dx, y0 + dy);
                if w <= 0.0 || sy < 0 || sy >= n * TILE_SIZE as i64 || sx < 0 || sx >= n * TILE_SIZE as i64 {
                    continue;
                }
                let key = (sx / TILE_SIZE as i64, sy / TILE_SIZE as i64);
                let tile = match tiles.get(&key) {
                    Some(t) => t.clone(),
                    None => {
                        let t = cache.get(store, layer, z, key.0 as u32, key.1 as u32)?;
                        tiles.insert(key, t.clone());
                        t
                    }
                };
                if let Some(rgba) = tile.as_ref() {
                    let i = (((sy % TILE_SIZE as i64) as usize) * TILE_SIZE + (sx % TILE_SIZE as i64) as usize) * 4;
                    for k in 0..4 {
                        acc[k] += rgba[i + k] as f32 * w;
                    }
                }
            }
            if acc[3] < 0.5 {
                continue;
            }
            super::blend_over(&mut pixels[py * width + px], acc);
        }
    }
    Ok(())
}
