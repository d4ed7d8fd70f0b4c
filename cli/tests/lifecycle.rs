//! The server's life under real signals, over real sockets: SIGTERM in the middle of
//! reads and writes (nothing sent before the signal is cut, every acknowledged write is
//! there after a restart, the change stream is told to go elsewhere), `/ready` while
//! draining, the shutdown deadline, SIGHUP reloading formosa.toml under live
//! connections, and JSON request logs with request ids.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "lifecycle-test-token";

fn signal(server: &Server, name: &str) {
    let ok = std::process::Command::new("kill").args([&format!("-{name}"), &server.child.id().to_string()]).status().expect("kill");
    assert!(ok.success(), "kill -{name}");
}

/// Waits for the server to exit; its exit code and how long it took.
fn wait_exit(server: &mut Server, within: Duration) -> (i32, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), started.elapsed());
        }
        assert!(started.elapsed() < within, "the server did not exit within {within:?}; log:\n{}", server.log().join("\n"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_log(server: &Server, what: &str, within: Duration) -> String {
    let started = Instant::now();
    loop {
        if let Some(line) = server.log().into_iter().find(|l| l.contains(what)) {
            return line;
        }
        assert!(started.elapsed() < within, "no log line with {what:?} within {within:?}; log:\n{}", server.log().join("\n"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// XYZ tile of a lon/lat at zoom z.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let r = lat.to_radians();
    (((lon + 180.0) / 360.0 * n) as u32, ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32)
}

fn incident_body(n: usize) -> String {
    format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"type":"flood","severity":3,"description":"積水 #{n}","reporter":"lifecycle"}}}}"#,
        121.55 + (n % 50) as f64 * 0.0005,
        25.02 + (n / 50 % 50) as f64 * 0.0005
    )
}

fn post_request(addr: &str, token: &str, body: &str, close: bool) -> String {
    format!(
        "POST /ogcapi/collections/incidents/items HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
}

/// A response read to the end of the connection, and whether it is whole: a status line,
/// and a body of the length the head announced (or a chunked body with its last chunk).
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
    whole: bool,
}

