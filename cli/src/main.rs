//! `formosa`: import agency data into the store, inspect it, and serve the base map.

use clap::{Args, Parser, Subcommand};
use formosa_cli::config::Config;
use formosa_cli::seed;
use formosa_cli::store_url::StoreUrl;
use formosa_encoders::fonts::Fonts;
use formosa_encoders::render::style::RenderStyle;
use formosa_encoders::render::Renderer;
use formosa_importers::kinds::KindSettings;
use formosa_importers::source::OpenOptions;
use formosa_importers::{import_imagery, import_terrain, import_vector, ImageryOptions, ImportReport, TerrainOptions, VectorOptions};
use formosa_store::postgis::PgStore;
use formosa_store::{GpkgStore, ImportMode, LayerKind, Store};
use formosa_tile_server::config::ServerConfig;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

// Tiles are built from many small allocations (rows, rings, attribute values) on every
// worker thread; mimalloc's per-thread heaps cut glibc malloc's share of a z15 tile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ABOUT: &str = "Formosa — Taiwan's national 3D base map (國家共通底圖) server.

Imports agency data (cadastral parcels 地籍, utility pipelines 管線, buildings 建物, DEMs
數值地形模型, other base-map layers) into one store — an embedded GeoPackage file that
GDAL and QGIS also open, or a PostgreSQL/PostGIS database shared by many servers — and
serves it to web, GIS and 3D clients.";

const EXAMPLES: &str = "Examples:
  formosa import cadastral parcels.shp --encoding cp950
  formosa import cadastral old_sheet.shp --append --srs EPSG:3828
  formosa import pipelines water.gpkg --map depth_m=COVER_M
  formosa import buildings bldg.shp --storey-height 3.2
  formosa import terrain dem_20m.tif
  formosa import imagery typhoon_ortho.tif --layer ortho_20261123
  formosa import vector towns.geojson --layer towns
  formosa info
  formosa serve --bind 0.0.0.0:8080
  formosa serve --archive taipei=s3://basemap/taipei.pmtiles   # a seeded archive beside the store
  formosa demo            # import the bundled fixtures, then serve them
  formosa --store postgresql://gis@db/formosa serve      # one of many nodes on PostGIS
  formosa publish data/formosa.gpkg postgresql://gis@db/formosa

The store is data/formosa.gpkg unless --store or formosa.toml says otherwise.";

