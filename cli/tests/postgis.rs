//! The PostGIS backend through the `formosa` binary, against a real PostgreSQL server:
//! publish round trips, refused imports that leave the previous layer serving, and a
//! node that rides out a database restart. Runs when FORMOSA_TEST_POSTGIS names a server
//! (postgresql://user@host:port); scripts/test.sh starts one. With FORMOSA_REQUIRE_POSTGIS=1
//! (CI) a missing server is a failure, not a skip.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn postgis() -> Option<String> {
    let server = postgis_server();
    if server.is_none() {
        assert!(std::env::var("FORMOSA_REQUIRE_POSTGIS").is_err(), "FORMOSA_REQUIRE_POSTGIS is set but FORMOSA_TEST_POSTGIS names no server");
        eprintln!("skipped: set FORMOSA_TEST_POSTGIS=postgresql://user@host:port to run the PostGIS tests");
    }
    server
}

/// Runs formosa with an explicit --store (a path or URL), not the test's mapping.
fn formosa_at(store: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_formosa")).arg("--store").arg(store).args(args).env_remove("FORMOSA_CONFIG").env("FORMOSA_LOG", "warn").output().unwrap();
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// Every feature of a layer as GDAL dumps it (attributes and geometry), without the
/// lines that name the file.
fn ogr_dump(source: &str, layer: &str) -> String {
    let out = tool("ogrinfo", &["-ro", "-q", "-nomd", source, layer]);
    out.lines().filter(|l| !l.contains(source) && !l.starts_with("INFO")).collect::<Vec<_>>().join("\n")
}

/// The tiles of a GeoPackage pyramid, one line each (zoom, column, row, bytes in hex).
fn pyramid_rows(gpkg: &Path, table: &str) -> String {
    tool("sqlite3", &[&gpkg.display().to_string(), &format!("SELECT zoom_level, tile_column, tile_row, hex(tile_data) FROM {table} ORDER BY 1, 2, 3")])
}

#[test]
fn publish_round_trip_geopackage_postgis_geopackage() {
    let Some(_) = postgis() else { return };
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.gpkg");
    let back = dir.path().join("back.gpkg");
    let o = original.display().to_string();
    for args in [
        vec!["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")],
        vec!["import", "cadastral", &fixture("cadastral/twd67_sheet.shp"), "--append"],
        vec!["import", "pipelines", &fixture("pipelines/pipelines_2d.gpkg")],
        vec!["import", "pipelines", &fixture("pipelines/pipelines_3d.geojson"), "--append"],
        vec!["import", "buildings", &fixture("buildings/buildings.shp")],
        vec!["import", "vector", &fixture("admin/towns.geojson"), "--layer", "towns"],
        vec!["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")],
        vec!["import", "imagery", &fixture("imagery/typhoon_ortho_twd97.tif"), "--layer", "typhoon_ortho"],
    ] {
        let r = formosa_at(&o, &args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    // `dir/pg.gpkg` only names the test's database.
    let pg = store_arg(&dir.path().join("pg.gpkg"));
    let r = formosa_at(&o, &["publish", &o, &pg]);
    assert_eq!(r.code, 0, "publish to PostGIS: {}", r.stderr);
    assert!(r.stdout.contains("published 6 layers"), "{}", r.stdout);
    let r = formosa_at(&o, &["publish", &pg, &back.display().to_string()]);
    assert_eq!(r.code, 0, "publish back: {}", r.stderr);

    // GDAL reads the PostGIS tables directly: the same counts as the original.
    let pg_gdal = gdal_source(&dir.path().join("pg.gpkg"));
    for layer in ["cadastral", "pipelines", "buildings", "towns"] {
        let n = ogr_count(&o, Some(layer));
        assert!(n > 0);
        assert_eq!(ogr_count(&pg_gdal, Some(layer)), n, "{layer} in PostGIS");
        assert_eq!(ogr_count(&back.display().to_string(), Some(layer)), n, "{layer} back in a GeoPackage");
        let (theirs, ours) = (ogr_dump(&o, layer), ogr_dump(&back.display().to_string(), layer));
        // A layer that became 3D by an append keeps its first features 2D in the original;
        // a copy writes the whole layer 3D, those features at z = 0.
        let flattened = |line: &str| {
            let Some((head, coords)) = line.split_once(" Z ((") else { return line.to_string() };
            let xy: Vec<String> = coords.split(',').map(|p| p.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
            format!("{head} ((").to_string() + &xy.join(",").replace("))", "") + "))"
        };
        let same = |a: &str, b: &str| a == b || (!a.contains(" Z ((") && b.contains(" Z ((") && b.split(',').all(|p| p.trim_end_matches(')').ends_with(" 0")) && flattened(b) == a);
        let first_difference = theirs.lines().zip(ours.lines()).enumerate().find(|(_, (a, b))| !same(a, b));
        assert_eq!(first_difference, None, "{layer}: every attribute and vertex survives the round trip");
        assert_eq!(theirs.lines().count(), ours.lines().count(), "{layer}: as many lines");
    }
    let parcels_pg = ogr_sql(&pg_gdal, "SELECT parcel_no FROM cadastral ORDER BY fid");
    assert_eq!(parcels_pg, ogr_sql(&o, "SELECT parcel_no FROM cadastral ORDER BY fid"), "parcel numbers in PostGIS as GDAL reads them");
    for table in ["terrain", "typhoon_ortho"] {
        assert_eq!(pyramid_rows(&back, table), pyramid_rows(&original, table), "{table}: every tile byte for byte");
    }
    // The catalogue agrees on counts and extents.
    let summary = |store: &str| {
        let v: serde_json::Value = serde_json::from_str(&formosa_at(store, &["info", "--json"]).stdout).unwrap();
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["name"].clone(), l["kind"].clone(), l["feature_count"].clone(), l["extent"].clone(), l["has_z"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&pg), summary(&o));
    assert_eq!(summary(&back.display().to_string()), summary(&o));
}

/// A PostGIS store holding the buildings: its folder, its test path, its summary, and the
/// store as GDAL opens it.
fn store_with_buildings() -> (tempfile::TempDir, std::path::PathBuf, Vec<(String, String, u64)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    let before = layer_summary(&store);
    let gdal = gdal_source(&store);
    (dir, store, before, gdal)
}

#[test]
fn refused_imports_leave_the_previous_postgis_layer_serving() {
    let Some(_) = postgis() else { return };
    let (_dir, store, before, gdal) = store_with_buildings();
    for (args, phrase) in [
        (vec!["import", "buildings", &fixture("bad/truncated.shp")], "truncated.shp"),
        (vec!["import", "buildings", &fixture("bad/not_a_shapefile.shp")], "not_a_shapefile.shp"),
        (vec!["import", "buildings", &fixture("bad/empty.geojson")], "empty"),
        (vec!["import", "cadastral", &fixture("bad/no_prj.shp")], "no coordinate reference system"),
    ] {
        let r = formosa(&store, &args);
        assert_ne!(r.code, 0, "{args:?} should fail");
        assert!(r.error_line().starts_with("error: ") && r.error_line().contains(phrase), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(layer_summary(&store), before, "{args:?} changed the store");
        assert_eq!(ogr_count(&gdal, Some("buildings")), 1215, "{args:?}: the previous layer is intact as GDAL reads it");
    }
    // No staging table was left behind by the failed imports.
    let tables = tool("ogrinfo", &["-ro", "-q", &gdal]);
    assert!(!tables.contains("formosa_new_"), "{tables}");
    // And unknown store URLs are refused with a reason, creating nothing.
    let r = formosa_at("mysql://gis@db/formosa", &["info"]);
    assert_ne!(r.code, 0);
    assert!(r.error_line().contains("'mysql:' is not supported"), "{}", r.stderr);
    assert!(!Path::new("mysql:").exists());
}

/// A PostgreSQL cluster of the test's own (scripts/postgis.sh), to stop and start.
struct Cluster {
    name: String,
    port: u16,
}

impl Cluster {
    fn script(&self, cmd: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgis.sh");
        let out = Command::new("bash").arg(script).args([cmd, &self.name, &self.port.to_string()]).output().unwrap();
        assert!(out.status.success(), "postgis.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.script("remove");
    }
}

fn health(addr: &str) -> serde_json::Value {
    serde_json::from_slice(&http_get(addr, "/health").body).unwrap_or_default()
}

fn post_incident(addr: &str, n: usize) -> Reply {
    let body = format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[121.56{n:02},25.034]}},"properties":{{"type":"flooding","severity":3,"description":"積水 {n}"}}}}"#
    );
    let req = format!(
        "POST /ogcapi/collections/incidents/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, req.as_bytes())
}

