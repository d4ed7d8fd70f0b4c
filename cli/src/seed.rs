//! `formosa seed`: pre-renders a tile pyramid for a bounding box and zoom range into a
//! PMTiles v3 archive or an MBTiles file, the same tiles the server would answer, so a
//! deployment can push the base map to a CDN or object storage before a typhoon and other
//! servers (Martin, TileServer GL) can read it.
//!
//! Tiles are made on all cores in batches taken in PMTiles tile-id (Hilbert) order and
//! written by one thread; empty tiles are left out (both formats allow it).

use formosa_encoders::grids::TileMatrixSet;
use formosa_encoders::render::encode::ImageFormat;
use formosa_encoders::render::imagery::ImageryCache;
use formosa_encoders::render::{Rasters, Renderer, BASEMAP};
use formosa_encoders::terrain::heights::ElevationCache;
use formosa_encoders::terrain::rgb;
use formosa_encoders::tiles;
use formosa_store::mercator::{tiles_covering_m, to_mercator};
use formosa_store::{Envelope, Source};
use formosa_tile_server::cache::CachedTile;
use pmtiles::{Compression, PmTilesWriter, TileCoord, TileId, TileType};
use serde_json::json;
use std::path::{Path, PathBuf};

/// What to seed.
#[derive(Clone)]
pub enum Content {
    /// Vector tiles of these store layers (the base map: every vector layer).
    Vector(Vec<String>),
    /// Terrain-RGB PNG tiles of the elevation pyramid.
    TerrainRgb { geoid_undulation_m: f64 },
    /// Rendered PNG tiles of a map layer (`basemap`, a store layer, imagery): the WMTS
    /// GoogleMapsCompatible tiles, byte for byte.
    Raster { layer: String, renderer: std::sync::Arc<Renderer> },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    PmTiles,
    MbTiles,
}

impl Format {
    /// From the output's extension.
    pub fn of(path: &Path) -> Result<Format, String> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("pmtiles") => Ok(Format::PmTiles),
            Some("mbtiles") => Ok(Format::MbTiles),
            _ => Err(format!("{}: the output must end in .pmtiles or .mbtiles", path.display())),
        }
    }
}

pub struct SeedOptions {
    pub bbox: Envelope,
    pub min_zoom: u8,
    pub max_zoom: u8,
    pub content: Content,
    pub out: PathBuf,
    pub show_progress: bool,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub tiles_visited: u64,
    pub tiles_written: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Parses "121.5,25.0,121.6,25.1" (lon/lat, west,south,east,north).
pub fn parse_bbox(s: &str) -> Result<Envelope, String> {
    let n: Vec<f64> = s.split(',').map(|v| v.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| format!("--bbox '{s}' must be four numbers: west,south,east,north"))?;
    if n.len() != 4 {
        return Err(format!("--bbox '{s}' must be four numbers: west,south,east,north (got {})", n.len()));
    }
    if !(-180.0..=180.0).contains(&n[0]) || !(-180.0..=180.0).contains(&n[2]) || !(-85.06..=85.06).contains(&n[1]) || !(-85.06..=85.06).contains(&n[3]) {
        return Err(format!("--bbox '{s}' is not a lon/lat box within Web Mercator's ±85.05°"));
    }
    if n[0] >= n[2] || n[1] >= n[3] {
        return Err(format!("--bbox '{s}': west must be less than east and south less than north"));
    }
    Ok(Envelope { min_x: n[0], min_y: n[1], max_x: n[2], max_y: n[3] })
}

/// Parses "10-16" or "14".
pub fn parse_zooms(s: &str) -> Result<(u8, u8), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let z = |v: &str| v.trim().parse::<u8>().ok().filter(|z| *z <= 22).ok_or_else(|| format!("--zoom '{s}': zoom levels are whole numbers from 0 to 22, e.g. 10-16"));
    let (lo, hi) = (z(a)?, z(b)?);
    if lo > hi {
        return Err(format!("--zoom '{s}': the first level must not be above the second"));
    }
    Ok((lo, hi))
}

