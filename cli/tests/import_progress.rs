//! An import run by another process shows in the server's `/metrics` while it runs
//! (`formosa_imports_running`, rows done growing), is gone once it commits (and the layer
//! is in `/catalog`), and an import killed with SIGKILL stops being reported.
//! Runs on the GeoPackage store, and on PostGIS with FORMOSA_TEST_POSTGIS.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Rows of the test's import: enough that it runs for several progress heartbeats (1 s)
/// on either store. With 300,000 a PostGIS import could commit after a single record of
/// its progress, and "rows done grew" was seen once only.
const BIG: usize = 600_000;

struct Scrape {
    running: f64,
    done: Option<f64>,
    total: Option<f64>,
}

fn scrape(addr: &str) -> Scrape {
    let r = http_get(addr, "/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    Scrape {
        running: metric_sample(&text, "formosa_imports_running", &[]).expect("formosa_imports_running in /metrics"),
        done: metric_sample(&text, "formosa_import_rows_done", &[("layer", "buildings")]),
        total: metric_sample(&text, "formosa_import_rows_total", &[("layer", "buildings")]),
    }
}

fn start_import(store: &Path, source: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_formosa"))
        .args(["--store", &store_arg(store), "-q", "import", "buildings", &source.display().to_string()])
        .env_remove("FORMOSA_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start formosa import")
}

fn buildings_in_catalog(addr: &str) -> Option<u64> {
    let r = http_get(addr, "/catalog");
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v["layers"].as_array()?.iter().find(|l| l["name"] == "buildings").and_then(|l| l["feature_count"].as_u64())
}

fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, Server) {
    let store = dir.join("progress.gpkg");
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let big = dir.join("big.geojson");
    write_big_geojson(&big, BIG);
    let server = serve(&store, |_| {});
    let idle = scrape(&server.addr);
    assert_eq!(idle.running, 0.0, "no import before the test starts one");
    assert_eq!(idle.done, None);
    (store, big, server)
}

#[test]
fn a_running_import_shows_its_progress_until_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (store, big, server) = setup(dir.path());
    let mut child = start_import(&store, &big);
    // Every scrape while the import runs: (running, rows done, rows total).
    let mut seen = Vec::new();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "the import did not end within 300 s");
        let s = scrape(&server.addr);
        seen.push((s.running, s.done, s.total));
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(status.success(), "the import failed: {status:?}");
    let done: Vec<f64> = seen.iter().filter(|(running, _, _)| *running == 1.0).filter_map(|(_, d, _)| *d).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "rows done never go back: {done:?}");
    let growing: Vec<f64> = done.iter().copied().filter(|d| *d > 0.0).collect();
    assert!(growing.len() >= 2 && growing.first() < growing.last(), "rows done grew while the import ran (scrapes: {seen:?})");
    assert!(growing.iter().all(|d| *d <= BIG as f64), "rows done within the source: {growing:?}");
    // A total, when shown, is the source's count.
    for (_, _, total) in &seen {
        if let Some(t) = total {
            assert_eq!(*t, BIG as f64);
        }
    }

    // Committed: no longer running, and the new layer is served.
    let s = scrape(&server.addr);
    assert_eq!((s.running, s.done, s.total), (0.0, None, None), "nothing reported once the import has committed");
    wait_until("the imported layer in /catalog", Duration::from_secs(15), || buildings_in_catalog(&server.addr) == Some(BIG as u64));
    if postgis_server().is_none() {
        assert!(!dir.path().join("progress.gpkg.imports").exists(), "no sidecar left beside the store");
    }
}

#[test]
fn a_killed_import_stops_being_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (store, big, server) = setup(dir.path());
    let before = buildings_in_catalog(&server.addr).expect("the fixture's buildings");
    let mut child = start_import(&store, &big);
    wait_until("the import showed as running with rows done", Duration::from_secs(240), || {
        let s = scrape(&server.addr);
        s.running == 1.0 && s.done.is_some_and(|d| d > 0.0)
    });
    assert_eq!(child.try_wait().unwrap(), None, "the import was still running when killed");
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let killed = Instant::now();
    // The staleness rule: its pid is gone from this host (at once), or no heartbeat for
    // 30 s (a process on another host); either way well within 45 s.
    wait_until("a killed import no longer reported as running", Duration::from_secs(45), || scrape(&server.addr).running == 0.0);
    eprintln!("killed import no longer reported after {:.1} s", killed.elapsed().as_secs_f64());
    let s = scrape(&server.addr);
    assert_eq!(s.done, None, "its rows done are gone too");
    // It left nothing: the record removed, the layer as it was.
    if postgis_server().is_none() {
        assert!(!dir.path().join("progress.gpkg.imports").exists(), "the dead import's record was cleaned up");
    }
    assert_eq!(buildings_in_catalog(&server.addr), Some(before));
}