#[test]
fn a_node_rides_out_a_database_restart() {
    let Some(_) = postgis() else { return };
    let cluster = Cluster { name: format!("restart-{}", std::process::id()), port: 25491 };
    cluster.script("start");
    let url = format!("postgresql://postgres@127.0.0.1:{}", cluster.port);
    let db = format!("{url}/restart");
    let _ = Command::new("psql").args(["-q", "-X", &format!("{url}/postgres"), "-c", "CREATE DATABASE restart"]).output();
    let r = formosa_at(&db, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve_with(&["--store", &db], dir.path());
    let mut acknowledged = 0;
    assert_eq!(post_incident(&addr, 0).status, 201);
    acknowledged += 1;
    let tile = "/tiles/buildings/16/54890/28034.mvt";
    let tile_before = http_get(&addr, tile);
    assert_eq!(health(&addr)["status"], "ok");

    // Readers keep asking for tiles and features through the outage and the recovery.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|k| {
            let (stop, addr) = (stop.clone(), addr.clone());
            std::thread::spawn(move || {
                let (mut reads, mut failed) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let path = if reads % 2 == 0 {
                        format!("/tiles/buildings/16/{}/28034.mvt", 54885 + (reads + k) % 10)
                    } else {
                        format!("/ogcapi/collections/buildings/items/{}", 1 + reads % 1200)
                    };
                    let r = http_get(&addr, &path);
                    if !matches!(r.status, 200 | 204) {
                        failed.push(format!("{path}: {}", r.status));
                    }
                    reads += 1;
                }
                (reads, failed)
            })
        })
        .collect();
    cluster.script("stop");
    wait_until("health says degraded", Duration::from_secs(15), || health(&addr)["status"] == "degraded");
    let h = health(&addr);
    assert!(h["reason"].as_str().is_some_and(|r| !r.is_empty()), "{h}");
    let refused = post_incident(&addr, 1);
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.head.to_ascii_lowercase().contains("retry-after: "), "{}", refused.head);
    assert!(refused.content_type().starts_with("application/problem+json"));
    assert!(refused.text().contains("unavailable"), "{}", refused.text());
    // Reads go on from what the node holds: cached and uncached tiles, features.
    let tile_down = http_get(&addr, tile);
    assert_eq!((tile_down.status, tile_down.body.clone()), (tile_before.status, tile_before.body.clone()));
    assert_eq!(http_get(&addr, "/tiles/buildings/15/27445/14017.mvt").status, 200);
    assert_eq!(http_get(&addr, "/ogcapi/collections/buildings/items/1").status, 200);

    cluster.script("start");
    wait_until("health is ok again", Duration::from_secs(30), || health(&addr)["status"] == "ok");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        let (reads, failed) = r.join().unwrap();
        assert!(reads > 10, "{reads} reads");
        assert!(failed.is_empty(), "reads failed while the database was away: {failed:?}");
    }
    for n in 2..6 {
        let r = post_incident(&addr, n);
        assert_eq!(r.status, 201, "after the restart: {}", r.text());
        acknowledged += 1;
    }
    let feed: serde_json::Value = serde_json::from_slice(&http_get(&addr, "/changes?since=0").body).unwrap();
    let seqs: Vec<i64> = feed["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=acknowledged).collect::<Vec<i64>>(), "the feed has every acknowledged write, without a gap");
    let _ = child.kill();
    let _ = child.wait();
}