#[derive(Parser)]
#[command(name = "formosa", version, about = ABOUT, after_help = EXAMPLES)]
struct Cli {
    /// The store: a GeoPackage file, or postgresql://user@host:port/db (PostGIS). Default:
    /// `store` in formosa.toml, else data/formosa.gpkg.
    #[arg(long, global = true, env = "FORMOSA_STORE")]
    store: Option<String>,
    /// A streaming replica of the PostgreSQL store to read layers and tiles from; edits and
    /// the change feed stay on --store. Default: `read_store` in formosa.toml.
    #[arg(long, global = true, env = "FORMOSA_READ_STORE")]
    read_store: Option<String>,
    /// Configuration file. Default: ./formosa.toml when present.
    #[arg(long, global = true, env = "FORMOSA_CONFIG")]
    config: Option<PathBuf>,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors: no progress bars, no summaries.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log lines as text (for a terminal) or as one JSON object each (for a log pipeline;
    /// `serve` then logs every request at info level).
    #[arg(long, global = true, env = "FORMOSA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Import data into the store (atomically: a failed or interrupted import changes nothing).
    #[command(subcommand)]
    Import(ImportCommand),
    /// List the store's layers: kind, feature count, extent, source, CRS of origin, size.
    Info {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the store over HTTP.
    Serve {
        /// Address to listen on. Default: [server] bind in formosa.toml, else 127.0.0.1:8080.
        #[arg(long)]
        bind: Option<String>,
        /// Tile cache budget in MiB (0 turns the cache off). Default: [server] cache_mb, else 512.
        #[arg(long)]
        cache_mb: Option<u64>,
        /// Also serve a seeded PMTiles archive at /archives/NAME/{z}/{x}/{y}: SOURCE is a
        /// file, an http(s):// URL (range requests) or s3://bucket/key (endpoint, region and
        /// keys from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY;
        /// AWS_ALLOW_HTTP=true for a plain-HTTP endpoint). Repeatable; adds to [server.archives].
        #[arg(long = "archive", value_name = "NAME=SOURCE", value_parser = formosa_tile_server::services::archives::parse_spec)]
        archives: Vec<(String, String)>,
    },
    /// Import the bundled fixtures (data-fixtures/data) into a demo store if it is empty, then serve.
    Demo {
        #[arg(long)]
        bind: Option<String>,
        /// Where the fixtures are.
        #[arg(long, default_value = "data-fixtures/data")]
        fixtures: PathBuf,
        /// Re-import even if the store already has layers.
        #[arg(long)]
        fresh: bool,
        /// Import only, then exit (e.g. to prepare the database many nodes will serve).
        #[arg(long)]
        no_serve: bool,
    },
    /// Copy a whole store into another, e.g. a GeoPackage prepared offline into the PostGIS
    /// database the servers share (or back). Layers of the same name in DST are replaced,
    /// each atomically; the change log is not copied.
    #[command(
        after_help = "Examples:\n  formosa publish data/formosa.gpkg postgresql://gis@db.example/formosa\n  formosa publish postgresql://gis@db.example/formosa backup.gpkg"
    )]
    Publish {
        /// The store to copy (GeoPackage path or postgresql:// URL).
        src: String,
        /// The store to copy into (created if it is a new GeoPackage file).
        dst: String,
    },
    /// Pre-render tiles for an area and zoom range into a PMTiles or MBTiles file (the
    /// same tiles the server answers), e.g. to push the base map to a CDN before a typhoon.
    #[command(
        after_help = "Examples:\n  formosa seed --bbox 121.45,24.95,121.67,25.10 --zoom 10-16 taipei.pmtiles\n  formosa seed --bbox 121.45,24.95,121.67,25.10 --zoom 12-15 --tiles cadastral,buildings parcels.mbtiles\n  formosa seed --bbox 121.45,24.95,121.67,25.10 --zoom 8-13 --tiles terrain-rgb terrain.pmtiles\n  formosa seed --bbox 121.55,25.02,121.58,25.05 --zoom 12-18 --tiles raster:basemap basemap-png.mbtiles"
    )]
    Seed {
        /// Area as west,south,east,north in degrees (WGS84).
        #[arg(long)]
        bbox: String,
        /// Zoom levels, e.g. 10-16 or 14.
        #[arg(long, default_value = "0-14")]
        zoom: String,
        /// What to render: basemap (every vector layer), a comma-separated list of layers,
        /// terrain-rgb, or raster:LAYER for rendered PNG tiles (raster:basemap, as WMTS draws them).
        #[arg(long, default_value = "basemap")]
        tiles: String,
        /// Output: .pmtiles (PMTiles v3) or .mbtiles.
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Cadastral parcels (地籍): 地號, 段名, 縣市/鄉鎮代碼, 使用分區, 面積 (computed in TWD97 when absent).
    Cadastral(VectorArgs),
    /// Utility lines (管線): 管線種類 (water/gas/power/telecom/sewer), 權屬單位, 管徑 mm, 埋深 m, 材質, 埋設年; 2D or LineStringZ.
    Pipelines(VectorArgs),
    /// Roads (道路), centrelines: 道路名稱, 道路等級 (國道/快速道路/省道/縣道/區道/市區道路/巷道 or motorway…service; unknown: other), 路寬 m, 單行道, 橋梁, 隧道 (是/否), 高程層.
    Roads(VectorArgs),
    /// Railways and MRT (軌道): 路線名稱, 類別 (台鐵/高鐵/捷運/輕軌), 橋梁, 隧道.
    Railways(VectorArgs),
    /// Water (水系): rivers and canals as lines, lakes, reservoirs and ponds as polygons; 河川名稱, 類別.
    Water(VectorArgs),
    /// Landmarks (地標), points: 名稱, 類別 (學校, 醫院, 消防, 警察, 機關, 公園, 車站, 廟宇…), 地址.
    Pois(VectorArgs),
    /// Disaster shelters (避難收容處所), points: 名稱, 預計收容人數, 地址, 類型 (室內/室外), 適用災害類別 (水災、震災、土石流…).
    Shelters(VectorArgs),
    /// Building footprints (建物): 高度 m, or 樓層 × storey height; 用途, 構造, 名稱.
    Buildings {
        #[command(flatten)]
        args: VectorArgs,
        /// Storey height in metres for buildings with floors but no height. Default: formosa.toml, else 3.3.
        #[arg(long)]
        storey_height: Option<f64>,
    },
    /// A DEM raster (GeoTIFF or any GDAL raster, any CRS, with nodata) into the elevation pyramid.
    Terrain {
        /// The DEM file.
        file: PathBuf,
        /// CRS of the DEM when the file has none, or to override it (e.g. EPSG:3826).
        #[arg(long)]
        srs: Option<String>,
        /// Deepest pyramid zoom level. Default: the level matching the DEM's cell size.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=18))]
        max_zoom: Option<u8>,
        /// Write the import report (DEM cells read, pyramid tiles written) as JSON to this file.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// An orthophoto or disaster image (GeoTIFF or any GDAL raster with 8-bit grey/RGB/RGBA
    /// bands, any CRS) as a WMS/WMTS layer drawn under the base map. Replaces a previous
    /// image of the same layer name.
    #[command(
        after_help = "Example:\n  formosa import imagery typhoon_ortho.tif --layer ortho_20261123\n  (then /wms?…&LAYERS=ortho_20261123 or LAYERS=basemap, which draws it under the map)"
    )]
    Imagery {
        /// The image file.
        file: PathBuf,
        /// Store layer to write (lower-case letters, digits, '_').
        #[arg(long, default_value = "imagery")]
        layer: String,
        /// CRS of the image when the file has none, or to override it (e.g. EPSG:3826).
        #[arg(long)]
        srs: Option<String>,
        /// Deepest tile zoom level. Default: the level matching the image's cell size.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=21))]
        max_zoom: Option<u8>,
        /// Write the import report (pixels read, tiles written) as JSON to this file.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Any other base-map layer (admin boundaries, and layers with no kind of their own): name, class; needs --layer.
    Vector(VectorArgs),
}

