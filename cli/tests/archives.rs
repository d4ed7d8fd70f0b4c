//! Seeded archives as tile sets (`formosa serve --archive NAME=SOURCE`): a PMTiles archive
//! written by `formosa seed` and served from a local file, from a real S3-compatible
//! server (s3s-fs, `cargo install s3s-fs --version 0.14.1 --features binary --locked`) and
//! over HTTP range requests answers every tile byte for byte as the archive holds it —
//! read here by a PMTiles reader of this file's own, not the server's crate — and as the
//! live node that seeded it answers the same tile.
//!
//! The S3 test needs `s3s-fs` on PATH or in ~/.cargo/bin. Without it the test says so
//! and passes, unless FORMOSA_REQUIRE_S3=1 (as scripts/test.sh sets), when it fails.

mod common;
use common::*;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The seed test's box over 信義區 (web-viewer/tests/seed.test.mjs), z13–z16.
const BBOX: &str = "121.55,25.02,121.57,25.04";
const ZOOMS: (u8, u8) = (13, 16);

/// A store with the 2D layers the base map draws, and the DEM.
fn store(dir: &Path) -> PathBuf {
    let store = dir.join("s.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    formosa_ok(&store, &["import", "pipelines", &fixture("pipelines/pipelines_2d.gpkg")]);
    formosa_ok(&store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    formosa_ok(&store, &["import", "vector", &fixture("admin/towns.geojson"), "--layer", "towns"]);
    store
}

fn seed(store: &Path, out: &Path, zooms: &str, extra: &[&str]) {
    let mut args = vec!["seed", "--bbox", BBOX, "--zoom", zooms];
    args.extend_from_slice(extra);
    let out = out.display().to_string();
    args.push(&out);
    let r = formosa_ok(store, &args);
    assert!(r.stdout.contains("tiles written"), "{}", r.stdout);
}

// ---- A PMTiles v3 reader of this test's own (the spec's header, varint directories,
// ---- gzip internal compression, leaf directories; Hilbert tile ids).

struct Pm {
    bytes: Vec<u8>,
    /// tile id → (offset in the file, length).
    tiles: HashMap<u64, (usize, usize)>,
    tile_type: u8,
    tile_compression: u8,
    min_zoom: u8,
    max_zoom: u8,
    addressed: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn varint(b: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b).read_to_end(&mut out).expect("gzip");
    out
}

impl Pm {
    fn read(path: &Path) -> Pm {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..7], b"PMTiles");
        assert_eq!(bytes[7], 3, "version 3");
        let (root, root_len, leaf, data) = (u64_at(&bytes, 8) as usize, u64_at(&bytes, 16) as usize, u64_at(&bytes, 40) as usize, u64_at(&bytes, 56) as usize);
        assert_eq!(bytes[97], 2, "internal compression: gzip, as formosa seed writes");
        let mut pm = Pm {
            tiles: HashMap::new(),
            addressed: u64_at(&bytes, 72),
            tile_compression: bytes[98],
            tile_type: bytes[99],
            min_zoom: bytes[100],
            max_zoom: bytes[101],
            bytes: Vec::new(),
        };
        let mut dirs = vec![(root, root_len)];
        while let Some((at, len)) = dirs.pop() {
            let d = gunzip(&bytes[at..at + len]);
            let mut i = 0;
            let n = varint(&d, &mut i) as usize;
            let mut ids = Vec::with_capacity(n);
            let mut id = 0;
            for _ in 0..n {
                id += varint(&d, &mut i);
                ids.push(id);
            }
            let runs: Vec<u64> = (0..n).map(|_| varint(&d, &mut i)).collect();
            let lens: Vec<u64> = (0..n).map(|_| varint(&d, &mut i)).collect();
            let mut offsets = Vec::with_capacity(n);
            for k in 0..n {
                let v = varint(&d, &mut i);
                offsets.push(if k > 0 && v == 0 { offsets[k - 1] + lens[k - 1] } else { v.saturating_sub(1) });
            }
            for k in 0..n {
                if runs[k] == 0 {
                    dirs.push((leaf + offsets[k] as usize, lens[k] as usize));
                } else {
                    for r in 0..runs[k] {
                        pm.tiles.insert(ids[k] + r, (data + offsets[k] as usize, lens[k] as usize));
                    }
                }
            }
        }
        pm.bytes = bytes;
        pm
    }

    fn tile(&self, z: u8, x: u32, y: u32) -> Option<&[u8]> {
        self.tiles.get(&tile_id(z, x, y)).map(|&(at, len)| &self.bytes[at..at + len])
    }
}