fn psql_value(url: &str, sql: &str) -> String {
    let out = Command::new("psql").args(["-q", "-X", "-A", "-t", url, "-c", sql]).output().unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts `formosa serve` with explicit arguments; returns the child and its address.
fn serve_with(args: &[&str], dir: &Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .args(args)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("FORMOSA_CONFIG")
        .env("FORMOSA_LOG", "info")
        .env("FORMOSA_WRITE_TOKEN", "t0ken")
        .current_dir(dir)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (child, addr)
}

#[test]
fn a_replica_serves_reads_but_never_a_change_it_has_not_replayed() {
    let Some(_) = postgis() else { return };
    let id = std::process::id();
    let primary = Cluster { name: format!("primary-{id}"), port: 25492 };
    primary.script("start");
    let p = format!("postgresql://postgres@127.0.0.1:{}", primary.port);
    psql_value(&format!("{p}/postgres"), "CREATE DATABASE formosa");
    let r = formosa_at(&format!("{p}/formosa"), &["import", "buildings", &fixture("buildings/buildings.shp")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let replica = Cluster { name: format!("replica-{id}"), port: 25493 };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgis.sh");
    let out = Command::new("bash").arg(&script).args(["replica", &replica.name, &replica.port.to_string(), &primary.port.to_string()]).output().unwrap();
    assert!(out.status.success(), "replica: {}", String::from_utf8_lossy(&out.stderr));
    let rp = format!("postgresql://postgres@127.0.0.1:{}", replica.port);
    assert_eq!(psql_value(&format!("{rp}/formosa"), "SELECT pg_is_in_recovery()"), "t", "the replica is a standby");
    assert_eq!(psql_value(&format!("{rp}/formosa"), "SELECT count(*) FROM buildings"), "1215");

    // Rows stay in the database (not in memory), so every feature read is a replica read.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("formosa.toml"), "[server]\nfeatures_in_memory = false\n").unwrap();
    let config = dir.path().join("formosa.toml").display().to_string();
    let (mut child, addr) = serve_with(&["--config", &config, "--store", &format!("{p}/formosa"), "--read-store", &format!("{rp}/formosa")], dir.path());
    assert!(health(&addr)["store"].as_str().unwrap().contains("reads from"), "{}", health(&addr));
    assert_eq!(http_get(&addr, "/ogcapi/collections/buildings/items/7").status, 200);
    let on_replica: u32 = psql_value(&format!("{rp}/postgres"), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'formosa'").parse().unwrap();
    assert!(on_replica > 0, "the node reads from the replica");

    // The replica stops replaying: a new report must still be served (from the primary),
    // never missing because the replica has not seen it.
    psql_value(&format!("{rp}/postgres"), "SELECT pg_wal_replay_pause()");
    let posted = post_incident(&addr, 7);
    assert_eq!(posted.status, 201, "{}", posted.text());
    let fid = serde_json::from_slice::<serde_json::Value>(&posted.body).unwrap()["id"].as_i64().unwrap();
    let read = http_get(&addr, &format!("/ogcapi/collections/incidents/items/{fid}"));
    assert_eq!(read.status, 200, "{}", read.text());
    assert!(read.text().contains("積水 7"), "{}", read.text());
    assert_eq!(psql_value(&format!("{rp}/formosa"), &format!("SELECT count(*) FROM incidents WHERE fid = {fid}")), "0", "the replica had not replayed it");
    psql_value(&format!("{rp}/postgres"), "SELECT pg_wal_replay_resume()");
    wait_until("the replica replays the report", Duration::from_secs(10), || {
        psql_value(&format!("{rp}/formosa"), &format!("SELECT count(*) FROM incidents WHERE fid = {fid}")) == "1"
    });
    assert_eq!(http_get(&addr, &format!("/ogcapi/collections/incidents/items/{fid}")).status, 200);
    let _ = child.kill();
    let _ = child.wait();
    drop(replica);
}

/// scripts/multinode.sh, on ports and a folder of the test's own.
struct Deployment {
    root: tempfile::TempDir,
}

impl Deployment {
    fn run(&self, cmd: &str) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/multinode.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(cmd)
            .env("MN_ROOT", self.root.path())
            .env("MN_NODES", "2")
            .env("MN_PORT", "18190")
            .env("MN_NODE_PORT", "18191")
            .env("MN_PG_PORT", "25494")
            .env("FORMOSA_BIN", env!("CARGO_BIN_EXE_formosa"))
            .env("FORMOSA_WRITE_TOKEN", "t0ken")
            .output()
            .unwrap();
        assert!(out.status.success(), "multinode.sh {cmd}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.run("purge");
    }
}

#[test]
fn killing_a_node_behind_the_balancer_loses_no_acknowledged_write_and_fails_no_read() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let Some(_) = postgis() else { return };
    let deployment = Deployment { root: tempfile::tempdir().unwrap() };
    let status = deployment.run("up");
    assert!(status.contains("balancer http://127.0.0.1:18190/"), "{status}");
    let lb = "127.0.0.1:18190".to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let (reads, failed_reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::<String>::new())));
    let writer = {
        let (stop, acknowledged, lb) = (stop.clone(), acknowledged.clone(), lb.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = post_incident(&lb, n % 90);
                if r.status == 201 {
                    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                    acknowledged.lock().unwrap().push(v["id"].as_i64().unwrap());
                }
                n += 1;
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|k| {
            let (stop, reads, failed, lb) = (stop.clone(), reads.clone(), failed_reads.clone(), lb.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let path = match i % 3 {
                        0 => format!("/tiles/basemap/16/{}/28034.mvt", 54880 + (i + k) % 20),
                        1 => format!("/wmts/1.0.0/basemap/default/GoogleMapsCompatible/16/28034/{}.png", 54880 + (i + k) % 20),
                        _ => format!("/ogcapi/collections/buildings/items/{}", 1 + i % 1000),
                    };
                    let r = http_get(&lb, &path);
                    reads.fetch_add(1, Ordering::Relaxed);
                    if !matches!(r.status, 200 | 204) {
                        failed.lock().unwrap().push(format!("{path}: {} {}", r.status, r.text()));
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let pid = std::fs::read_to_string(deployment.root.path().join("node1.pid")).unwrap();
    let killed = Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let failed = failed_reads.lock().unwrap().clone();
    let reads = reads.load(Ordering::Relaxed);
    assert!(reads > 20, "{reads} reads");
    assert!(failed.is_empty(), "{} of {reads} reads failed through the balancer: {:?}", failed.len(), &failed[..failed.len().min(5)]);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 5, "{} writes acknowledged", acknowledged.len());
    let primary = "postgresql://postgres@127.0.0.1:25494/formosa";
    for id in &acknowledged {
        assert_eq!(psql_value(primary, &format!("SELECT count(*) FROM incidents WHERE fid = {id}")), "1", "acknowledged write {id} is in the database");
        assert_eq!(http_get("127.0.0.1:18192", &format!("/ogcapi/collections/incidents/items/{id}")).status, 200, "the surviving node serves write {id}");
    }
}

#[test]
fn sigkill_during_a_postgis_import_keeps_the_previous_layer() {
    let Some(_) = postgis() else { return };
    let (dir, store, before, gdal) = store_with_buildings();
    let heights = ogr_sql(&gdal, "SELECT sum(height_m) FROM buildings");
    let big = dir.path().join("big.geojson");
    write_big_geojson(&big, 200_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .args(["--store", &store_arg(&store), "-q", "import", "buildings", &big.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it is writing rows into its staging table.
    let url = store_arg(&store);
    let started = Instant::now();
    let mut mid_write = false;
    while started.elapsed() < Duration::from_secs(120) && child.try_wait().unwrap().is_none() {
        let writing = psql_value(&url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO \"formosa_new_%' AND state = 'active'");
        if writing != "0" {
            mid_write = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(mid_write, "the import never started writing (or finished first)");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(layer_summary(&store), before, "the catalogue is as it was");
    assert_eq!(ogr_sql(&gdal, "SELECT sum(height_m) FROM buildings"), heights, "the previous rows are all there");
    // The killed import's lock and staging table went with its connection: the next import runs.
    let r = formosa(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ogr_count(&gdal, Some("buildings")), 1215);
}
