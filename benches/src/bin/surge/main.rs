//! The surge load generator of benches/surge.sh (`surge`): real map clients' mix, open loop, at
//! several multiples of a base rate, against a running `formosa serve`.
//!
//!   surge --url http://127.0.0.1:18190 --token T --places places.txt --rates 1,3,10 \
//!         --duration 60 --server-pid PID --out benches/out/surge
//!
//! Modules: `clients` (how each kind of client asks: sessions of steps), `load` (the
//! open-loop schedule and the HTTP), `stats` (outcomes and latencies), `feeds` (SSE
//! subscribers), `discover` (what clients read first), `report` (tables, JSON, TSV).

mod clients;
mod discover;
mod feeds;
mod geo;
mod load;
mod report;
mod rng;
mod stats;

use clap::Parser;
use clients::{Kind, World};
use load::Load;
use report::Phase;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Open-loop surge of real map clients' requests against a Formosa server")]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:18190")]
    url: String,
    /// Bearer token for the incident writes.
    #[arg(long)]
    token: String,
    /// Where the data is: `lon lat easting northing` (EPSG:3826) a line.
    #[arg(long)]
    places: String,
    /// Multiples of the base rates, run one after the other.
    #[arg(long, value_delimiter = ',', default_value = "1,3,10")]
    rates: Vec<f64>,
    /// Seconds at each rate.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Seconds of warm-up before the first rate, not counted; RSS is read after it.
    #[arg(long, default_value_t = 10.0)]
    warmup: f64,
    /// The warm-up's multiple of the base rates; the highest of --rates when not given,
    /// so the tile cache has filled (steady state) before RSS growth is measured.
    #[arg(long)]
    warmup_rate: Option<f64>,
    /// SSE subscribers on /changes/stream for the whole run.
    #[arg(long, default_value_t = 8)]
    subscribers: usize,
    /// The server's process id, for its RSS (/proc/PID/status).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds before a request counts as an error.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// A base rate other than the default, sessions a second at 1×: KIND=RATE
    /// (maplibre, qgis, wms, cesium, click, incident); repeatable.
    #[arg(long = "base", value_parser = parse_base)]
    base: Vec<(Kind, f64)>,
    #[arg(long, default_value_t = 20240101)]
    seed: u64,
    /// Folder for summary.json and classes.tsv.
    #[arg(long)]
    out: Option<String>,
}

fn parse_base(s: &str) -> Result<(Kind, f64), String> {
    let (k, r) = s.split_once('=').ok_or("expected KIND=RATE")?;
    let kind = Kind::ALL.into_iter().find(|x| x.name() == k).ok_or_else(|| format!("unknown kind {k}"))?;
    Ok((kind, r.parse().map_err(|_| format!("bad rate {r}"))?))
}

fn rss_kb(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()
}

/// What the server's tile cache holds (`formosa_cache_bytes` in /metrics), so RSS growth
/// can be told apart from the cache filling up to its size.
async fn cache_bytes(client: &reqwest::Client, base: &str) -> Option<u64> {
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix("formosa_cache_bytes "))?.trim().parse::<f64>().ok().map(|b| b as u64)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// The fontstacks of the style's symbol layers, as MapLibre asks for them.
async fn fontstacks(client: &reqwest::Client, base: &str) -> Result<Vec<String>, String> {
    let text = client.get(format!("{base}/styles/basemap.json")).send().await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
    let style: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("/styles/basemap.json: {e}"))?;
    let mut stacks: Vec<String> = style["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["layout"]["text-font"].as_array())
        .map(|fonts| fonts.iter().filter_map(|f| f.as_str()).collect::<Vec<_>>().join(","))
        .collect();
    stacks.sort();
    stacks.dedup();
    Ok(stacks)
}

