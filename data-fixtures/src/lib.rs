//! Formosa test fixtures: a deterministic generator of realistic agency data for
//! eastern Taipei (信義區/大安區) in the formats and encodings agencies actually
//! deliver — cp950 Shapefiles, a TWD67 sheet, GeoPackage and 3D GeoJSON
//! pipelines, building footprints, a Float32 DEM, real admin boundaries, and a
//! set of deliberately bad inputs.
//!
//! Everything derives from one seed through [`rng::Rng`] streams keyed by what
//! is being generated (block i, j; road line…), so outputs are byte-for-byte
//! reproducible and the large benchmark can generate blocks lazily.

pub mod admin;
pub mod bad_inputs;
pub mod basemap;
pub mod buildings;
pub mod cadastral;
pub mod city;
pub mod gdalio;
pub mod geom;
pub mod imagery;
pub mod pipelines;
pub mod rng;
pub mod terrain;
pub mod villages;

use std::path::{Path, PathBuf};
use std::time::Instant;

use city::{small_blocks, Block, Grid, SMALL_I, SMALL_J};
use pipelines::{PipeRecord, PipeSpec, Utility, ALL};

pub use terrain::ground_height;

/// Default seed for every subcommand (the committed fixtures use it).
pub const DEFAULT_SEED: u64 = 20_240_101;

