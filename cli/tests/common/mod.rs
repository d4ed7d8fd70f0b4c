//! Helpers for the integration tests: run the real `formosa` binary, and look at what it
//! wrote with GDAL's own command-line tools (an independent reader of the GeoPackage).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-fixtures/data")
}

pub fn fixture(rel: &str) -> String {
    fixtures().join(rel).display().to_string()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The last line of stderr: where `formosa` states why it failed.
    pub fn error_line(&self) -> String {
        self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string()
    }
}

fn to_run(out: Output) -> Run {
    Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// The PostgreSQL server the suite runs on, when it runs on PostGIS
/// (FORMOSA_TEST_POSTGIS=postgresql://user@host:port); else the suite uses GeoPackages.
pub fn postgis_server() -> Option<String> {
    std::env::var("FORMOSA_TEST_POSTGIS").ok().filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('/').to_string())
}

fn psql(server: &str, db: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql").args(["-q", "-X", "-v", "ON_ERROR_STOP=1", &format!("{server}/{db}"), "-c", sql]).output().map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The database a test's store path stands for on the PostGIS server: one per path,
/// created fresh (from a template with PostGIS) the first time the path is used.
fn postgis_database(server: &str, store: &Path) -> String {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static MADE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let key = store.display().to_string();
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    let name = format!("formosa_test_{hash:016x}");
    let mut made = MADE.get_or_init(Default::default).lock().unwrap();
    if made.insert(name.clone()) {
        // The first test to run makes the template; the others find it there.
        if psql(server, "postgres", "CREATE DATABASE formosa_template").is_ok() {
            psql(server, "formosa_template", "CREATE EXTENSION IF NOT EXISTS postgis").expect("PostGIS in the template database");
        }
        psql(server, "postgres", &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).expect("drop an old test database");
        psql(server, "postgres", &format!("CREATE DATABASE \"{name}\" TEMPLATE formosa_template")).expect("create a test database on PostGIS");
    }
    format!("{server}/{name}")
}

/// What `--store` gets for a test's store path: the path, or its PostGIS database.
pub fn store_arg(store: &Path) -> String {
    match postgis_server() {
        Some(server) => postgis_database(&server, store),
        None => store.display().to_string(),
    }
}

/// The store as GDAL opens it: the GeoPackage path, or a `PG:` connection string.
pub fn gdal_source(store: &Path) -> String {
    match postgis_server() {
        Some(_) => {
            let url = store_arg(store);
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let (auth, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (user, hostport) = auth.split_once('@').unwrap_or(("postgres", auth));
            let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
            format!("PG:host={host} port={port} user={user} dbname={path}")
        }
        None => store.display().to_string(),
    }
}

pub fn formosa(store: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .arg("--store")
        .arg(store_arg(store))
        .args(args)
        .env_remove("FORMOSA_CONFIG")
        .env("FORMOSA_LOG", "warn")
        .output()
        .expect("run formosa");
    to_run(out)
}

/// Runs `formosa` and insists it succeeded.
pub fn formosa_ok(store: &Path, args: &[&str]) -> Run {
    let r = formosa(store, args);
    assert_eq!(r.code, 0, "formosa {args:?} failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

pub fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| panic!("{name} not installed? {e}"));
    assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Feature count of a layer as GDAL sees it.
pub fn ogr_count(path: &str, layer: Option<&str>) -> u64 {
    let mut args = vec!["-so", "-ro", path];
    if let Some(l) = layer {
        args.push(l);
    } else {
        args.insert(0, "-al");
    }
    let out = tool("ogrinfo", &args);
    out.lines().find_map(|l| l.strip_prefix("Feature Count: ")).unwrap_or_else(|| panic!("no feature count in:\n{out}")).trim().parse().unwrap()
}

/// Runs SQL through GDAL and returns the values of the first column, in order.
pub fn ogr_sql(path: &str, sql: &str) -> Vec<String> {
    let out = tool("ogrinfo", &["-ro", "-q", path, "-sql", sql]);
    out.lines().filter_map(|l| l.trim().split_once(" = ").map(|(_, v)| v.to_string())).collect()
}

/// `formosa info --json` layers as (name, kind, count), to compare a store before and after.
pub fn layer_summary(store: &Path) -> Vec<(String, String, u64)> {
    let r = formosa_ok(store, &["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("info --json");
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap().to_string(), l["kind"].as_str().unwrap().to_string(), l["feature_count"].as_u64().unwrap()))
        .collect()
}

/// A running `formosa serve`, killed when dropped (even when the test fails).
pub struct Server {
    pub child: std::process::Child,
    pub addr: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// The server's log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `formosa --store STORE serve --bind 127.0.0.1:0` and waits until it listens;
/// `configure` adds arguments (after `serve`), environment or a working directory.
pub fn serve(store: &Path, configure: impl FnOnce(&mut Command)) -> Server {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_formosa"));
    cmd.arg("--store").arg(store_arg(store)).args(["serve", "--bind", "127.0.0.1:0"]);
    cmd.env_remove("FORMOSA_CONFIG").env("FORMOSA_LOG", "info").stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::null());
    configure(&mut cmd);
    let mut child = cmd.spawn().expect("start formosa serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let addr = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        log.lock().unwrap().push(line.clone());
        // Up to the first '/': the line may be a JSON object (`--log-format json`).
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.split('/').next().unwrap_or(rest).to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Server { child, addr, log }
}

/// Polls `ok` every 100 ms until it holds; fails the test naming `what` if it has not
/// within `limit`.
pub fn wait_until(what: &str, limit: std::time::Duration, mut ok: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The value of the first sample of `family` in Prometheus text whose labels include every
/// `name="value"` of `labels` (with no labels given: the unlabelled sample).
pub fn metric_sample(text: &str, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let matches = if labels.is_empty() {
            series == family
        } else {
            series.strip_prefix(family).is_some_and(|rest| rest.starts_with('{') && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
        };
        matches.then(|| value.parse().ok()).flatten()
    })
}

/// One HTTP/1.1 exchange over a fresh connection.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn content_type(&self) -> String {
        self.head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string)).unwrap_or_default()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a raw request (the caller writes `Connection: close`) and reads the whole reply;
/// status 0 when the server closed without answering.
pub fn http(addr: &str, raw: &[u8]) -> Reply {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("server accepting connections");
    s.write_all(raw).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let head_end = resp.windows(4).position(|w| w == b"\r\n\r\n").map_or(resp.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&resp[..head_end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Reply { status, head, body: resp[head_end..].to_vec() }
}

pub fn http_get(addr: &str, path: &str) -> Reply {
    http(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
}

/// A GeoJSON of `n` small building squares in Taipei: big enough that importing it takes
/// a while, so the kill lands mid-transaction.
pub fn write_big_geojson(path: &std::path::Path, n: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(f, "{{\"type\":\"FeatureCollection\",\"features\":[").unwrap();
    for i in 0..n {
        let x = 121.45 + (i % 1000) as f64 * 0.0002;
        let y = 24.95 + (i / 1000) as f64 * 0.0002;
        let d = 0.00015;
        if i > 0 {
            write!(f, ",").unwrap();
        }
        write!(
            f,
            "{{\"type\":\"Feature\",\"properties\":{{\"floors\":{}}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}}}",
            1 + i % 20,
            x + d,
            x + d,
            y + d,
            y + d
        )
        .unwrap();
    }
    write!(f, "]}}").unwrap();
}
