//! Imagery import: an orthophoto or post-disaster image (GeoTIFF or any GDAL raster with
//! 8-bit bands, any CRS) becomes an imagery layer — RGBA tiles on the Web Mercator grid
//! from the image's own resolution up to zoom 0 — that WMS and WMTS serve under the base
//! map. After a typhoon or an earthquake agencies publish fresh imagery this way in the
//! time it takes to tile it (see benches/ for figures).
//!
//! Bands: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). Transparency comes from GDAL's
//! mask of the image: its alpha band, its internal mask, or its nodata value. Pixels are sampled bilinearly at the deepest level, and each coarser level
//! averages the 2 × 2 pixels below it.

use crate::progress;
use crate::raster;
use crate::report::{ImportReport, Units};
use crate::source::init_gdal;
use crate::{crs, ImportError};
use formosa_store::mercator::tiles_covering_m;
use formosa_store::raster::TILE_SIZE;
use formosa_store::Imports;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct ImageryOptions {
    pub path: PathBuf,
    /// The store layer to write (replaced if it exists).
    pub layer: String,
    pub srs: Option<String>,
    /// Deepest level; by default the one whose pixels are just finer than the image's.
    pub max_zoom: Option<u8>,
    pub progress: bool,
}

const RGBA_TILE: usize = TILE_SIZE * TILE_SIZE * 4;

pub fn import_imagery(store: &dyn Imports, opts: &ImageryOptions) -> Result<ImportReport, ImportError> {
    init_gdal();
    let started = Instant::now();
    let path = &opts.path;
    let source = raster::open(path, opts.srs.as_deref(), "imagery", "an image raster (GeoTIFF or any GDAL raster with 8-bit bands)")?;
    let bands = source.ds.raster_count();
    if !(1..=4).contains(&bands) {
        return Err(ImportError::Unreadable { path: path.clone(), reason: format!("{bands} bands; imagery needs 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)") });
    }
    for (i, ty) in source.band_types()?.iter().enumerate() {
        if ty.name != "Byte" {
            // One band of heights-like values is most likely a DEM given to the wrong importer.
            let hint = if bands == 1 && !ty.complex {
                format!(
                    "; a single {} band looks like a DEM (`formosa import terrain`); for an image, convert it first, e.g. gdal_translate -ot Byte -scale {} image_8bit.tif",
                    ty.name,
                    path.display()
                )
            } else {
                format!("; convert it first, e.g. gdal_translate -ot Byte -scale {} image_8bit.tif", path.display())
            };
            return Err(ImportError::BandType {
                path: path.clone(),
                band: i + 1,
                found: format!("{}, not 8-bit", ty.name),
                command: "imagery",
                expected: "8-bit (Byte) bands: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)",
                hint,
            });
        }
    }
    let from_ll = crs::from_wgs84(&source.srs)?;
    let (extent_m, mid_lat) = source.footprint_m()?;
    let cell_m = source.cell_m(mid_lat);
    let max_zoom = opts.max_zoom.unwrap_or_else(|| raster::matching_zoom(cell_m, mid_lat, 19));
    tracing::info!("image {}×{} px, {bands} bands, cells of {cell_m:.2} m ({}) → tiles z0–z{max_zoom}", source.width, source.height, source.srs_label);

    let mut import = store.begin_imagery_import(&opts.layer, extent_m, max_zoom)?;
    let (c0, r0, c1, r1) = tiles_covering_m(&extent_m, max_zoom);
    let total = (c1 - c0 + 1) as u64 * (r1 - r0 + 1) as u64;
    let pb = progress::bar(Some(total), "tiles", opts.progress);
    pb.set_message(format!("image → z{max_zoom} tiles"));
    let mut level: HashSet<(u32, u32)> = HashSet::new();
    let mut visible = 0u64;
    for ty in r0..=r1 {
        for tx in c0..=c1 {
            let (xs, ys) = raster::tile_pixel_centres(&from_ll, max_zoom, tx, ty)?;
            let rgba = sample_tile(&source, bands, &xs, &ys).map_err(|e| ImportError::Unreadable { path: path.clone(), reason: e })?;
            let opaque = rgba.chunks_exact(4).filter(|p| p[3] > 0).count() as u64;
            if opaque > 0 {
                visible += opaque;
                import.put_tile(max_zoom, tx, ty, &encode(&rgba)?)?;
                level.insert((tx, ty));
            }
            pb.inc(1);
            import.progress(pb.position(), Some(total));
        }
    }
    pb.finish_and_clear();
    if visible == 0 {
        return Err(ImportError::Unreadable { path: path.clone(), reason: "the image has no visible pixel (all nodata or transparent)".into() });
    }
    // Coarser levels: each pixel the average of the 2 × 2 below it (transparent ones out).
    for z in (0..max_zoom).rev() {
        let parents: HashSet<(u32, u32)> = level.iter().map(|(x, y)| (x / 2, y / 2)).collect();
        for &(px, py) in &parents {
            let mut children = [None, None, None, None];
            for (i, (dx, dy)) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
                if let Some(bytes) = import.tile(z + 1, 2 * px + dx, 2 * py + dy)? {
                    children[i] = Some(image::load_from_memory(&bytes).map_err(|e| ImportError::Gdal(format!("re-reading a tile: {e}")))?.to_rgba8().into_raw());
                }
            }
            import.put_tile(z, px, py, &encode(&downsample(&children))?)?;
        }
        level = parents;
    }
    let tiles = import.tile_count();
    let details = serde_json::json!({ "width": source.width, "height": source.height, "bands": bands, "cell_m": cell_m });
    import.commit(&path.display().to_string(), &source.srs_label, details)?;
    Ok(ImportReport {
        layer: opts.layer.clone(),
        kind: formosa_store::raster::IMAGERY.into(),
        source: path.display().to_string(),
        source_crs: source.srs_label.clone(),
        read: (source.width * source.height) as u64,
        units: Units::ImagePixels,
        imported: tiles,
        max_zoom: Some(max_zoom),
        elapsed: started.elapsed(),
        ..Default::default()
    })
}

