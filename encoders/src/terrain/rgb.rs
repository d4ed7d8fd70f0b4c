//! Terrain-RGB tiles (Mapbox encoding: height = -10000 + (R·65536 + G·256 + B) · 0.1 m)
//! from the store's elevation pyramid, for MapLibre's hillshade and 3D terrain. Heights
//! are ellipsoidal, like the quantized-mesh tiles (see `heights.rs`); beyond the
//! pyramid's deepest level they are bilinearly upsampled; outside the DEM, sea level.

use super::heights::{ElevationCache, Sampler};
use formosa_store::mercator::tile_bounds_m;
use formosa_store::raster::TILE_SIZE;
use formosa_store::{Pyramids, StoreError};

/// Heights at the pixel centres of a 256×256 tile at z/x/y (row-major from the
/// north-west), or None when the store has no terrain.
pub fn heights(store: &dyn Pyramids, cache: &ElevationCache, z: u8, x: u32, y: u32, geoid_undulation_m: f64) -> Result<Option<Vec<f32>>, StoreError> {
    let Some(mut sampler) = Sampler::new(store, cache, z, geoid_undulation_m) else { return Ok(None) };
    let b = tile_bounds_m(z, x, y);
    let px = (b.max_x - b.min_x) / TILE_SIZE as f64;
    let mut out = Vec::with_capacity(TILE_SIZE * TILE_SIZE);
    for row in 0..TILE_SIZE {
        for col in 0..TILE_SIZE {
            out.push(sampler.height(b.min_x + (col as f64 + 0.5) * px, b.max_y - (row as f64 + 0.5) * px)? as f32);
        }
    }
    Ok(Some(out))
}

/// The terrain-RGB PNG of tile z/x/y (what the server and `formosa seed` send), or None
/// when the store has no terrain.
pub fn png(store: &dyn Pyramids, cache: &ElevationCache, z: u8, x: u32, y: u32, geoid_undulation_m: f64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(heights(store, cache, z, x, y, geoid_undulation_m)?.map(|h| encode_png(&h)))
}

/// Encodes heights as a terrain-RGB PNG (RGB, 8 bits per channel).
pub fn encode_png(heights: &[f32]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(heights.len() * 3);
    for h in heights {
        let v = (((*h as f64) + 10000.0) * 10.0).round().clamp(0.0, 16_777_215.0) as u32;
        rgb.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, TILE_SIZE as u32, TILE_SIZE as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().expect("in-memory PNG header");
        w.write_image_data(&rgb).expect("in-memory PNG data");
    }
    out
}

/// Decodes one terrain-RGB pixel (for tests and tools).
pub fn decode_rgb(r: u8, g: u8, b: u8) -> f64 {
    -10000.0 + ((r as u32 * 65536 + g as u32 * 256 + b as u32) as f64) * 0.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_round_trips_to_a_tenth_of_a_metre() {
        for h in [-50.0f32, 0.0, 8.3, 183.26, 3952.4] {
            let png = encode_png(&vec![h; TILE_SIZE * TILE_SIZE]);
            let dec = png::Decoder::new(std::io::Cursor::new(png));
            let mut reader = dec.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            reader.next_frame(&mut buf).unwrap();
            let back = decode_rgb(buf[0], buf[1], buf[2]);
            assert!((back - h as f64).abs() <= 0.05 + 1e-6, "{h} → {back}");
        }
    }
}
