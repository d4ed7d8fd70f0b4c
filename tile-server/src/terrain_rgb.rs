//! Terrain-RGB tiles (Mapbox encoding: height = -10000 + (R·65536 + G·256 + B) · 0.1 m)
//! from the store's elevation pyramid, for MapLibre's hillshade and 3D terrain.
//! Beyond the pyramid's deepest level, tiles are bilinearly upsampled from their ancestor;
//! outside the DEM the height is 0 (sea level), never garbage.

use formosa_store::elevation::{ElevationTile, NO_DATA, TILE_SIZE};
use formosa_store::{Store, StoreError};

/// Heights of a 256×256 tile at z/x/y (row-major from the north-west; 0 where no data),
/// or None when the store has no terrain.
pub fn heights(store: &Store, z: u8, x: u32, y: u32) -> Result<Option<Vec<f32>>, StoreError> {
    let Some(info) = store.terrain() else { return Ok(None) };
    let max_zoom = info.details["max_zoom"].as_u64().unwrap_or(0) as u8;
    let n = TILE_SIZE * TILE_SIZE;
    if z <= max_zoom {
        let tile = store.elevation_tile(z, x, y)?;
        return Ok(Some(match tile {
            Some(t) => t.heights.iter().map(|h| if *h == NO_DATA { 0.0 } else { *h }).collect(),
            None => vec![0.0; n],
        }));
    }
    // Overzoom: the ancestor at max_zoom, and where this tile sits inside it.
    let dz = z - max_zoom;
    let (ax, ay) = (x >> dz, y >> dz);
    let Some(ancestor) = store.elevation_tile(max_zoom, ax, ay)? else { return Ok(Some(vec![0.0; n])) };
    let scale = 1u32 << dz;
    let (ox, oy) = ((x - (ax << dz)) as f64, (y - (ay << dz)) as f64);
    let size = TILE_SIZE as f64;
    let mut out = Vec::with_capacity(n);
    for row in 0..TILE_SIZE {
        for col in 0..TILE_SIZE {
            // Pixel centre in the ancestor's pixel space.
            let px = (ox + (col as f64 + 0.5) / size) * size / scale as f64 - 0.5;
            let py = (oy + (row as f64 + 0.5) / size) * size / scale as f64 - 0.5;
            out.push(bilinear(&ancestor, px, py));
        }
    }
    Ok(Some(out))
}

fn bilinear(t: &ElevationTile, px: f64, py: f64) -> f32 {
    let max = (TILE_SIZE - 1) as f64;
    let (px, py) = (px.clamp(0.0, max), py.clamp(0.0, max));
    let (c0, r0) = (px.floor() as usize, py.floor() as usize);
    let (c1, r1) = ((c0 + 1).min(TILE_SIZE - 1), (r0 + 1).min(TILE_SIZE - 1));
    let (fx, fy) = (px - c0 as f64, py - r0 as f64);
    let mut sum = 0.0;
    let mut weight = 0.0;
    for (c, r, w) in [(c0, r0, (1.0 - fx) * (1.0 - fy)), (c1, r0, fx * (1.0 - fy)), (c0, r1, (1.0 - fx) * fy), (c1, r1, fx * fy)] {
        if let Some(h) = t.get(c, r) {
            sum += h as f64 * w;
            weight += w;
        }
    }
    if weight > 1e-9 { (sum / weight) as f32 } else { 0.0 }
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