/// RGBA of one tile: each pixel bilinear between the source pixels around its centre
/// (source coordinates `xs`, `ys`), read from the window of the image the tile covers.
fn sample_tile(source: &raster::RasterSource, bands: usize, xs: &[f64], ys: &[f64]) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; RGBA_TILE];
    let pixels: Vec<(f64, f64)> = xs.iter().zip(ys).map(|(x, y)| source.pixel_of(*x, *y)).map(|(c, r)| (c - 0.5, r - 0.5)).collect();
    let (w, h) = (source.width as f64, source.height as f64);
    let inside = |c: f64, r: f64| c > -1.0 && r > -1.0 && c < w && r < h;
    let (mut c_min, mut r_min, mut c_max, mut r_max) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &(c, r) in pixels.iter().filter(|(c, r)| c.is_finite() && r.is_finite() && inside(*c, *r)) {
        (c_min, r_min, c_max, r_max) = (c_min.min(c), r_min.min(r), c_max.max(c), r_max.max(r));
    }
    if !c_min.is_finite() {
        return Ok(out); // the tile is off the image
    }
    let x0 = c_min.floor().max(0.0) as usize;
    let y0 = r_min.floor().max(0.0) as usize;
    let x1 = (c_max.floor() as usize + 1).min(source.width - 1);
    let y1 = (r_max.floor() as usize + 1).min(source.height - 1);
    let (ww, wh) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut window: Vec<Vec<u8>> = Vec::with_capacity(bands + 1);
    let read = |band: gdal::raster::RasterBand, what: &str| -> Result<Vec<u8>, String> {
        Ok(band.read_as::<u8>((x0 as isize, y0 as isize), (ww, wh), (ww, wh), None).map_err(|e| format!("cannot read {what}: {e}"))?.data().to_vec())
    };
    for b in 1..=bands {
        window.push(read(source.ds.rasterband(b).map_err(|e| e.to_string())?, &format!("band {b}"))?);
    }
    // GDAL's mask: alpha band, internal mask or nodata, whichever the image has (all 255 if none).
    let first = source.ds.rasterband(1).map_err(|e| e.to_string())?;
    let mask = read(first.open_mask_band().map_err(|e| e.to_string())?, "the mask")?;
    let rgba_at = |x: usize, y: usize| -> [f32; 4] {
        let i = y * ww + x;
        let v: Vec<u8> = window.iter().map(|b| b[i]).collect();
        let (r, g, b) = if bands >= 3 { (v[0], v[1], v[2]) } else { (v[0], v[0], v[0]) };
        // Premultiplied, so transparent neighbours do not darken the edge.
        let af = mask[i] as f32 / 255.0;
        [r as f32 * af, g as f32 * af, b as f32 * af, mask[i] as f32]
    };
    for (i, &(c, r)) in pixels.iter().enumerate() {
        if !(c.is_finite() && r.is_finite() && inside(c, r)) {
            continue;
        }
        let (cf, rf) = ((c - x0 as f64).clamp(0.0, (ww - 1) as f64), (r - y0 as f64).clamp(0.0, (wh - 1) as f64));
        let (cx, ry) = (cf.floor() as usize, rf.floor() as usize);
        let (cx1, ry1) = ((cx + 1).min(ww - 1), (ry + 1).min(wh - 1));
        let (fx, fy) = ((cf - cx as f64) as f32, (rf - ry as f64) as f32);
        let mut acc = [0f32; 4];
        for (x, y, wgt) in [(cx, ry, (1.0 - fx) * (1.0 - fy)), (cx1, ry, fx * (1.0 - fy)), (cx, ry1, (1.0 - fx) * fy), (cx1, ry1, fx * fy)] {
            let p = rgba_at(x, y);
            for k in 0..4 {
                acc[k] += p[k] * wgt;
            }
        }
        let a = acc[3];
        if a >= 0.5 {
            let af = a / 255.0;
            out[i * 4..i * 4 + 4].copy_from_slice(&[
                (acc[0] / af).round().min(255.0) as u8,
                (acc[1] / af).round().min(255.0) as u8,
                (acc[2] / af).round().min(255.0) as u8,
                a.round() as u8,
            ]);
        }
    }
    Ok(out)
}

