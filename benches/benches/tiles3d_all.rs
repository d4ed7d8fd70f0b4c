//! Every 3D tile of a buildings (or pipelines) layer, generated once, on all cores, the
//! way the server makes them (in-memory feature table, shared elevation cache). Prints
//! features per second. Not a criterion bench: one pass over 200 k buildings is the
//! measurement (see benches/tiles3d_buildings.sh, which prepares the store).
//!
//!   FORMOSA_BENCH_STORE=store.gpkg FORMOSA_BENCH_LAYER=buildings cargo bench -p formosa-benches --bench tiles3d_all

use formosa_encoders::terrain::heights::ElevationCache;
use formosa_encoders::tiles3d::Plan;
use formosa_store::GpkgStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() {
    let Ok(path) = std::env::var("FORMOSA_BENCH_STORE") else {
        eprintln!("tiles3d_all: set FORMOSA_BENCH_STORE (benches/tiles3d_buildings.sh does); skipped");
        return;
    };
    let layer = std::env::var("FORMOSA_BENCH_LAYER").unwrap_or_else(|_| "buildings".into());
    let geoid = 20.0;
    let store = GpkgStore::open(&path).expect("open store");
    let t = Instant::now();
    let (rows, bytes) = store.load_feature_table(&layer).expect("feature table");
    println!("feature table: {rows} rows, {:.0} MiB, {:.2} s", bytes as f64 / 1048576.0, t.elapsed().as_secs_f64());
    let elevation = ElevationCache::new(1024);
    let t = Instant::now();
    let plan = Plan::make(&store, &elevation, &layer, geoid).expect("plan");
    let plan_s = t.elapsed().as_secs_f64();
    let tiles = plan.content_tiles();
    println!("plan: {} features in {} content tiles, {plan_s:.2} s", plan.feature_count(), tiles.len());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let out_bytes = AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = tiles.get(i) else { break };
                let glb = plan.content(&store, &elevation, geoid, *id).expect("content");
                out_bytes.fetch_add(glb.len(), Ordering::Relaxed);
            });
        }
    });
    let content_s = t.elapsed().as_secs_f64();
    let n = plan.feature_count() as f64;
    println!("content: {} GLBs, {:.0} MiB, {content_s:.2} s on {workers} threads", tiles.len(), out_bytes.load(Ordering::Relaxed) as f64 / 1048576.0);
    println!("RESULT {layer}: {:.0} features/s for content alone, {:.0} features/s including the plan (goal for buildings: ≥ 20,000/s)", n / content_s, n / (content_s + plan_s));
}
