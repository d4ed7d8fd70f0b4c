//! Hillshade from the elevation pyramid, shaded the way MapLibre's `hillshade` layer
//! shades terrain-RGB tiles, so the server's maps and the browser's look alike:
//! - slopes come from a Sobel filter over the DEM at the level MapLibre would load
//!   (one finer than the map's zoom, at most 13, the style's raster-dem maxzoom), with
//!   MapLibre's extra exaggeration below zoom 15 and its clamp of the encoded derivative;
//! - each map pixel interpolates those slopes and is lit from `hillshade-illumination-
//!   direction` (viewport-anchored, 335° by default) with the shadow, highlight and accent
//!   colours and the exaggeration of the style.

use super::color::Rgba;
use super::MapView;
use crate::terrain::heights::Sampler;
use formosa_store::mercator::HALF_WORLD;
use formosa_store::raster::TILE_SIZE;
use formosa_store::StoreError;
use std::f64::consts::PI;
use tiny_skia::Pixmap;

pub struct HillshadePaint {
    pub exaggeration: f64,
    pub shadow: Rgba,
    pub highlight: Rgba,
    pub accent: Rgba,
    pub direction_deg: f64,
}

/// The DEM level MapLibre shades a map at `zoom` with (256-px raster-dem tiles, maxzoom 13).
pub fn dem_level(zoom: f64) -> u8 {
    (zoom.floor() + 1.0).clamp(0.0, 13.0) as u8
}

/// Shades `view` onto `pixmap` (source-over), from the DEM sampled at `sampler.zoom()`.
pub fn draw(pixmap: &mut Pixmap, view: &MapView, sampler: &mut Sampler, paint: &HillshadePaint) -> Result<(), StoreError> {
    let level = sampler.zoom();
    let px_m = 2.0 * HALF_WORLD / ((1u64 << level) as f64 * TILE_SIZE as f64);
    let b = view.mercator_bounds();
    // The DEM window under the map, with 2 pixels more for the Sobel neighbours.
    let gx0 = ((b.min_x + HALF_WORLD) / px_m).floor() as i64 - 2;
    let gy0 = ((HALF_WORLD - b.max_y) / px_m).floor() as i64 - 2;
    let w = (((b.max_x + HALF_WORLD) / px_m).ceil() as i64 + 2 - gx0 + 1).clamp(3, 8192) as usize;
    let h = (((HALF_WORLD - b.min_y) / px_m).ceil() as i64 + 2 - gy0 + 1).clamp(3, 8192) as usize;
    let mut heights = vec![0f32; w * h];
    for r in 0..h {
        for c in 0..w {
            heights[r * w + c] = sampler.pixel_height(gx0 + c as i64, gy0 + r as i64)?.unwrap_or(0.0) as f32;
        }
    }
    // MapLibre's derivative: 2 × dz per Web Mercator metre, exaggerated below zoom 15,
    // clamped to ±1 (it is stored in a colour channel).
    let zf = level as f64;
    let exaggeration_factor = if zf < 2.0 {
        0.4
    } else if zf < 4.5 {
        0.35
    } else {
        0.3
    };
    let boost = 2f64.powf(if zf < 15.0 { (15.0 - zf) * exaggeration_factor } else { 0.0 });
    let mut deriv = vec![(0f32, 0f32); w * h];
    for r in 1..h - 1 {
        for c in 1..w - 1 {
            let e = |dr: usize, dc: usize| heights[(r + dr - 1) * w + (c + dc - 1)] as f64;
            let dx = (e(0, 2) + 2.0 * e(1, 2) + e(2, 2)) - (e(0, 0) + 2.0 * e(1, 0) + e(2, 0));
            let dy = (e(2, 0) + 2.0 * e(2, 1) + e(2, 2)) - (e(0, 0) + 2.0 * e(0, 1) + e(0, 2));
            let k = 2.0 / (8.0 * px_m) * boost;
            deriv[r * w + c] = ((dx * k).clamp(-1.0, 1.0) as f32, (dy * k).clamp(-1.0, 1.0) as f32);
        }
    }
    let intensity = paint.exaggeration;
    let azimuth = paint.direction_deg.to_radians() + PI;
    let strength = (intensity * 2.0).clamp(0.0, 1.0);
    let base = 1.875 - intensity * 1.75;
    let max_slope = 0.5 * PI;
    let width = pixmap.width() as usize;
    let pixels = pixmap.pixels_mut();
    for py in 0..view.height as usize {
        for px in 0..view.width as usize {
            let (mx, my, lat) = view.mercator_at(px as f64 + 0.5, py as f64 + 0.5);
            let u = (mx + HALF_WORLD) / px_m - 0.5 - gx0 as f64;
            let v = (HALF_WORLD - my) / px_m - 0.5 - gy0 as f64;
            let (dx, dy) = bilinear(&deriv, w, h, u, v);
            if dx == 0.0 && dy == 0.0 {
                continue;
            }
            let scale = lat.to_radians().cos();
            let slope = (1.25 * (dx * dx + dy * dy).sqrt() / scale).atan();
            let aspect = if dx != 0.0 { dy.atan2(-dx) } else { PI / 2.0 * dy.signum() };
            let scaled = if (intensity - 0.5).abs() > 1e-9 { (base.powf(slope) - 1.0) / (base.powf(max_slope) - 1.0) * max_slope } else { slope };
            let accent = 1.0 - scaled.cos();
            let shade = (((aspect + azimuth) / PI + 0.5).rem_euclid(2.0) - 1.0).abs();
            let lit = paint.shadow.lerp(paint.highlight, shade as f32);
            let (sa, ss) = ((accent * strength) as f32, (scaled.sin() * strength) as f32);
            // Premultiplied: accent under the directional shade, then over the map.
            let shade_rgba = [lit.r * lit.a * ss, lit.g * lit.a * ss, lit.b * lit.a * ss, lit.a * ss];
            let acc = [paint.accent.r * paint.accent.a * sa, paint.accent.g * paint.accent.a * sa, paint.accent.b * paint.accent.a * sa, paint.accent.a * sa];
            let src: [f32; 4] = std::array::from_fn(|i| (acc[i] * (1.0 - shade_rgba[3]) + shade_rgba[i]) * 255.0);
            super::blend_over(&mut pixels[py * width + px], src);
        }
    }
    Ok(())
}

fn bilinear(grid: &[(f32, f32)], w: usize, h: usize, u: f64, v: f64) -> (f64, f64) {
    let (u, v) = (u.clamp(0.0, (w - 1) as f64), v.clamp(0.0, (h - 1) as f64));
    let (c0, r0) = (u.floor() as usize, v.floor() as usize);
    let (c1, r1) = ((c0 + 1).min(w - 1), (r0 + 1).min(h - 1));
    let (fu, fv) = ((u - c0 as f64) as f32, (v - r0 as f64) as f32);
    let at = |r: usize, c: usize| grid[r * w + c];
    let mix = |a: (f32, f32), b: (f32, f32), t: f32| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
    let top = mix(at(r0, c0), at(r0, c1), fu);
    let bottom = mix(at(r1, c0), at(r1, c1), fu);
    let (x, y) = mix(top, bottom, fv);
    (x as f64, y as f64)
}
