//! `formosa publish SRC DST`: copies a whole store into another (GeoPackage → PostGIS and
//! back), so an agency can prepare data offline and publish it. Every layer goes through
//! the destination's import trait, so each is swapped in atomically: a failed publish
//! leaves the destination's previous layers serving.

use formosa_store::mercator::{tile_size_m, HALF_WORLD};
use formosa_store::raster::{IMAGERY, TERRAIN};
use formosa_store::{Attributes, Envelope, ImportMode, ImportSpec, LayerInfo, NewFeature, Store, Value};
use std::time::Instant;

/// Features read per round trip.
const BATCH: usize = 2000;

pub struct Published {
    pub layer: String,
    pub kind: String,
    /// Features, or tiles for pyramids.
    pub count: u64,
}

/// Copies every layer of `src` into `dst`, replacing layers of the same name.
pub fn publish(src: &dyn Store, dst: &dyn Store, mut progress: impl FnMut(&str)) -> Result<Vec<Published>, String> {
    let mut out = Vec::new();
    for info in src.layers() {
        let started = Instant::now();
        let count = match info.kind.as_str() {
            TERRAIN | IMAGERY => copy_pyramid(src, dst, &info)?,
            _ => copy_features(src, dst, &info)?,
        };
        progress(&format!(
            "{}: {count} {} ({}) in {:.1} s",
            info.name,
            if info.feature_kind().is_some() { "features" } else { "tiles" },
            info.kind,
            started.elapsed().as_secs_f64()
        ));
        out.push(Published { layer: info.name.clone(), kind: info.kind.clone(), count });
    }
    Ok(out)
}

fn copy_features(src: &dyn Store, dst: &dyn Store, info: &LayerInfo) -> Result<u64, String> {
    let kind = info.feature_kind().ok_or_else(|| format!("layer '{}' has unknown kind '{}'", info.name, info.kind))?;
    let layer = src.feature_layer(&info.name).ok_or_else(|| format!("layer '{}' vanished from the source", info.name))?;
    let world = Envelope { min_x: -180.0, min_y: -90.0, max_x: 180.0, max_y: 90.0 };
    let mut ids = layer.query(&world);
    ids.sort_unstable();
    let spec = ImportSpec { layer: info.name.clone(), kind, mode: ImportMode::Replace, source: info.source.clone(), source_crs: info.source_crs.clone(), has_z: info.has_z };
    let mut import = dst.begin_import(spec).map_err(|e| format!("layer '{}': {e}", info.name))?;
    let columns = kind.columns();
    for chunk in ids.chunks(BATCH) {
        for f in layer.features(chunk, Attributes::All).map_err(|e| format!("layer '{}': {e}", info.name))? {
            let mut values = vec![Value::Null; columns.len()];
            let mut extra = serde_json::Map::new();
            for (name, value) in f.properties {
                match columns.iter().position(|c| c.name == name) {
                    Some(i) => values[i] = value,
                    None => {
                        extra.insert(name.into_owned(), json_of(value));
                    }
                }
            }
            import.insert(&NewFeature { geometry: f.geometry, values, extra }).map_err(|e| format!("layer '{}', feature {}: {e}", info.name, f.id))?;
        }
        import.progress(import.count(), Some(ids.len() as u64));
    }
    let count = import.count();
    import.commit(info.details.clone()).map_err(|e| format!("layer '{}': {e}", info.name))?;
    Ok(count)
}

fn json_of(v: Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => i.into(),
        Value::Real(r) => serde_json::Number::from_f64(r).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Text(s) => s.into(),
    }
}

/// Tiles of zoom `z` that the pyramid's extent (Web Mercator metres) covers, XYZ rows.
fn tiles_over(e: &Envelope, z: u8) -> impl Iterator<Item = (u32, u32)> {
    let size = tile_size_m(z);
    let n = 1u32 << z;
    let col = |x: f64| (((x + HALF_WORLD) / size).floor().max(0.0) as u32).min(n - 1);
    let row = |y: f64| (((HALF_WORLD - y) / size).floor().max(0.0) as u32).min(n - 1);
    let (x0, x1, y0, y1) = (col(e.min_x), col(e.max_x), row(e.max_y), row(e.min_y));
    (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| (x, y)))
}

fn copy_pyramid(src: &dyn Store, dst: &dyn Store, info: &LayerInfo) -> Result<u64, String> {
    let max_zoom = info.max_zoom.ok_or_else(|| format!("pyramid '{}' records no deepest zoom", info.name))?;
    let extent_m: Envelope = serde_json::from_value(info.details["extent_3857"].clone()).map_err(|e| format!("pyramid '{}' records no extent: {e}", info.name))?;
    let fail = |e: formosa_store::StoreError| format!("layer '{}': {e}", info.name);
    let mut details = info.details.clone();
    if let serde_json::Value::Object(m) = &mut details {
        m.remove("max_zoom");
        m.remove("extent_3857");
    }
    if info.kind == TERRAIN {
        let mut import = dst.begin_terrain_import(extent_m, max_zoom).map_err(fail)?;
        for z in 0..=max_zoom {
            for (x, y) in tiles_over(&extent_m, z) {
                if let Some(tile) = src.elevation_tile(z, x, y).map_err(fail)? {
                    import.put_tile(z, x, y, &tile.heights).map_err(fail)?;
                }
            }
        }
        let n = import.tile_count();
        import.commit(&info.source, &info.source_crs, details).map_err(fail)?;
        Ok(n)
    } else {
        let mut import = dst.begin_imagery_import(&info.name, extent_m, max_zoom).map_err(fail)?;
        for z in 0..=max_zoom {
            for (x, y) in tiles_over(&extent_m, z) {
                if let Some(tile) = src.imagery_tile(&info.name, z, x, y).map_err(fail)? {
                    import.put_tile(z, x, y, &tile).map_err(fail)?;
                }
            }
        }
        let n = import.tile_count();
        import.commit(&info.source, &info.source_crs, details).map_err(fail)?;
        Ok(n)
    }
}