fn tile_list(bbox: &Envelope, min_zoom: u8, max_zoom: u8) -> Vec<(u64, u8, u32, u32)> {
    let (x0, y0) = to_mercator(bbox.min_x, bbox.min_y);
    let (x1, y1) = to_mercator(bbox.max_x, bbox.max_y);
    let m = Envelope { min_x: x0, min_y: y0, max_x: x1, max_y: y1 };
    let mut tiles = Vec::new();
    for z in min_zoom..=max_zoom {
        let (c0, r0, c1, r1) = tiles_covering_m(&m, z);
        for x in c0..=c1 {
            for y in r0..=r1 {
                if let Ok(coord) = TileCoord::new(z, x, y) {
                    tiles.push((TileId::from(coord).value(), z, x, y));
                }
            }
        }
    }
    tiles.sort_unstable();
    tiles
}

/// One tile as made: its stored bytes, None when empty, or why it failed.
type Made = Result<Option<Vec<u8>>, String>;

/// Seeds `opts.out` (written to a temporary name and renamed at the end: a failed or
/// interrupted seed never leaves a half archive under the real name).
pub fn seed(store: &dyn Source, opts: &SeedOptions) -> Result<SeedReport, String> {
    let format = Format::of(&opts.out)?;
    match &opts.content {
        Content::Vector(layers) => {
            for l in layers {
                if store.feature_layer(l).is_none() {
                    return Err(format!("no vector layer named '{l}' in the store"));
                }
            }
        }
        Content::TerrainRgb { .. } if store.terrain().is_none() => return Err("the store has no terrain to seed; import a DEM with `formosa import terrain`".into()),
        Content::Raster { layer, renderer } if layer != BASEMAP && !renderer.map_layers(store).iter().any(|l| &l.name == layer) => {
            let names: Vec<String> = renderer.map_layers(store).into_iter().map(|l| l.name).collect();
            return Err(format!("no map layer named '{layer}'; map layers: basemap, {}", names.join(", ")));
        }
        _ => {}
    }
    if matches!(opts.content, Content::Raster { .. }) && opts.max_zoom as usize >= TileMatrixSet::google().matrices.len() {
        return Err(format!("--zoom: rendered tiles go to zoom {} at most", TileMatrixSet::google().matrices.len() - 1));
    }
    let started = std::time::Instant::now();
    let tiles = tile_list(&opts.bbox, opts.min_zoom, opts.max_zoom);
    let tmp = opts.out.with_extension("partial");
    let mut sink = Sink::open(format, &tmp, opts, store)?;
    let bar = formosa_importers::progress::bar(Some(tiles.len() as u64), "tiles", opts.show_progress);
    bar.set_message(format!("seeding {}", opts.out.display()));
    let elevation = ElevationCache::new(256);
    let imagery = ImageryCache::new(512);
    let grid = TileMatrixSet::google();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut report = SeedReport { tiles_visited: tiles.len() as u64, ..SeedReport::default() };
    for batch in tiles.chunks(1024) {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let made: Vec<Made> = {
            let results: Vec<std::sync::Mutex<Option<Made>>> = batch.iter().map(|_| std::sync::Mutex::new(None)).collect();
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(_, z, x, y)) = batch.get(i) else { break };
                        let r = make(store, Rasters { elevation: &elevation, imagery: &imagery }, &grid, &opts.content, z, x, y);
                        *results[i].lock().unwrap() = Some(r);
                    });
                }
            });
            results.into_iter().map(|m| m.into_inner().unwrap().unwrap_or(Ok(None))).collect()
        };
        for (&(_, z, x, y), tile) in batch.iter().zip(made) {
            if let Some(bytes) = tile? {
                report.bytes += bytes.len() as u64;
                report.tiles_written += 1;
                sink.put(z, x, y, &bytes)?;
            }
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    sink.finish()?;
    std::fs::rename(&tmp, &opts.out).map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), opts.out.display()))?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One tile as stored: gzip-compressed MVT, or PNG; None when empty.