#[derive(Args, Clone)]
struct VectorArgs {
    /// The source file: Shapefile, GeoPackage, GeoJSON, GML, FileGDB… anything OGR reads.
    file: PathBuf,
    /// Store layer to write. Default: the kind's name (cadastral, pipelines, buildings); required for `vector`.
    #[arg(long)]
    layer: Option<String>,
    /// Add to the layer instead of replacing it.
    #[arg(long)]
    append: bool,
    /// Source CRS, when the file has none or it is wrong: EPSG:3826 (TWD97 TM2), EPSG:3825 (TWD97, Penghu/Kinmen/Matsu), EPSG:3828 (TWD67), EPSG:4326.
    #[arg(long)]
    srs: Option<String>,
    /// Attribute encoding of a shapefile without a .cpg, e.g. cp950 (Big5) or utf-8.
    #[arg(long)]
    encoding: Option<String>,
    /// Layer of a multi-layer source (GeoPackage, GML). Default: the first.
    #[arg(long)]
    source_layer: Option<String>,
    /// Map a store column to a source field when the name is not recognised: --map parcel_no=LOTNUM (repeatable).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// Write the full import report (every skipped feature) as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn init_logging(verbose: u8, quiet: bool, format: LogFormat) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FORMOSA_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "warn,formosa={level},formosa_cli={level},formosa_importers={level},formosa_store={level},formosa_encoders={level},formosa_tile_server={level}"
        ))
    });
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_target(false).init(),
        LogFormat::Json => {
            // Fields at the top level of each object, as log shippers index them.
            logs.json().flatten_event(true).with_current_span(false).init();
            formosa_tile_server::request_log::log_requests_at_info();
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    init_logging(cli.verbose, cli.quiet, format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every stderr line of a JSON log is JSON, the last one too.
            match format {
                LogFormat::Text => eprintln!("error: {e}"),
                LogFormat::Json => tracing::error!("error: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(cli.config.as_deref())?;
    let store_url = StoreUrl::parse(&cli.store.clone().unwrap_or_else(|| config.store.clone()))?;
    let read_store = cli.read_store.clone().or_else(|| config.read_store.clone());
    let open = || open_store(&store_url, read_store.as_deref());
    let show_progress = !cli.quiet && std::io::stderr().is_terminal();
    match cli.command {
        Command::Import(cmd) => {
            let store = open()?.store;
            let report = run_import(store.as_ref(), cmd, &config, show_progress)?;
            if !cli.quiet {
                print!("{}", report.summary());
            }
            Ok(())
        }
        Command::Publish { src, dst } => {
            let (src, dst) = (open_store(&StoreUrl::parse(&src)?, None)?, open_store(&StoreUrl::parse(&dst)?, None)?);
            let done = formosa_cli::publish::publish(src.store.as_ref(), dst.store.as_ref(), |line| {
                if !cli.quiet {
                    println!("{line}");
                }
            })?;
            if !cli.quiet {
                println!("published {} layers from {} to {}", done.len(), src.store.location(), dst.store.location());
            }
            Ok(())
        }
        Command::Seed { bbox, zoom, tiles, out } => {
            let store = open()?.store;
            let store = store.as_ref();
            let bbox = seed::parse_bbox(&bbox)?;
            let (min_zoom, max_zoom) = seed::parse_zooms(&zoom)?;
            let content = match tiles.as_str() {
                "terrain-rgb" => seed::Content::TerrainRgb { geoid_undulation_m: config.server.geoid_undulation_m },
                raster if raster.starts_with("raster:") => {
                    let style = RenderStyle::load(&config.server.styles_dir.join("basemap.json"))?;
                    let fonts = Fonts::load(&config.server.fonts);
                    let renderer = Arc::new(Renderer::new(style, &fonts));
                    seed::Content::Raster { layer: raster["raster:".len()..].to_string(), renderer }
                }
                "basemap" => seed::Content::Vector(formosa_encoders::tiles::basemap_layers(store)),
                list => seed::Content::Vector(list.split(',').map(|s| s.trim().to_string()).collect()),
            };
            let opts = seed::SeedOptions { bbox, min_zoom, max_zoom, content, out: out.clone(), show_progress };
            let r = seed::seed(store, &opts)?;
            if !cli.quiet {
                println!(
                    "{}: {} tiles written of {} in z{min_zoom}–z{max_zoom} ({} empty left out), {:.1} MB, in {:.1} s",
                    out.display(),
                    r.tiles_written,
                    r.tiles_visited,
                    r.tiles_visited - r.tiles_written,
                    r.bytes as f64 / 1e6,
                    r.seconds
                );
            }
            Ok(())
        }
        Command::Info { json } => {
            if let StoreUrl::Gpkg(path) = &store_url {
                if !path.exists() {
                    return Err(format!("no store at {}: import something first (formosa import --help)", path.display()));
                }
            }
            print_info(&open()?, json);
            Ok(())
        }
        Command::Serve { bind, cache_mb, archives } => {
            let store = open()?.store;
            let flags = ServeFlags { bind, cache_mb, archives };
            let server = flags.apply(config.server.clone());
            let reload = reloader(cli.config.clone(), &config, flags);
            serve(store, server, reload)
        }
        Command::Demo { bind, fixtures, fresh, no_serve } => {
            let store = open()?.store;
            if fresh || store.layers().is_empty() {
                import_fixtures(store.as_ref(), &fixtures, &config, show_progress, cli.quiet)?;
                store.refresh().map_err(|e| e.to_string())?;
            } else {
                tracing::info!("{} already has {} layers; serving them (use --fresh to re-import)", store.location(), store.layers().len());
            }
            if no_serve {
                return Ok(());
            }
            let flags = ServeFlags { bind, cache_mb: None, archives: Vec::new() };
            let server = flags.apply(config.server.clone());
            let reload = reloader(cli.config.clone(), &config, flags);
            serve(store, server, reload)
        }
    }
}

/// What `serve`'s flags put over the file's `[server]`, at start and at every reload.
struct ServeFlags {
    bind: Option<String>,
    cache_mb: Option<u64>,
    archives: Vec<(String, String)>,
}

impl ServeFlags {
    fn apply(&self, mut server: ServerConfig) -> ServerConfig {
        if let Some(b) = &self.bind {
            server.bind = b.clone();
        }
        if let Some(mb) = self.cache_mb {
            server.cache_mb = mb;
        }
        server.archives.extend(self.archives.iter().cloned());
        server
    }
}

/// SIGHUP reads the same file again (`--config`, FORMOSA_CONFIG or ./formosa.toml) with
/// the same flags over it. The store is opened once: a new `store` or `read_store` in the
/// file is named and left for a restart.
fn reloader(path: Option<PathBuf>, started: &Config, flags: ServeFlags) -> formosa_tile_server::reload::Reload {
    let stores = (started.store.clone(), started.read_store.clone());
    Box::new(move || {
        let config = Config::load(path.as_deref())?;
        let mut restart = Vec::new();
        if config.store != stores.0 {
            restart.push("store");
        }
        if config.read_store != stores.1 {
            restart.push("read_store");
        }
        if !restart.is_empty() {
            tracing::warn!("configuration reloaded, but {} changed and need a restart; still serving the store opened at start", restart.join(", "));
        }
        Ok(flags.apply(config.server))
    })
}

/// Serves until the server has shut down. Tasks still running then (requests cut at the
/// end of the shutdown grace) get a moment, not forever: dropping a runtime would wait for
/// every blocking task.
fn serve(store: Arc<dyn Store>, server: ServerConfig, reload: formosa_tile_server::reload::Reload) -> Result<(), String> {
    let rt = runtime()?;
    let served = rt.block_on(formosa_tile_server::server::serve(store, server, Some(reload)));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())
}

/// An open store and how big it is.
struct Opened {
    store: Arc<dyn Store>,
    size_bytes: Box<dyn Fn() -> u64>,
}

/// Opens the store `url` names: the one place that picks a backend. A GeoPackage is
/// created (with its folder) when missing; `read` (a replica) is for PostGIS only.
fn open_store(url: &StoreUrl, read: Option<&str>) -> Result<Opened, String> {
    match url {
        StoreUrl::Gpkg(path) => {
            if read.is_some() {
                return Err("--read-store (a streaming replica) needs a postgresql:// store".into());
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let store = Arc::new(GpkgStore::open(path).map_err(|e| e.to_string())?);
            let sized = store.clone();
            Ok(Opened { store, size_bytes: Box::new(move || sized.file_size()) })
        }
        StoreUrl::Postgis(primary) => {
            let read = read.map(StoreUrl::parse).transpose()?.map(|r| match r {
                StoreUrl::Postgis(u) => Ok(u),
                StoreUrl::Gpkg(p) => Err(format!("--read-store {} is not a postgresql:// URL", p.display())),
            });
            let read = read.transpose()?;
            let store = Arc::new(PgStore::open(primary, read.as_deref()).map_err(|e| e.to_string())?);
            let sized = store.clone();
            Ok(Opened { store, size_bytes: Box::new(move || sized.size_bytes().unwrap_or(0)) })
        }
    }
}

fn vector_options(kind: LayerKind, args: &VectorArgs, settings: KindSettings, progress: bool) -> Result<VectorOptions, String> {
    let layer = match (&args.layer, kind) {
        (Some(l), _) => l.clone(),
        (None, LayerKind::Vector) => return Err("`formosa import vector` needs --layer NAME (e.g. --layer towns)".into()),
        (None, k) => k.as_str().to_string(),
    };
    Ok(VectorOptions {
        path: args.file.clone(),
        kind,
        layer,
        mode: if args.append { ImportMode::Append } else { ImportMode::Replace },
        open: OpenOptions { source_layer: args.source_layer.clone(), srs: args.srs.clone(), encoding: args.encoding.clone() },
        field_map: args.map.clone(),
        settings,
        progress,
    })
}

fn run_import(store: &dyn Store, cmd: ImportCommand, config: &Config, progress: bool) -> Result<ImportReport, String> {
    let settings = KindSettings::with_storey_height(config.import.storey_height_m).map_err(|e| format!("[import] storey_height_m: {e}"))?;
    let (report, report_file) = match cmd {
        ImportCommand::Terrain { file, srs, max_zoom, report } => (import_terrain(store, &TerrainOptions { path: file, srs, max_zoom, progress }), report),
        ImportCommand::Imagery { file, layer, srs, max_zoom, report } => (import_imagery(store, &ImageryOptions { path: file, layer, srs, max_zoom, progress }), report),
        ImportCommand::Cadastral(a) => (import_vector(store, &vector_options(LayerKind::Cadastral, &a, settings, progress)?), a.report),
        ImportCommand::Pipelines(a) => (import_vector(store, &vector_options(LayerKind::Pipelines, &a, settings, progress)?), a.report),
        ImportCommand::Vector(a) => (import_vector(store, &vector_options(LayerKind::Vector, &a, settings, progress)?), a.report),
        ImportCommand::Roads(a) => (import_vector(store, &vector_options(LayerKind::Roads, &a, settings, progress)?), a.report),
        ImportCommand::Railways(a) => (import_vector(store, &vector_options(LayerKind::Railways, &a, settings, progress)?), a.report),
        ImportCommand::Water(a) => (import_vector(store, &vector_options(LayerKind::Water, &a, settings, progress)?), a.report),
        ImportCommand::Pois(a) => (import_vector(store, &vector_options(LayerKind::Pois, &a, settings, progress)?), a.report),
        ImportCommand::Shelters(a) => (import_vector(store, &vector_options(LayerKind::Shelters, &a, settings, progress)?), a.report),
        ImportCommand::Buildings { args, storey_height } => {
            let s = match storey_height {
                Some(h) => KindSettings::with_storey_height(h).map_err(|e| format!("--storey-height: {e}"))?,
                None => settings,
            };
            (import_vector(store, &vector_options(LayerKind::Buildings, &args, s, progress)?), args.report)
        }
    };
    let report = report.map_err(|e| e.to_string())?;
    if let Some(path) = report_file {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(&path, json).map_err(|e| format!("cannot write report {}: {e}", path.display()))?;
    }
    Ok(report)
}

/// The bundled fixtures and how each is imported.
fn import_fixtures(store: &dyn Store, dir: &Path, config: &Config, progress: bool, quiet: bool) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("fixtures not found at {} (run from the repository root or pass --fixtures)", dir.display()));
    }
    let vector = |kind, file: &str, layer: Option<&str>, append: bool| {
        VectorArgs { file: dir.join(file), layer: layer.map(str::to_string), append, srs: None, encoding: None, source_layer: None, map: vec![], report: None }.with_kind(kind)
    };
    let steps = vec![
        vector("cadastral", "cadastral/taipei_parcels.shp", None, false),
        vector("cadastral", "cadastral/twd67_sheet.shp", None, true),
        vector("pipelines", "pipelines/pipelines_2d.gpkg", None, false),
        vector("pipelines", "pipelines/pipelines_3d.geojson", None, true),
        vector("buildings", "buildings/buildings.shp", None, false),
        vector("vector", "admin/counties.geojson", Some("counties"), false),
        vector("vector", "admin/towns.geojson", Some("towns"), false),
    ];
    for cmd in steps {
        let report = run_import(store, cmd, config, progress)?;
        if !quiet {
            print!("{}", report.summary());
        }
    }
    for cmd in [
        ImportCommand::Terrain { file: dir.join("terrain/dem_twd97_20m.tif"), srs: None, max_zoom: None, report: None },
        ImportCommand::Imagery { file: dir.join("imagery/typhoon_ortho_twd97.tif"), layer: "typhoon_ortho".into(), srs: None, max_zoom: None, report: None },
    ] {
        let report = run_import(store, cmd, config, progress)?;
        if !quiet {
            print!("{}", report.summary());
        }
    }
    Ok(())
}