/// The PMTiles tile id: tiles of lower zooms first, then the Hilbert index within the zoom.
fn tile_id(z: u8, x: u32, y: u32) -> u64 {
    let before: u64 = (0..z).map(|i| 1u64 << (2 * i)).sum();
    let (mut x, mut y, mut d) = (u64::from(x), u64::from(y), 0u64);
    let mut s = 1u64 << z >> 1;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = s - 1 - (x & (s - 1));
                y = s - 1 - (y & (s - 1));
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    before + d
}

/// XYZ tile of a lon/lat at zoom z.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let r = lat.to_radians();
    (((lon + 180.0) / 360.0 * n) as u32, ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32)
}

// ---- HTTP.

fn get(addr: &str, path: &str, extra: &str) -> Reply {
    http(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n").as_bytes())
}

fn header(r: &Reply, name: &str) -> Option<String> {
    let prefix = format!("{}: ", name.to_ascii_lowercase());
    r.head.lines().find_map(|l| l.to_ascii_lowercase().starts_with(&prefix).then(|| l[prefix.len()..].trim().to_string()))
}

/// Every tile of the seeded zooms over the box and a ring of tiles around it, from the
/// archive served as `name` at `node` and from `live` (a node with its cache off, whose
/// gzip is made as the seed makes it): tiles the archive holds come out as its bytes
/// (gzip as stored when the client takes gzip, decoded for one that does not) and as the
/// live node's; tiles it covers but left out are empty on both; the ring outside is 404
/// unless the box's tiles reach it. `live_set` is the live tile set seeded (`basemap`, a
/// layer). Returns how many tiles were held and how many were left out as empty.
fn assert_serves_archive(node: &str, name: &str, pm: &Pm, live: &str, live_set: &str) -> (u64, u64) {
    let (w, s, e, n) = (121.55, 25.02, 121.57, 25.04);
    let mut held = 0;
    let mut empty = 0;
    for z in pm.min_zoom..=pm.max_zoom {
        let ((x0, y0), (x1, y1)) = (tile_of(w, n, z), tile_of(e, s, z));
        for x in x0 - 1..=x1 + 1 {
            for y in y0 - 1..=y1 + 1 {
                let inside = (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
                let path = format!("/archives/{name}/{z}/{x}/{y}.mvt");
                let gz = get(node, &path, "Accept-Encoding: gzip\r\n");
                let plain = get(node, &path, "");
                let live_path = format!("/tiles/{live_set}/{z}/{x}/{y}.mvt");
                let live_plain = get(live, &live_path, "");
                match pm.tile(z, x, y) {
                    Some(stored) => {
                        held += 1;
                        assert_eq!(gz.status, 200, "{path}: {}", gz.text());
                        assert_eq!(gz.body, stored, "{path}: the archive's bytes, as stored");
                        assert_eq!(header(&gz, "content-encoding").as_deref(), Some("gzip"), "{path}");
                        assert_eq!(gz.content_type(), "application/vnd.mapbox-vector-tile");
                        assert!(header(&gz, "etag").is_some_and(|t| t.starts_with('"')), "{path}: a strong ETag");
                        assert_eq!(header(&plain, "content-encoding"), None, "{path}: decoded for a client that takes no gzip");
                        assert_eq!(plain.body, gunzip(stored), "{path}");
                        assert_eq!(live_plain.status, 200);
                        assert_eq!(plain.body, live_plain.body, "{path}: the live node's tile");
                        let live_gz = get(live, &live_path, "Accept-Encoding: gzip\r\n");
                        assert_eq!(gz.body, live_gz.body, "{path}: byte for byte the live node's gzip");
                    }
                    None if gz.status == 200 => {
                        empty += 1;
                        assert!(gz.body.is_empty() && plain.body.is_empty(), "{path}: a tile the seed left out is empty");
                        assert!(live_plain.status == 200 && live_plain.body.is_empty(), "{path}: …because the live node's is");
                    }
                    None => {
                        assert!(!inside, "{path}: inside the seeded box, yet {}", gz.status);
                        assert_eq!(gz.status, 404, "{path}");
                        assert_eq!(gz.content_type(), "application/problem+json");
                        assert!(gz.text().contains("holds no tile"), "{}", gz.text());
                    }
                }
            }
        }
    }
    assert_eq!(held, pm.addressed, "every tile in the archive was compared");
    assert!(held > 20, "{held} tiles held");
    eprintln!("{name}: {held} tiles byte for byte, {empty} empty");
    (held, empty)
}

/// An archive answer with If-None-Match of its own ETag is 304.
fn assert_revalidates(node: &str, path: &str) {
    let r = get(node, path, "Accept-Encoding: gzip\r\n");
    let etag = header(&r, "etag").expect("etag");
    let again = get(node, path, &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"));
    assert_eq!(again.status, 304, "{path}");
    assert!(again.body.is_empty());
}

/// The z15 tile at the box's centre.
fn centre_tile() -> (u8, u32, u32) {
    let (x, y) = tile_of(121.56, 25.03, 15);
    (15, x, y)
}

#[test]
fn a_local_archive_answers_its_own_bytes_and_the_live_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    formosa_ok(&store, &["import", "terrain", &fixture("terrain/dem_twd97_20m.tif")]);
    let archive = dir.path().join("taipei.pmtiles");
    seed(&store, &archive, "13-16", &[]);
    let terrain = dir.path().join("terrain.pmtiles");
    seed(&store, &terrain, "13-14", &["--tiles", "terrain-rgb"]);
    let pipes = dir.path().join("pipes.pmtiles");
    seed(&store, &pipes, "13-16", &["--tiles", "pipelines"]);
    let pm = Pm::read(&archive);
    assert_eq!((pm.tile_type, pm.tile_compression), (1, 2), "MVT, gzip");
    assert_eq!((pm.min_zoom, pm.max_zoom), ZOOMS);

    let node = serve(&store, |c| {
        c.args(["--cache-mb", "0", "--archive", &format!("taipei={}", archive.display()), "--archive", &format!("dem=file://{}", terrain.display())]);
        c.args(["--archive", &format!("pipes={}", pipes.display())]);
    });
    assert_serves_archive(&node.addr, "taipei", &pm, &node.addr, "basemap");
    let (_, empty) = assert_serves_archive(&node.addr, "pipes", &Pm::read(&pipes), &node.addr, "pipelines");
    assert!(empty > 0, "the pipelines seed left empty tiles out");
    let (z, x, y) = centre_tile();
    assert_revalidates(&node.addr, &format!("/archives/taipei/{z}/{x}/{y}.mvt"));

    // PNG tiles (terrain-RGB) go out as stored, no Content-Encoding: the live route's bytes.
    let dem = Pm::read(&terrain);
    assert_eq!((dem.tile_type, dem.tile_compression), (2, 1), "PNG, uncompressed");
    let mut compared = 0;
    for z in 13..=14u8 {
        let (x0, y0) = tile_of(121.55, 25.04, z);
        let (x1, y1) = tile_of(121.57, 25.02, z);
        for (x, y) in (x0..=x1).flat_map(|x| (y0..=y1).map(move |y| (x, y))) {
            let r = get(&node.addr, &format!("/archives/dem/{z}/{x}/{y}.png"), "Accept-Encoding: gzip, br\r\n");
            let live = get(&node.addr, &format!("/terrain-rgb/{z}/{x}/{y}.png"), "");
            let stored = dem.tile(z, x, y).expect("terrain covers the box");
            assert_eq!((r.status, r.content_type()), (200, "image/png".to_string()));
            assert_eq!(header(&r, "content-encoding"), None);
            assert_eq!(r.body, stored);
            assert_eq!(r.body, live.body, "{z}/{x}/{y}: the live terrain-RGB tile");
            compared += 1;
        }
    }
    assert_eq!(compared as u64, dem.addressed);

    // TileJSON from the header and metadata; the catalogues list both archives.
    let tj: serde_json::Value = serde_json::from_slice(&get(&node.addr, "/archives/taipei.json", "").body).unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!((tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()), (Some(13), Some(16)));
    assert_eq!(tj["tiles"][0], format!("http://{}/archives/taipei/{{z}}/{{x}}/{{y}}.mvt", node.addr));
    assert!(tj["vector_layers"].as_array().unwrap().iter().any(|l| l["id"] == "cadastral"), "{tj}");
    let b: Vec<f64> = tj["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!((b[0] - 121.55).abs() < 1e-6 && (b[3] - 25.04).abs() < 1e-6, "{b:?}");
    let dem_tj: serde_json::Value = serde_json::from_slice(&get(&node.addr, "/archives/dem.json", "").body).unwrap();
    assert!(dem_tj["tiles"][0].as_str().unwrap().ends_with("/archives/dem/{z}/{x}/{y}.png"));
    let list: serde_json::Value = serde_json::from_slice(&get(&node.addr, "/archives", "").body).unwrap();
    assert_eq!(list["archives"].as_array().unwrap().len(), 3);
    let catalog: serde_json::Value = serde_json::from_slice(&get(&node.addr, "/catalog", "").body).unwrap();
    let entry = catalog["archives"].as_array().unwrap().iter().find(|a| a["name"] == "taipei").expect("taipei in /catalog").clone();
    assert_eq!((entry["tile_type"].as_str(), entry["compression"].as_str()), (Some("mvt"), Some("gzip")));
    assert_eq!(entry["tiles"].as_u64(), Some(pm.addressed));
    assert!(catalog["layers"].as_array().unwrap().iter().any(|l| l["name"] == "cadastral"), "the store's layers are still listed");

    // Mistakes are JSON problems.
    let r = get(&node.addr, "/archives/nosuch/15/1/1.mvt", "");
    assert_eq!((r.status, r.content_type()), (404, "application/problem+json".to_string()));
    assert!(r.text().contains("taipei"), "names the archives there are: {}", r.text());
    let r = get(&node.addr, &format!("/archives/taipei/{z}/{x}/{y}.png"), "");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = get(&node.addr, "/archives/taipei/12/1/1.mvt", "");
    assert_eq!(r.status, 404, "below the seeded zooms");
    assert!(r.text().contains("z13–z16"), "{}", r.text());

    // Re-seeded in place (a new file renamed over the old): the node notices at the next
    // read and serves the new archive, without a restart.
    seed(&store, &archive, "13-14", &[]);
    let fresh = Pm::read(&archive);
    let (x13, y13) = tile_of(121.56, 25.03, 13);
    let r = get(&node.addr, &format!("/archives/taipei/13/{x13}/{y13}.mvt"), "Accept-Encoding: gzip\r\n");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(Some(&r.body[..]), fresh.tile(13, x13, y13));
    let tj: serde_json::Value = serde_json::from_slice(&get(&node.addr, "/archives/taipei.json", "").body).unwrap();
    assert_eq!(tj["maxzoom"].as_u64(), Some(14), "the new archive's header");
    assert_eq!(get(&node.addr, &format!("/archives/taipei/{z}/{x}/{y}.mvt"), "").status, 404, "z15 is no longer seeded");
}

#[test]
fn an_archive_over_http_range_requests_and_from_formosa_toml() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    // The origin: a plain static file server that honours Range — tower-http's ServeDir,
    // which a node uses for /viewer/, over a folder holding just the archive.
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    let archive = web.join("taipei.pmtiles");
    seed(&store, &archive, "13-16", &[]);
    let pm = Pm::read(&archive);
    let origin_config = dir.path().join("origin.toml");
    std::fs::write(&origin_config, format!("[server]\nviewer_dir = {:?}\n", web.display().to_string())).unwrap();
    let origin = serve(&store, |c| {
        c.env("FORMOSA_CONFIG", &origin_config);
    });
    let ranged = get(&origin.addr, "/viewer/taipei.pmtiles", "Range: bytes=0-6\r\n");
    assert_eq!((ranged.status, &ranged.body[..]), (206, &b"PMTiles"[..]), "the origin answers ranges");

    // The serving node takes the archive from [server.archives] in its formosa.toml.
    let config = dir.path().join("formosa.toml");
    std::fs::write(&config, format!("[server]\ncache_mb = 0\n\n[server.archives]\nweb = \"http://{}/viewer/taipei.pmtiles\"\n", origin.addr)).unwrap();
    let node = serve(&store, |c| {
        c.env("FORMOSA_CONFIG", &config);
    });
    assert_serves_archive(&node.addr, "web", &pm, &node.addr, "basemap");

    // The origin gone: 503 with a reason and Retry-After, and the node stays up.
    drop(origin);
    let (z, x, y) = centre_tile();
    let r = get(&node.addr, &format!("/archives/web/{z}/{x}/{y}.mvt"), "");
    assert_eq!((r.status, r.content_type()), (503, "application/problem+json".to_string()), "{}", r.text());
    assert!(r.text().contains("archive 'web'"), "{}", r.text());
    assert!(header(&r, "retry-after").is_some());
    assert_eq!(get(&node.addr, "/health", "").status, 200);
    assert_eq!(get(&node.addr, &format!("/tiles/basemap/{z}/{x}/{y}.mvt"), "").status, 200, "the live tiles go on");
}

#[test]
fn archives_that_cannot_be_served_stop_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    formosa_ok(&store, &["import", "cadastral", &fixture("cadastral/taipei_parcels.shp")]);
    let archive = dir.path().join("t.pmtiles");
    let r = formosa(&store, &["serve", "--bind", "127.0.0.1:0", "--archive", &format!("t={}", archive.display())]);
    assert_ne!(r.code, 0);
    assert!(r.error_line().starts_with("error: archive 't' at ") && r.error_line().contains("t.pmtiles"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "{}", r.stderr);

    seed(&store, &archive, "14", &[]);
    let r = formosa(&store, &["serve", "--bind", "127.0.0.1:0", "--archive", &format!("cadastral={}", archive.display())]);
    assert_ne!(r.code, 0);
    assert!(r.error_line().contains("archive name 'cadastral' is taken"), "{}", r.stderr);

    let r = formosa(&store, &["serve", "--archive", "no-equals-sign"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("NAME=SOURCE"), "{}", r.stderr);

    // Nothing listening: over HTTP, and at an S3 endpoint.
    let closed = free_port();
    let r = formosa(&store, &["serve", "--bind", "127.0.0.1:0", "--archive", &format!("h=http://127.0.0.1:{closed}/t.pmtiles")]);
    assert_ne!(r.code, 0);
    assert!(r.error_line().starts_with("error: archive 'h' at http://127.0.0.1:"), "{}", r.stderr);
    let out = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .arg("--store")
        .arg(&store)
        .args(["serve", "--bind", "127.0.0.1:0", "--archive", "s=s3://tiles/t.pmtiles"])
        .env_remove("FORMOSA_CONFIG")
        .envs(s3_env(closed))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(last.starts_with("error: archive 's' at s3://tiles/t.pmtiles:"), "{stderr}");
}

// ---- S3: a real s3s-fs process.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const ACCESS_KEY: &str = "formosa-test";
const SECRET_KEY: &str = "formosa-test-secret";

/// The AWS_* environment for an S3-compatible endpoint on loopback.
fn s3_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
    ]
}

fn s3s_fs() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("s3s-fs")).find(|p| p.is_file()));
    on_path.or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/s3s-fs")).filter(|p| p.is_file()))
}