/// GETs every acknowledged incident; returns how many are missing.
async fn missing_writes(load: &Arc<Load>, ids: &[i64]) -> usize {
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    let mut checks = tokio::task::JoinSet::new();
    for &id in ids {
        let (load, gate) = (load.clone(), gate.clone());
        checks.spawn(async move {
            let _permit = gate.acquire().await;
            let url = format!("{}/ogcapi/collections/incidents/items/{id}", load.base);
            !matches!(load.client.get(&url).send().await, Ok(r) if r.status().is_success())
        });
    }
    checks.join_all().await.into_iter().filter(|missing| *missing).count()
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let mut base_rates: HashMap<Kind, f64> = Kind::ALL.iter().map(|k| (*k, k.base_rate())).collect();
    base_rates.extend(args.base.iter().copied());
    let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).pool_max_idle_per_host(4096).build().map_err(|e| e.to_string())?;
    let base = args.url.trim_end_matches('/').to_string();

    let server = discover::discover(&client, &base).await?;
    let places = geo::read_places(&args.places)?;
    let world = Arc::new(World::new(places, server, fontstacks(&client, &base).await?));
    let contents: Vec<String> = world.server.tilesets.iter().map(|t| format!("{} {} content tiles", t.layer, t.contents.len())).collect();
    println!(
        "surge: {} places ({} over the DEM); WMTS set {} ({} matrices); terrain {}; 3D Tiles: {}; fontstacks {:?}",
        world.places.len(),
        world.terrain_places.len(),
        world.server.twd97_set,
        world.server.twd97.len(),
        world.server.terrain.as_ref().map(|t| format!("to z{}", t.max_zoom)).unwrap_or_else(|| "none".into()),
        if contents.is_empty() { "none".into() } else { contents.join(", ") },
        world.fontstacks
    );
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load_before = loadavg();
    println!("machine: nproc {nproc}, loadavg before {load_before}");

    let load = Arc::new(Load {
        client: client.clone(),
        base: base.clone(),
        token: args.token.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        recorder: Default::default(),
        acknowledged: Mutex::new(Vec::new()),
    });
    // The subscribers' own client: a stream must outlive the per-request timeout.
    let sse_client = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
    let subscribers: Vec<_> = (0..args.subscribers).map(|_| feeds::Subscriber::start(sse_client.clone(), format!("{base}/changes/stream"))).collect();

    if args.warmup > 0.0 {
        let rate = args.warmup_rate.unwrap_or_else(|| args.rates.iter().copied().fold(1.0, f64::max));
        let warm = load::phase(load.clone(), world.clone(), &base_rates, rate, Duration::from_secs_f64(args.warmup), args.seed ^ 0xfeed).await;
        println!("warm-up: {:.0} s at {rate}×, {} requests (not counted)", args.warmup, warm.values().map(|s| s.count()).sum::<u64>());
    }
    let rss_warm = rss_kb(args.server_pid);
    let cache_warm = cache_bytes(&client, &base).await;

    let mut phases = Vec::new();
    for (i, &multiplier) in args.rates.iter().enumerate() {
        let duration = Duration::from_secs_f64(args.duration);
        let rss_start = rss_kb(args.server_pid);
        let cache_start = cache_bytes(&client, &base).await;
        let mid = tokio::spawn(async move {
            tokio::time::sleep(duration / 2).await;
            loadavg()
        });
        let classes = load::phase(load.clone(), world.clone(), &base_rates, multiplier, duration, args.seed + i as u64).await;
        let phase = Phase {
            multiplier,
            duration_s: args.duration,
            sessions_per_s: Kind::ALL.iter().map(|k| (k.name(), base_rates[k] * multiplier)).collect(),
            classes,
            load_mid: mid.await.unwrap_or_default(),
            load_end: loadavg(),
            rss_start_kb: rss_start,
            rss_end_kb: rss_kb(args.server_pid),
            rss_warm_kb: rss_warm,
            cache_bytes: [cache_warm, cache_start, cache_bytes(&client, &base).await],
        };
        report::print_phase(&phase);
        phases.push(phase);
    }

    // Every acknowledged write must be there, and reach every subscriber.
    let acknowledged = load.acknowledged.lock().unwrap().clone();
    let missing = missing_writes(&load, &acknowledged).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts: Vec<_> = subscribers.into_iter().map(|s| s.stop()).collect();
    let seen: Vec<u64> = counts.iter().map(|c| c.changes.load(Ordering::Relaxed)).collect();
    let connected = counts.iter().filter(|c| c.connected.load(Ordering::Relaxed)).count();
    let lagged: u64 = counts.iter().map(|c| c.lagged.load(Ordering::Relaxed)).sum();
    let dropped: u64 = counts.iter().map(|c| c.dropped.load(Ordering::Relaxed)).sum();
    println!("\n== writes and the change feed (warm-up included)");
    println!(
        "   goal: every acknowledged write present: {} acknowledged (201), {} present, {missing} missing — {}",
        acknowledged.len(),
        acknowledged.len() - missing,
        if missing == 0 { "ok" } else { "NOT MET" }
    );
    println!(
        "   SSE: {connected}/{} subscribers connected; change events seen per subscriber {:?} vs {} acknowledged writes; {lagged} lagged notices, {dropped} streams ended early",
        counts.len(),
        seen,
        acknowledged.len()
    );
    println!("   loadavg at the end {}", loadavg());

    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).map_err(|e| format!("{out}: {e}"))?;
        let summary = json!({
            "machine": { "nproc": nproc, "loadavg_before": load_before, "loadavg_end": loadavg() },
            "base_rates_sessions_per_s": Kind::ALL.iter().map(|k| (k.name().to_string(), json!(base_rates[k]))).collect::<serde_json::Map<_, _>>(),
            "warmup_s": args.warmup,
            "phases": phases.iter().map(report::phase_json).collect::<Vec<_>>(),
            "writes": { "acknowledged": acknowledged.len(), "present": acknowledged.len() - missing, "missing": missing },
            "sse": { "subscribers": counts.len(), "connected": connected, "events_per_subscriber": seen, "acknowledged_writes": acknowledged.len(), "lagged": lagged, "ended_early": dropped },
        });
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        std::fs::write(format!("{out}/summary.json"), text).map_err(|e| e.to_string())?;
        std::fs::write(format!("{out}/classes.tsv"), report::tsv(&phases)).map_err(|e| e.to_string())?;
        println!("summary: {out}/summary.json, {out}/classes.tsv");
    }
    Ok(())
}
