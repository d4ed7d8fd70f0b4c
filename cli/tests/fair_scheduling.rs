//! Fair builds through HTTP, on the demo store: tiles are not queued behind large maps, a
//! map past the render-time limit gets an OGC exception, a client that leaves cancels its
//! build, and a client over its share of heavy work gets 503 + Retry-After — each seen in
//! the answers and in `/metrics`.

mod common;
use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The demo store (every bundled fixture), imported once per test.
fn demo_store(dir: &std::path::Path) -> std::path::PathBuf {
    let store = dir.join("demo.gpkg");
    formosa_ok(&store, &["demo", "--no-serve", "--fixtures", &fixtures().display().to_string()]);
    store
}

fn serve_with(store: &std::path::Path, config: &str) -> Server {
    let path = store.with_extension("toml");
    std::fs::write(&path, format!("[server]\n{config}")).unwrap();
    serve(store, |cmd| {
        cmd.arg("--config").arg(&path);
    })
}

/// A 4096 × 4096 GetMap of the whole base map over 信義區, EPSG:3857.
fn big_map(n: usize) -> String {
    format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS=EPSG:3857&BBOX=13530000,2875000,13540000,2885000&WIDTH=4096&HEIGHT=4096&FORMAT=image/png&n={n}"
    )
}

/// A GetMap sent on a connection of its own, left open (the reply is not read).
fn send(addr: &str, path: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    s
}

/// The value of a sample of /metrics, 0 when absent.
fn metric(addr: &str, family: &str, labels: &[(&str, &str)]) -> f64 {
    metric_sample(&http_get(addr, "/metrics").text(), family, labels).unwrap_or(0.0)
}

/// Builds waiting, of either class.
fn queued(addr: &str) -> f64 {
    metric(addr, "formosa_build_queue_depth", &[("class", "cheap")]) + metric(addr, "formosa_build_queue_depth", &[("class", "heavy")])
}

fn p99(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() as f64 * 0.99).ceil() as usize).min(ms.len()) - 1]
}

#[test]
fn tiles_are_not_queued_behind_six_large_maps() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let server = serve_with(&store, "request_timeout_s = 120\n");
    let addr = server.addr.clone();
    let maps: Vec<_> = (0..6).map(|n| send(&addr, &big_map(n))).collect();
    // Five wait their turn while one is drawn: they are all in.
    wait_until("the maps to queue", Duration::from_secs(20), || queued(&addr) >= 4.0);

    let (mut mvt_ms, mut wmts_ms) = (Vec::new(), Vec::new());
    // Uncached z16 tiles over 信義區 (each asked once), and z17 WMTS tiles of the base map.
    for (i, (x, y)) in (0..8).flat_map(|dx| (0..5).map(move |dy| (54885 + dx, 28028 + dy))).enumerate() {
        let t = Instant::now();
        let r = http_get(&addr, &format!("/tiles/basemap/16/{x}/{y}.mvt"));
        mvt_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.status, 200, "{}", r.text());
        if i < 20 {
            let t = Instant::now();
            let r = http_get(&addr, &format!("/wmts/1.0.0/basemap/default/GoogleMapsCompatible/17/{}/{}.png", 2 * y, 2 * x));
            wmts_ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(r.status, 200, "{}", r.text());
            assert!(r.body.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG tile");
        }
    }
    let with_parcels = mvt_ms.len();
    assert!(with_parcels == 40);
    let (mvt, wmts) = (p99(mvt_ms), p99(wmts_ms));
    eprintln!("with six 4096² GetMaps in flight: vector tile p99 {mvt:.1} ms, WMTS tile p99 {wmts:.1} ms");
    assert!(mvt <= 100.0, "uncached vector tiles p99 {mvt:.1} ms behind six large maps");
    assert!(wmts <= 100.0, "uncached WMTS tiles p99 {wmts:.1} ms behind six large maps");
    assert!(queued(&addr) >= 1.0, "the maps were still waiting while the tiles were made");
    drop(maps);
}

#[test]
fn a_map_past_the_render_time_limit_gets_an_exception() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let server = serve_with(&store, "max_render_time_s = 0.02\n");
    let r = http_get(&server.addr, &big_map(0));
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.content_type().starts_with("text/xml"), "{}", r.head);
    let body = r.text();
    assert!(body.contains("<ServiceExceptionReport") && body.contains("code=\"NoApplicableCode\""), "{body}");
    assert!(body.contains("longer than the server allows (0.02 s, max_render_time_s)"), "{body}");
    assert_eq!(metric(&server.addr, "formosa_builds_timed_out_total", &[("kind", "wms_map")]), 1.0);
}

#[test]
fn a_client_that_leaves_cancels_its_build_and_heavy_work_has_a_share_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let server = serve_with(&store, "max_heavy_per_client = 2\nrequest_timeout_s = 120\n");
    let addr = server.addr.clone();
    let drawing = send(&addr, &big_map(1));
    let waiting = send(&addr, &big_map(2));
    // One has left the queue for a builder (its wait is recorded) and one is in it. The
    // depth alone can be the first map before the builder (at nice 10) has taken it.
    wait_until("a map to be drawn and one to wait", Duration::from_secs(20), || {
        metric(&addr, "formosa_build_wait_seconds_count", &[("class", "heavy")]) >= 1.0 && metric(&addr, "formosa_build_queue_depth", &[("class", "heavy")]) >= 1.0
    });

    // A third heavy request from the same client is over its share.
    let r = http_get(&addr, &big_map(3));
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.head.to_ascii_lowercase().contains("retry-after: 10"), "{}", r.head);
    let body = r.text();
    assert!(body.contains("<ServiceExceptionReport") && body.contains("large maps queued or being drawn"), "{body}");
    assert_eq!(metric(&addr, "formosa_builds_refused_total", &[("class", "heavy"), ("reason", "client_share")]), 1.0);

    // Both clients go away: the map being drawn stops at its next step, the waiting one
    // is never drawn.
    for s in [drawing, waiting] {
        s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    wait_until("both builds to be cancelled", Duration::from_secs(60), || {
        metric(&addr, "formosa_builds_cancelled_total", &[("class", "heavy"), ("stage", "running")])
            + metric(&addr, "formosa_builds_cancelled_total", &[("class", "heavy"), ("stage", "queued")])
            >= 2.0
    });
    // The share is free again: a small map from the same client is drawn.
    let mut s = send(&addr, &big_map(4).replace("WIDTH=4096&HEIGHT=4096", "WIDTH=1100&HEIGHT=1100"));
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&reply[..reply.len().min(400)]));
}