fn parse(resp: &[u8]) -> Answer {
    let Some(head_end) = resp.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        return Answer { status: 0, head: String::from_utf8_lossy(resp).into_owned(), body: Vec::new(), whole: false };
    };
    let head = String::from_utf8_lossy(&resp[..head_end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let lower = head.to_ascii_lowercase();
    let mut body = resp[head_end..].to_vec();
    let whole = if let Some(len) = lower.lines().find_map(|l| l.strip_prefix("content-length: ")).and_then(|v| v.trim().parse::<usize>().ok()) {
        body.len() == len
    } else if lower.contains("transfer-encoding: chunked") {
        match dechunk(&body) {
            Some(b) => {
                body = b;
                true
            }
            None => false,
        }
    } else {
        false
    };
    Answer { status, head, body, whole }
}

/// A chunked body decoded, if it ends with its last chunk.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).ok()?.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Whether a 2xx answer's body is what was asked for.
type Check = Box<dyn Fn(&Answer) -> Result<(), String>>;

/// What a client thread saw of one request.
enum Outcome {
    /// A whole answer: 2xx with a valid body, or 503 with Retry-After.
    Clean,
    /// Refused or reset before anything was sent: the listener was closed.
    NotSent,
    /// Sent, then no whole answer: what happened.
    Broken(String),
}

/// Sends `raw` on a new connection and judges the answer with `valid` (a 2xx body check).
/// The time the request was sent goes to `sent`.
fn exchange(addr: &str, raw: &[u8], valid: impl Fn(&Answer) -> Result<(), String>) -> (Outcome, Option<Instant>, Option<Answer>) {
    let Ok(mut s) = TcpStream::connect(addr) else { return (Outcome::NotSent, None, None) };
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    if s.write_all(raw).is_err() {
        return (Outcome::NotSent, None, None);
    }
    let sent = Instant::now();
    let mut resp = Vec::new();
    let read = s.read_to_end(&mut resp);
    let a = parse(&resp);
    let outcome = if !a.whole {
        Outcome::Broken(format!("incomplete answer ({read:?}, {} bytes): {}", resp.len(), a.head.lines().next().unwrap_or("")))
    } else if a.status == 503 {
        if a.head.to_ascii_lowercase().contains("retry-after:") {
            Outcome::Clean
        } else {
            Outcome::Broken("503 without Retry-After".into())
        }
    } else if (200..300).contains(&a.status) {
        match valid(&a) {
            Ok(()) => Outcome::Clean,
            Err(e) => Outcome::Broken(e),
        }
    } else {
        Outcome::Broken(format!("status {}: {}", a.status, String::from_utf8_lossy(&a.body)))
    };
    (outcome, Some(sent), Some(a))
}

fn import_city(store: &Path) {
    formosa_ok(store, &["import", "buildings", &fixture("buildings/buildings.shp")]);
    formosa_ok(store, &["import", "pipelines", &fixture("pipelines/pipelines_2d.gpkg")]);
}

#[test]
fn sigterm_during_reads_and_writes_cuts_nothing_sent_before_it_and_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("life.gpkg");
    import_city(&store);
    let mut server = serve(&store, |cmd| {
        cmd.env("FORMOSA_WRITE_TOKEN", TOKEN);
    });
    let addr = server.addr.clone();

    // An SSE client, connected before the signal.
    let mut sse = TcpStream::connect(&addr).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    write!(sse, "GET /changes/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let sse_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let read = sse.read_to_end(&mut all);
        (read.is_ok(), all)
    });

    let signalled: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let broken = Arc::new(Mutex::new(Vec::<String>::new()));
    let answered = Arc::new(Mutex::new([0usize; 3]));
    let (x0, y0) = tile_of(121.565, 25.033, 15);
    let clients: Vec<_> = (0..6)
        .map(|t| {
            let (addr, stop, acked, broken, answered, signalled) = (addr.clone(), stop.clone(), acked.clone(), broken.clone(), answered.clone(), signalled.clone());
            std::thread::spawn(move || {
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    n += 6;
                    let kind = t % 3;
                    let (raw, valid): (String, Check) = match kind {
                        0 => {
                            let (x, y) = (x0 + (n as u32 % 7), y0 + (n as u32 / 7 % 7));
                            (
                                format!("GET /tiles/basemap/15/{x}/{y}.mvt HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
                                Box::new(|a: &Answer| if a.status == 200 { Ok(()) } else { Err(format!("tile status {}", a.status)) }),
                            )
                        }
                        1 => {
                            let w = 121.55 + (n % 10) as f64 * 0.001;
                            (
                                format!("GET /wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS=CRS:84&BBOX={w},25.02,{},25.04&WIDTH=256&HEIGHT=256&FORMAT=image/png HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n", w + 0.02),
                                Box::new(|a: &Answer| if a.body.starts_with(b"\x89PNG\r\n\x1a\n") { Ok(()) } else { Err("GetMap answered without a PNG".into()) }),
                            )
                        }
                        _ => (post_request(&addr, TOKEN, &incident_body(n), true), Box::new(|a: &Answer| if a.status == 201 { Ok(()) } else { Err(format!("write status {}", a.status)) })),
                    };
                    let (outcome, sent, answer) = exchange(&addr, raw.as_bytes(), valid);
                    let before_signal = match (sent, *signalled.lock().unwrap()) {
                        (Some(sent), Some(at)) => sent < at,
                        (Some(_), None) => true,
                        (None, _) => false,
                    };
                    match outcome {
                        Outcome::Clean => {
                            answered.lock().unwrap()[kind] += 1;
                            if let Some(a) = answer.filter(|a| a.status == 201) {
                                let json: serde_json::Value = serde_json::from_slice(&a.body).expect("a 201 has a JSON body");
                                acked.lock().unwrap().push(json["id"].as_i64().expect("a 201 names the id"));
                            }
                        }
                        Outcome::Broken(why) if before_signal => broken.lock().unwrap().push(why),
                        // After the signal a connection may be refused or closed unanswered.
                        Outcome::Broken(_) | Outcome::NotSent => {
                            if signalled.lock().unwrap().is_some() {
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    while answered.lock().unwrap().iter().any(|n| *n < 5) || acked.lock().unwrap().len() < 20 {
        assert!(started.elapsed() < Duration::from_secs(120), "too few answers before the signal: {:?}", answered.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    *signalled.lock().unwrap() = Some(Instant::now());
    signal(&server, "TERM");
    let (code, took) = wait_exit(&mut server, Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(code, 0, "exit code after SIGTERM; log:\n{}", server.log().join("\n"));
    assert!(took < Duration::from_secs(25), "exited after {took:?}, past the 25 s grace");
    let broken = broken.lock().unwrap().clone();
    assert!(broken.is_empty(), "requests sent before SIGTERM cut or answered badly: {broken:?}");
    let log = server.log().join("\n");
    assert!(log.contains("shutting down") && log.contains("every request answered"), "{log}");
    assert!(!log.contains("still in flight"), "{log}");

    // The change stream: told to reconnect, then ended cleanly (the chunked body's end).
    let (read_ok, sse) = sse_reader.join().unwrap();
    let sse = parse(&sse);
    assert!(read_ok && sse.whole, "the SSE response ended mid-way: {}", String::from_utf8_lossy(&sse.body));
    let text = String::from_utf8_lossy(&sse.body);
    assert!(text.contains("event: change"), "the stream carried the writes: {text}");
    let tail = &text[text.find("event: shutdown").unwrap_or_else(|| panic!("no shutdown event in {text}"))..];
    let retry: u64 = tail.lines().find_map(|l| l.strip_prefix("retry:")).expect("a retry: field with the shutdown event").trim().parse().unwrap();
    assert!((1000..=3000).contains(&retry), "retry {retry} ms");
    assert!(!tail.lines().any(|l| l.starts_with("id:")), "the shutdown event has no id, so Last-Event-ID stays the last change's");

    // Restarted on the same store: every acknowledged write is there.
    let acked = acked.lock().unwrap().clone();
    let server = serve(&store, |_| {});
    for id in &acked {
        let r = http_get(&server.addr, &format!("/ogcapi/collections/incidents/items/{id}"));
        assert_eq!(r.status, 200, "acknowledged write {id} missing after the restart: {}", r.text());
        assert!(r.text().contains("lifecycle"), "{}", r.text());
    }
}

#[test]
fn ready_says_draining_while_a_slow_request_holds_the_shutdown_and_the_deadline_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("ready.gpkg");
    import_city(&store);
    let config = dir.path().join("formosa.toml");
    std::fs::write(&config, "[server]\nshutdown_delay_s = 1.5\nshutdown_grace_s = 4\n").unwrap();
    let mut server = serve(&store, |cmd| {
        cmd.arg("--config").arg(&config).env("FORMOSA_WRITE_TOKEN", TOKEN);
    });
    let addr = server.addr.clone();
    let ready = http_get(&addr, "/ready");
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&ready.body).unwrap()["status"], "ready");

    // Two writes in flight: their bodies half sent. One will be finished during the drain.
    let body = incident_body(1);
    let request = post_request(&addr, TOKEN, &body, true);
    let half = request.len() - body.len() / 2;
    let mut finishing = TcpStream::connect(&addr).unwrap();
    finishing.write_all(&request.as_bytes()[..half]).unwrap();
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.write_all(&request.as_bytes()[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let signalled = Instant::now();
    signal(&server, "TERM");
    std::thread::sleep(Duration::from_millis(200));
    let draining = http_get(&addr, "/ready");
    assert_eq!(draining.status, 503, "{}", draining.text());
    assert!(draining.content_type().starts_with("application/problem+json"), "{}", draining.head);
    assert!(draining.head.to_ascii_lowercase().contains("retry-after:"), "{}", draining.head);
    assert!(draining.text().contains("draining: shutting down"), "{}", draining.text());
    assert!(draining.head.to_ascii_lowercase().contains("connection: close"), "{}", draining.head);
    // Still alive, and still serving, until the balancer has had time to notice.
    let health = http_get(&addr, "/health");
    assert_eq!(health.status, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&health.body).unwrap()["status"], "ok");

    // Past the delay the listener is closed; the request in flight still gets its answer.
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(signalled.elapsed()));
    assert!(TcpStream::connect(&addr).is_err(), "still accepting after the drain delay");
    finishing.write_all(&request.as_bytes()[half..]).unwrap();
    let mut resp = Vec::new();
    finishing.read_to_end(&mut resp).unwrap();
    let a = parse(&resp);
    assert!(a.whole && a.status == 201, "the write in flight was not answered whole: {}", String::from_utf8_lossy(&resp));

    // The stalled one holds the shutdown until the grace is over, then is cut and named.
    let (code, _) = wait_exit(&mut server, Duration::from_secs(15));
    let took = signalled.elapsed();
    assert_eq!(code, 0, "log:\n{}", server.log().join("\n"));
    assert!(took >= Duration::from_millis(3900) && took < Duration::from_secs(7), "exited {took:?} after SIGTERM with a 4 s grace");
    let cut = wait_for_log(&server, "still in flight", Duration::from_secs(1));
    assert!(cut.contains("1 requests still in flight") && cut.contains("POST /ogcapi/collections/incidents/items"), "{cut}");
    drop(stalled);
}

#[test]
fn sighup_reloads_the_token_and_limits_under_live_connections_and_a_broken_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("hup.gpkg");
    import_city(&store);
    let config = dir.path().join("formosa.toml");
    std::fs::write(&config, "[server]\nwrite_token = \"old-token\"\nmax_map_size = 4096\n").unwrap();
    let server = serve(&store, |cmd| {
        cmd.arg("--config").arg(&config).env_remove("FORMOSA_WRITE_TOKEN");
    });
    let addr = server.addr.clone();
    let post = |token: &str| {
        let r = http(&addr, post_request(&addr, token, &incident_body(7), true).as_bytes());
        (r.status, r.text())
    };
    assert_eq!(post("old-token").0, 201);

    // A keep-alive connection opened before the reload.
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut kept_reader = BufReader::new(kept.try_clone().unwrap());
    let mut ask_on_kept = |path: &str| -> (u16, String) {
        write!(kept, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut status = String::new();
        kept_reader.read_line(&mut status).unwrap();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            kept_reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        kept_reader.read_exact(&mut body).unwrap();
        (status.split(' ').nth(1).unwrap().parse().unwrap(), String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(ask_on_kept("/health").0, 200);
    let big_map = "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS=CRS:84&BBOX=121.55,25.02,121.57,25.04&WIDTH=600&HEIGHT=600&FORMAT=image/png";
    assert_eq!(http_get(&addr, big_map).status, 200);

    // The new file: another token, smaller maps, another cache size; a geoid offset, which
    // needs a restart; and a bind, which the --bind flag overrides as at start.
    std::fs::write(&config, "[server]\nwrite_token = \"new-token\"\nmax_map_size = 512\ncache_mb = 64\nbind = \"127.0.0.1:1\"\ngeoid_undulation_m = 30.0\ncors_origins = [\"https://map.example.tw\"]\n").unwrap();
    signal(&server, "HUP");
    let line = wait_for_log(&server, "in force", Duration::from_secs(10));
    assert!(line.contains("write_token") && line.contains("max_map_size") && line.contains("cache_mb"), "{line}");
    let warned = wait_for_log(&server, "need a restart", Duration::from_secs(2));
    assert!(warned.contains("geoid_undulation_m") && !warned.contains("bind"), "{warned}");
    wait_for_log(&server, "started empty", Duration::from_secs(2));

    let (status, text) = post("old-token");
    assert_eq!(status, 403, "the old token still writes: {text}");
    assert_eq!(post("new-token").0, 201);
    let refused = http_get(&addr, big_map);
    assert!(refused.text().contains("512"), "max_map_size 512 not in force: {} {}", refused.status, refused.text());
    // CORS follows: the new origin is allowed, others are not.
    let cors = |origin: &str| http(&addr, format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n").as_bytes()).head.to_ascii_lowercase();
    assert!(cors("https://map.example.tw").contains("access-control-allow-origin: https://map.example.tw"));
    assert!(!cors("https://elsewhere.example").contains("access-control-allow-origin"));
    assert!(cors("https://map.example.tw").contains("access-control-expose-headers:") && cors("https://map.example.tw").contains("x-request-id"));
    // Same socket as before the reload, still served; the running bind kept.
    let (status, body) = ask_on_kept("/ready");
    assert_eq!(status, 200, "{body}");

    // A file that does not parse: logged with its line, nothing changes.
    std::fs::write(&config, "[server]\nwrite_token = \"third-token\"\nmax_map_size = 4096\ncache_mb = \"lots\"\n").unwrap();
    signal(&server, "HUP");
    let error = wait_for_log(&server, "keeping the configuration in force", Duration::from_secs(10));
    assert!(error.contains(&format!("{}:4:", config.display())), "{error}");
    assert_eq!(post("new-token").0, 201, "a broken file changed the token");
    assert_eq!(post("third-token").0, 403);
    assert!(http_get(&addr, big_map).text().contains("512"));
    assert_eq!(ask_on_kept("/health").0, 200);

    // A rate limit switched on by a reload applies at once, to the open connection too.
    std::fs::write(&config, "[server]\nwrite_token = \"new-token\"\nmax_map_size = 512\ncache_mb = 64\nrate_limit_per_s = 0.5\nrate_limit_burst = 2\n").unwrap();
    signal(&server, "HUP");
    wait_for_log(&server, "rate_limit_burst, rate_limit_per_s in force", Duration::from_secs(10));
    let statuses: Vec<u16> = (0..4).map(|_| ask_on_kept("/health").0).collect();
    assert_eq!(statuses, [200, 200, 429, 429], "burst 2, then 429");
}

#[test]
fn json_logs_are_one_object_a_line_with_the_request_id_the_client_also_gets() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("json.gpkg");
    import_city(&store);
    let mut server = serve(&store, |cmd| {
        cmd.arg("--log-format").arg("json");
    });
    let addr = server.addr.clone();
    let id_of = |r: &Reply| {
        r.head.lines().find(|l| l.to_ascii_lowercase().starts_with("x-request-id: ")).map(|l| l["x-request-id: ".len()..].trim().to_string()).expect("an x-request-id header")
    };
    let (x, y) = tile_of(121.565, 25.033, 15);
    let tile = http_get(&addr, &format!("/tiles/buildings/15/{x}/{y}.mvt?v=1"));
    assert_eq!(tile.status, 200);
    let generated = id_of(&tile);
    let echoed = http(&addr, format!("GET /catalog HTTP/1.1\r\nHost: {addr}\r\nX-Request-Id: lb-1234.abc_Z\r\nUser-Agent: lifecycle-test\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(id_of(&echoed), "lb-1234.abc_Z", "an acceptable incoming id is echoed as it came");
    let missing = http(&addr, format!("GET /nowhere HTTP/1.1\r\nHost: {addr}\r\nX-Request-Id: not ok!\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(missing.status, 404);
    let replaced = id_of(&missing);
    assert_ne!(replaced, "not ok!");
    signal(&server, "TERM");
    assert_eq!(wait_exit(&mut server, Duration::from_secs(30)).0, 0);
    std::thread::sleep(Duration::from_millis(200));

    let lines: Vec<serde_json::Value> = server.log().iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let request = |id: &str| lines.iter().find(|l| l["message"] == "request" && l["request_id"] == id).unwrap_or_else(|| panic!("no request line with id {id}: {lines:?}")).clone();
    let t = request(&generated);
    assert_eq!(
        (t["method"].as_str(), t["path"].as_str(), t["query"].as_str(), t["status"].as_u64()),
        (Some("GET"), Some(format!("/tiles/buildings/15/{x}/{y}.mvt").as_str()), Some("v=1"), Some(200))
    );
    assert_eq!(t["level"], "INFO");
    assert!(t["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0) && t["client"].as_str().is_some_and(|c| c.starts_with("127.0.0.1:")), "{t}");
    let c = request("lb-1234.abc_Z");
    assert_eq!((c["user_agent"].as_str(), c["path"].as_str()), (Some("lifecycle-test"), Some("/catalog")));
    assert_eq!(c["bytes"].as_u64(), Some(echoed.body.len() as u64));
    assert_eq!(request(&replaced)["status"], 404);
    assert!(lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("shutting down"))));
}