impl VectorArgs {
    fn with_kind(self, kind: &str) -> ImportCommand {
        match kind {
            "cadastral" => ImportCommand::Cadastral(self),
            "pipelines" => ImportCommand::Pipelines(self),
            "buildings" => ImportCommand::Buildings { args: self, storey_height: None },
            _ => ImportCommand::Vector(self),
        }
    }
}

fn print_info(opened: &Opened, json: bool) {
    let store = &opened.store;
    let layers = store.layers();
    let size = (opened.size_bytes)();
    if json {
        let v = serde_json::json!({ "store": store.location(), "size_bytes": size, "layers": layers });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!("store {} ({:.1} MB), {} layers", store.location(), size as f64 / 1e6, layers.len());
    println!("{:<14} {:<10} {:>10}  {:<44} {:<10} {:<21} source", "layer", "kind", "count", "extent (lon/lat)", "from CRS", "imported");
    for l in layers {
        let extent = l.extent.map_or("-".to_string(), |e| format!("{:.5},{:.5} {:.5},{:.5}", e.min_x, e.min_y, e.max_x, e.max_y));
        let count = if l.kind == "terrain" || l.kind == "imagery" { format!("{} tiles", l.feature_count) } else { l.feature_count.to_string() };
        println!("{:<14} {:<10} {:>10}  {:<44} {:<10} {:<21} {}", l.name, l.kind, count, extent, l.source_crs, l.imported_at, l.source);
    }
}