/// A parent tile from its four children (NW, NE, SW, SE; absent ones transparent).
fn downsample(children: &[Option<Vec<u8>>; 4]) -> Vec<u8> {
    let mut out = vec![0u8; RGBA_TILE];
    let half = TILE_SIZE / 2;
    for (i, child) in children.iter().enumerate() {
        let Some(child) = child else { continue };
        let (ox, oy) = ((i % 2) * half, (i / 2) * half);
        for row in 0..half {
            for col in 0..half {
                let mut acc = [0u32; 4];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = ((2 * row + dy) * TILE_SIZE + 2 * col + dx) * 4;
                    let a = child[p + 3] as u32;
                    for k in 0..3 {
                        acc[k] += child[p + k] as u32 * a;
                    }
                    acc[3] += a;
                }
                let o = ((oy + row) * TILE_SIZE + ox + col) * 4;
                if let (Some(r), Some(g), Some(b)) = (acc[0].checked_div(acc[3]), acc[1].checked_div(acc[3]), acc[2].checked_div(acc[3])) {
                    out[o..o + 4].copy_from_slice(&[r as u8, g as u8, b as u8, (acc[3] / 4) as u8]);
                }
            }
        }
    }
    out
}

/// JPEG (quality 90) for opaque tiles, PNG where any pixel is transparent.
fn encode(rgba: &[u8]) -> Result<Vec<u8>, ImportError> {
    let mut out = Vec::new();
    let size = TILE_SIZE as u32;
    let result = if rgba.chunks_exact(4).all(|p| p[3] == 255) {
        let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        image::ImageEncoder::write_image(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90), &rgb, size, size, image::ExtendedColorType::Rgb8)
    } else {
        image::ImageEncoder::write_image(image::codecs::png::PngEncoder::new(&mut out), rgba, size, size, image::ExtendedColorType::Rgba8)
    };
    result.map_err(|e| ImportError::Gdal(format!("encoding a tile: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_average_visible_children_only() {
        let mut nw = vec![0u8; RGBA_TILE];
        for p in nw.chunks_exact_mut(4) {
            p.copy_from_slice(&[200, 100, 0, 255]);
        }
        // One transparent pixel in the first 2 × 2 block: the parent keeps the colour, at 3/4 alpha.
        nw[..4].copy_from_slice(&[0, 0, 0, 0]);
        let parent = downsample(&[Some(nw), None, None, None]);
        assert_eq!(&parent[..4], &[200, 100, 0, 191]);
        assert_eq!(&parent[4..8], &[200, 100, 0, 255]);
        let se = ((TILE_SIZE - 1) * TILE_SIZE + TILE_SIZE - 1) * 4;
        assert_eq!(&parent[se..se + 4], &[0, 0, 0, 0], "no child there: transparent");
    }
}