#[derive(Debug)]
pub enum Error {
    Gdal(gdal::errors::GdalError),
    Io(PathBuf, std::io::Error),
    Msg(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Gdal(e) => write!(f, "GDAL: {e}"),
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Msg(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<gdal::errors::GdalError> for Error {
    fn from(e: gdal::errors::GdalError) -> Self {
        Error::Gdal(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Prints "label: n features (elapsed)" every `every` features.
pub struct Progress {
    label: String,
    every: usize,
    start: Instant,
}

impl Progress {
    pub fn new(label: &str, every: usize) -> Self {
        Progress { label: label.to_string(), every, start: Instant::now() }
    }
    pub fn quiet() -> Self {
        Progress { label: String::new(), every: usize::MAX, start: Instant::now() }
    }
    #[inline]
    pub fn tick(&mut self, n: usize) {
        if n.is_multiple_of(self.every) {
            eprintln!("  {}: {n} ({:.1} s)", self.label, self.start.elapsed().as_secs_f64());
        }
    }
}

/// Counts of what `generate_small` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallCounts {
    pub parcels: usize,
    pub twd67_parcels: usize,
    pub pipelines_2d: usize,
    pub pipelines_3d: usize,
    pub buildings: usize,
    pub basemap: basemap::BasemapCounts,
}

/// Chance an ordinary lot carries a building in the small set (≈1,200 buildings).
const SMALL_P_BUILD: f64 = 0.62;
/// Inclusion chance per (road run, utility) for the 2D and 3D pipeline sets.
const SMALL_P_PIPE: f64 = 0.2;
const SMALL_P_PIPE3D: f64 = 0.19;

/// Generate the small committed fixtures under `out`.
pub fn generate_small(out: &Path, seed: u64) -> Result<SmallCounts> {
    let grid = Grid::taipei(seed);
    let blocks = small_blocks(&grid);
    let q = &mut Progress::quiet();

    let parcels = cadastral::write_parcels_cp950(&out.join("cadastral/taipei_parcels.shp"), &grid, blocks.iter().cloned(), usize::MAX, q)?;

    // The TWD67 sheet: blocks just north of the main area (no overlap).
    let sheet_blocks: Vec<Block> =
        (SMALL_J.1..SMALL_J.1 + 2).flat_map(|j| (-3..SMALL_I.1).map(move |i| (i, j))).map(|(i, j)| grid.block(i, j)).filter(|b| !grid.is_hill(b)).collect();
    let twd67_parcels = cadastral::write_twd67_sheet(&out.join("cadastral/twd67_sheet.shp"), &grid, &sheet_blocks, 150)?;

    let pipes = small_pipes(&grid, &ALL, SMALL_P_PIPE, false);
    let pipelines_2d = pipelines::write_pipelines_gpkg(&out.join("pipelines/pipelines_2d.gpkg"), pipes.into_iter(), usize::MAX, q)?;
    let ducts = small_pipes(&grid, &[Utility::Power, Utility::Telecom], SMALL_P_PIPE3D, true);
    let pipelines_3d = pipelines::write_pipelines_3d_geojson(&out.join("pipelines/pipelines_3d.geojson"), &ducts)?;

    let buildings = buildings::write_buildings(&out.join("buildings/buildings.shp"), &grid, blocks.iter().cloned(), usize::MAX, SMALL_P_BUILD, q)?;

    let terrain_dir = out.join("terrain");
    std::fs::create_dir_all(&terrain_dir).map_err(|e| Error::Io(terrain_dir.clone(), e))?;
    // 400 x 400 cells of 20 m; a strip along the east edge is missing, as when a
    // survey tile was never delivered.
    terrain::write_dem(&terrain_dir.join("dem_twd97_20m.tif"), (302_000.0, 2_773_000.0), 20.0, (400, 400), |col, row| col >= 396 && (150..190).contains(&row), false)?;

    let imagery_dir = out.join("imagery");
    std::fs::create_dir_all(&imagery_dir).map_err(|e| Error::Io(imagery_dir.clone(), e))?;
    imagery::write_orthophoto(&imagery_dir.join("typhoon_ortho_twd97.tif"))?;

    bad_inputs::write_all(&out.join("bad"), &grid, &blocks)?;
    let basemap = basemap::write_all(out, &grid)?;

    Ok(SmallCounts { parcels, twd67_parcels, pipelines_2d, pipelines_3d, buildings, basemap })
}

/// Pipes on every road segment around the small area's blocks.
fn small_pipes(grid: &Grid, utilities: &[Utility], p: f64, three_d: bool) -> Vec<PipeRecord> {
    let (i0, i1) = SMALL_I;
    let (j0, j1) = SMALL_J;
    // Vertical lines i0..=i1 have segments j0..j1; horizontal lines j0..=j1
    // have segments i0..i1.
    let valid = |vertical: bool, line: i64, k: i64| {
        if vertical {
            (i0..=i1).contains(&line) && (j0..j1).contains(&k)
        } else {
            (j0..=j1).contains(&line) && (i0..i1).contains(&k)
        }
    };
    let spec = PipeSpec { utilities, p_include: p, three_d };
    let mut out = Vec::new();
    for i in i0..=i1 {
        for j in j0..j1 {
            out.extend(pipelines::pipes_at(grid, true, i, j, &valid, &spec));
        }
    }
    for j in j0..=j1 {
        for i in i0..i1 {
            out.extend(pipelines::pipes_at(grid, false, j, i, &valid, &spec));
        }
    }
    out
}

/// Sizes and timings of a large run.
#[derive(Debug)]
pub struct LargeReport {
    pub parcels: usize,
    pub buildings: usize,
    pub pipelines: usize,
    pub seconds: [f64; 3],
}

/// Generate the large benchmark set into `out`: parcels.shp, buildings.shp,
/// pipelines.gpkg, with the same schemas as the small set, tiling blocks
/// outward from Taipei.
pub fn generate_large(out: &Path, seed: u64, n_parcels: usize, n_buildings: usize, n_pipes: usize) -> Result<LargeReport> {
    std::fs::create_dir_all(out).map_err(|e| Error::Io(out.to_path_buf(), e))?;
    let grid = Grid::taipei(seed);
    let every = 100_000;

    let t = Instant::now();
    let parcels = cadastral::write_parcels_cp950(&out.join("parcels.shp"), &grid, city::ring_blocks(&grid), n_parcels, &mut Progress::new("parcels", every))?;
    let t_parcels = t.elapsed().as_secs_f64();

    // Spread buildings over the same area as the parcels: ~0.66 buildings per
    // parcel when every lot is built (measured on the small set).
    let t = Instant::now();
    let p_build = (n_buildings as f64 / (n_parcels.max(1) as f64 * 0.66)).clamp(0.02, 1.0);
    let buildings = buildings::write_buildings(&out.join("buildings.shp"), &grid, city::ring_blocks(&grid), n_buildings, p_build, &mut Progress::new("buildings", every))?;
    let t_buildings = t.elapsed().as_secs_f64();

    // ~6.5 pipes per block at inclusion 1.0, ~13 parcels per block.
    let t = Instant::now();
    let blocks_est = (n_parcels.max(13) as f64) / 13.0;
    let p_pipe = (n_pipes as f64 / (blocks_est * 6.5)).clamp(0.02, 1.0);
    let all_valid = |_: bool, _: i64, _: i64| true;
    let spec = PipeSpec { utilities: &ALL, p_include: p_pipe, three_d: false };
    let pipes = city::ring_blocks(&grid).flat_map(|b| {
        let mut v = pipelines::pipes_at(&grid, true, b.i, b.j, &all_valid, &spec);
        v.extend(pipelines::pipes_at(&grid, false, b.j, b.i, &all_valid, &spec));
        v
    });
    let pipelines = pipelines::write_pipelines_gpkg(&out.join("pipelines.gpkg"), pipes, n_pipes, &mut Progress::new("pipelines", every))?;
    let t_pipes = t.elapsed().as_secs_f64();

    Ok(LargeReport { parcels, buildings, pipelines, seconds: [t_parcels, t_buildings, t_pipes] })
}