fn make(store: &dyn Source, rasters: Rasters, grid: &TileMatrixSet, content: &Content, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, String> {
    match content {
        Content::Vector(layers) => {
            let raw = tiles::vector_tile(store, layers, z, x, y).map_err(|e| e.to_string())?;
            Ok((!raw.is_empty()).then(|| CachedTile::new(raw).gzip.to_vec()))
        }
        Content::TerrainRgb { geoid_undulation_m } => rgb::png(store, rasters.elevation, z, x, y, *geoid_undulation_m).map_err(|e| e.to_string()),
        Content::Raster { layer, renderer } => formosa_encoders::wmts::render_tile(renderer, store, rasters, grid, z as usize, y, x, layer, ImageFormat::Png).map(Some),
    }
}

enum Sink {
    // Boxed: the stream writer is far larger than an SQLite connection handle.
    PmTiles(Box<pmtiles::PmTilesStreamWriter<std::io::BufWriter<std::fs::File>>>),
    MbTiles(rusqlite::Connection),
}

impl Sink {
    fn open(format: Format, path: &Path, opts: &SeedOptions, store: &dyn Source) -> Result<Sink, String> {
        let _ = std::fs::remove_file(path);
        let b = opts.bbox;
        let (name, vector_layers, tile_type, mime) = match &opts.content {
            Content::Vector(layers) => (
                "Formosa 國家共通底圖",
                layers
                    .iter()
                    .filter_map(|l| store.layer_info(l))
                    .map(|l| {
                        let kind = l.feature_kind().expect("checked");
                        let r = tiles::rules(Some(kind));
                        let fields: serde_json::Map<String, serde_json::Value> = kind.columns().iter().map(|c| (c.name.to_string(), json!(format!("{:?}", c.ty)))).collect();
                        json!({ "id": l.name, "fields": fields, "minzoom": r.minzoom, "maxzoom": r.maxzoom })
                    })
                    .collect::<Vec<_>>(),
                TileType::Mvt,
                "pbf",
            ),
            Content::TerrainRgb { .. } => ("Formosa terrain-RGB", Vec::new(), TileType::Png, "png"),
            Content::Raster { .. } => ("Formosa 國家共通底圖 (rendered)", Vec::new(), TileType::Png, "png"),
        };
        match format {
            Format::PmTiles => {
                let file = std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                let mut w = PmTilesWriter::new(tile_type)
                    .min_zoom(opts.min_zoom)
                    .max_zoom(opts.max_zoom)
                    .bounds(b.min_x, b.min_y, b.max_x, b.max_y)
                    .center((b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0)
                    .center_zoom(opts.max_zoom.min(15))
                    .metadata(json!({ "name": name, "vector_layers": vector_layers, "attribution": "Formosa" }).to_string());
                w = if tile_type == TileType::Mvt { w.precompressed(Compression::Gzip) } else { w.precompressed(Compression::None) };
                let writer = w.create(std::io::BufWriter::new(file)).map_err(|e| format!("PMTiles: {e}"))?;
                Ok(Sink::PmTiles(Box::new(writer)))
            }
            Format::MbTiles => {
                let conn = rusqlite::Connection::open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                conn.execute_batch(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;
                     CREATE TABLE metadata (name TEXT, value TEXT);
                     CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);",
                )
                .map_err(|e| format!("MBTiles: {e}"))?;
                let meta = [
                    ("name", name.to_string()),
                    ("format", mime.to_string()),
                    ("type", "baselayer".into()),
                    ("version", "1".into()),
                    ("minzoom", opts.min_zoom.to_string()),
                    ("maxzoom", opts.max_zoom.to_string()),
                    ("bounds", format!("{},{},{},{}", b.min_x, b.min_y, b.max_x, b.max_y)),
                    ("center", format!("{},{},{}", (b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0, opts.max_zoom.min(15))),
                    ("attribution", "Formosa".into()),
                    ("json", json!({ "vector_layers": vector_layers }).to_string()),
                ];
                for (k, v) in meta {
                    conn.execute("INSERT INTO metadata VALUES (?1, ?2)", [k, v.as_str()]).map_err(|e| format!("MBTiles: {e}"))?;
                }
                Ok(Sink::MbTiles(conn))
            }
        }
    }

    fn put(&mut self, z: u8, x: u32, y: u32, bytes: &[u8]) -> Result<(), String> {
        match self {
            Sink::PmTiles(w) => w.add_tile(TileCoord::new(z, x, y).map_err(|e| e.to_string())?, bytes).map_err(|e| format!("PMTiles: {e}")),
            Sink::MbTiles(c) => {
                // MBTiles rows count from the south (TMS).
                let row = (1u32 << z) - 1 - y;
                c.prepare_cached("INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)")
                    .and_then(|mut s| s.execute(rusqlite::params![z, x, row, bytes]))
                    .map(|_| ())
                    .map_err(|e| format!("MBTiles: {e}"))
            }
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::PmTiles(w) => (*w).finalize().map_err(|e| format!("PMTiles: {e}")),
            Sink::MbTiles(c) => c.execute_batch("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row); COMMIT;").map_err(|e| format!("MBTiles: {e}")),
        }
    }
}