struct S3Server(Child);

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts s3s-fs over `root` on `port` and waits until it accepts connections.
fn start_s3(bin: &Path, root: &Path, port: u16) -> S3Server {
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start s3s-fs");
    let server = S3Server(child);
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed().as_secs() < 20, "s3s-fs did not listen on {port}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server
}

#[test]
fn an_archive_in_an_s3_compatible_bucket_answers_the_seeded_bytes() {
    let Some(bin) = s3s_fs() else {
        assert!(
            std::env::var("FORMOSA_REQUIRE_S3").as_deref() != Ok("1"),
            "FORMOSA_REQUIRE_S3=1 but s3s-fs is not installed: cargo install s3s-fs --version 0.14.1 --features binary --locked"
        );
        eprintln!("SKIPPED: s3s-fs is not installed (cargo install s3s-fs --version 0.14.1 --features binary --locked); set FORMOSA_REQUIRE_S3=1 to make this a failure");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let archive = dir.path().join("taipei.pmtiles");
    seed(&store, &archive, "13-16", &[]);
    let pm = Pm::read(&archive);

    // A bucket is a folder to s3s-fs; the archive goes in through S3 PutObject.
    let root = dir.path().join("s3");
    std::fs::create_dir_all(root.join("basemap")).unwrap();
    let port = free_port();
    let s3 = start_s3(&bin, &root, port);
    let bucket = {
        let mut b = object_store::aws::AmazonS3Builder::new().with_bucket_name("basemap");
        for (k, v) in s3_env(port) {
            b = b.with_config(k.to_ascii_lowercase().parse::<object_store::aws::AmazonS3ConfigKey>().unwrap(), v);
        }
        b.build().unwrap()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use object_store::ObjectStoreExt;
        let key = object_store::path::Path::from("seeded/taipei.pmtiles");
        bucket.put(&key, pm.bytes.clone().into()).await.expect("PutObject to s3s-fs");
        let back = bucket.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(back.len(), pm.bytes.len(), "the bucket holds the archive");
    });

    let node = serve(&store, |c| {
        c.args(["--cache-mb", "0", "--archive", "s3=s3://basemap/seeded/taipei.pmtiles"]).envs(s3_env(port));
    });
    assert!(node.log().iter().any(|l| l.contains("archive 's3': s3://basemap/seeded/taipei.pmtiles")), "{:?}", node.log());
    assert_serves_archive(&node.addr, "s3", &pm, &node.addr, "basemap");
    let (z, x, y) = centre_tile();
    let path = format!("/archives/s3/{z}/{x}/{y}.mvt");
    assert_revalidates(&node.addr, &path);

    // The storage goes away: 503 problems with Retry-After, never a crash; it comes back
    // on the same port: tiles again, with no restart of the node.
    drop(s3);
    let r = get(&node.addr, &path, "Accept-Encoding: gzip\r\n");
    assert_eq!((r.status, r.content_type()), (503, "application/problem+json".to_string()), "{}", r.text());
    let problem: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(problem["status"], 503);
    assert!(problem["detail"].as_str().unwrap().contains("archive 's3' at s3://basemap/seeded/taipei.pmtiles cannot be read now"), "{problem}");
    assert!(header(&r, "retry-after").is_some());
    assert_eq!(get(&node.addr, "/health", "").status, 200, "the node is up");
    let _s3 = start_s3(&bin, &root, port);
    let r = get(&node.addr, &path, "Accept-Encoding: gzip\r\n");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(Some(&r.body[..]), pm.tile(z, x, y));
}
