//! The figures: a table per rate next to the goals, and the same as JSON and TSV
//! under the output folder.

use crate::clients::Class;
use crate::stats::{ClassStats, Latency};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The goals for the 10× run.
pub const TILE_P99_GOAL_MS: f64 = 50.0;
pub const RSS_GROWTH_GOAL_PCT: f64 = 10.0;

pub struct Phase {
    pub multiplier: f64,
    pub duration_s: f64,
    pub sessions_per_s: Vec<(&'static str, f64)>,
    pub classes: BTreeMap<Class, ClassStats>,
    pub load_mid: String,
    pub load_end: String,
    pub rss_start_kb: Option<u64>,
    pub rss_end_kb: Option<u64>,
    pub rss_warm_kb: Option<u64>,
    /// The tile cache's bytes at the warm-up's end, this rate's start and its end.
    pub cache_bytes: [Option<u64>; 3],
}

impl Phase {
    /// Every tile class together (vector + WMTS + terrain + 3D Tiles).
    pub fn tiles(&self) -> ClassStats {
        let mut all = ClassStats::default();
        self.classes.iter().filter(|(c, _)| c.is_tile()).for_each(|(_, s)| all.merge(s));
        all
    }

    /// Which tile classes the slowest 1 % comes from: "vector 40 % (812), wmts …".
    pub fn tail_shares(&self, p99_ms: f64) -> String {
        let slow: Vec<(&str, usize)> =
            self.classes.iter().filter(|(c, _)| c.is_tile()).map(|(c, s)| (c.name(), s.latencies_ms.iter().filter(|&&l| l as f64 > p99_ms).count())).collect();
        let total = slow.iter().map(|(_, n)| n).sum::<usize>().max(1);
        slow.iter().map(|(name, n)| format!("{name} {:.0} % ({n})", 100.0 * *n as f64 / total as f64)).collect::<Vec<_>>().join(", ")
    }

    pub fn errors(&self) -> u64 {
        self.classes.values().map(|s| s.errors).sum()
    }

    pub fn shed(&self) -> u64 {
        self.classes.values().map(|s| s.shed).sum()
    }

    pub fn rss_growth_pct(&self) -> Option<f64> {
        Some((self.rss_end_kb? as f64 - self.rss_warm_kb? as f64) / self.rss_warm_kb? as f64 * 100.0)
    }
}

fn row(name: &str, s: &ClassStats, seconds: f64) -> String {
    let l = s.summary();
    format!(
        "  {name:<12} {:>8} {:>7.1} {:>6} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.1}",
        s.count(),
        s.count() as f64 / seconds,
        s.shed,
        s.errors,
        l.p50,
        l.p90,
        l.p99,
        l.max,
        s.bytes as f64 / 1_048_576.0
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "NOT MET"
    }
}

pub fn print_phase(p: &Phase) {
    let rates: Vec<String> = p.sessions_per_s.iter().map(|(k, r)| format!("{k} {r:.2}")).collect();
    println!("\n== {}× for {:.0} s — sessions/s: {}", p.multiplier, p.duration_s, rates.join(", "));
    println!("   loadavg mid-run {}, at the end {}", p.load_mid, p.load_end);
    println!("  {:<12} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9}", "class", "requests", "req/s", "shed", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms", "MiB");
    for (c, s) in &p.classes {
        println!("{}", row(c.name(), s, p.duration_s));
    }
    let tiles = p.tiles();
    println!("{}", row("tiles (all)", &tiles, p.duration_s));
    let errors = p.errors();
    println!("   goal (10× for 5 min): errors other than 429/503 with Retry-After = 0: {errors} ({} shed with Retry-After) — {}", p.shed(), verdict(errors == 0));
    let t = tiles.summary().p99;
    println!("   goal: tile p99 ≤ {TILE_P99_GOAL_MS} ms: {t:.1} ms — {}", verdict(t <= TILE_P99_GOAL_MS));
    println!("   tiles slower than the tile p99, by class: {}", p.tail_shares(t));
    let per = |c: Class| p.classes.get(&c).map(|s| format!("{:.1} ms ({} maps)", s.summary().p99, s.ok)).unwrap_or_else(|| "none".into());
    println!("   goal: WMS p99 per size class reported: 1024² {}, 2048² {}, 4096² {}", per(Class::Wms1024), per(Class::Wms2048), per(Class::Wms4096));
    if let (Some(a), Some(b), Some(g)) = (p.rss_start_kb, p.rss_end_kb, p.rss_growth_pct()) {
        println!(
            "   goal: RSS growth ≤ {RSS_GROWTH_GOAL_PCT} % after warm-up: {:.0} MiB at warm-up, {:.0} → {:.0} MiB this rate, {g:+.1} % since warm-up — {}",
            p.rss_warm_kb.unwrap_or(0) as f64 / 1024.0,
            a as f64 / 1024.0,
            b as f64 / 1024.0,
            verdict(g <= RSS_GROWTH_GOAL_PCT)
        );
    }
    if let [Some(w), Some(a), Some(b)] = p.cache_bytes {
        let mib = |b: u64| b as f64 / 1_048_576.0;
        println!("   tile cache: {:.0} MiB at warm-up, {:.0} → {:.0} MiB this rate", mib(w), mib(a), mib(b));
    }
    for (c, s) in &p.classes {
        for e in &s.error_samples {
            println!("   {} error: {e}", c.name());
        }
    }
}

fn latency_json(l: Latency) -> Value {
    json!({ "p50_ms": l.p50, "p90_ms": l.p90, "p99_ms": l.p99, "max_ms": l.max })
}

fn class_json(s: &ClassStats, seconds: f64) -> Value {
    json!({
        "requests": s.count(), "per_s": s.count() as f64 / seconds, "ok": s.ok, "shed_with_retry_after": s.shed,
        "errors": s.errors, "bytes": s.bytes, "latency": latency_json(s.summary()), "error_samples": s.error_samples,
    })
}

pub fn phase_json(p: &Phase) -> Value {
    let classes: serde_json::Map<String, Value> = p.classes.iter().map(|(c, s)| (c.name().to_string(), class_json(s, p.duration_s))).collect();
    let tiles = p.tiles();
    json!({
        "multiplier": p.multiplier,
        "duration_s": p.duration_s,
        "sessions_per_s": p.sessions_per_s.iter().map(|(k, r)| (k.to_string(), json!(r))).collect::<serde_json::Map<_, _>>(),
        "loadavg_mid": p.load_mid, "loadavg_end": p.load_end,
        "rss_kb": { "warm_up": p.rss_warm_kb, "start": p.rss_start_kb, "end": p.rss_end_kb, "growth_pct_since_warm_up": p.rss_growth_pct() },
        "cache_bytes": { "warm_up": p.cache_bytes[0], "start": p.cache_bytes[1], "end": p.cache_bytes[2] },
        "classes": classes,
        "tiles": class_json(&tiles, p.duration_s),
        "goals": {
            "errors_other_than_shed": p.errors(),
            "tile_p99_ms": tiles.summary().p99, "tile_p99_goal_ms": TILE_P99_GOAL_MS,
            "rss_growth_goal_pct": RSS_GROWTH_GOAL_PCT,
        },
    })
}

/// One line a class a rate: rate class requests shed errors p50 p90 p99 max (ms).
pub fn tsv(phases: &[Phase]) -> String {
    let mut out = String::from("rate\tclass\trequests\tshed\terrors\tp50_ms\tp90_ms\tp99_ms\tmax_ms\n");
    for p in phases {
        let tiles = p.tiles();
        for (name, s) in p.classes.iter().map(|(c, s)| (c.name(), s)).chain([("tiles", &tiles)]) {
            let l = s.summary();
            out.push_str(&format!("{}\t{name}\t{}\t{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\n", p.multiplier, s.count(), s.shed, s.errors, l.p50, l.p90, l.p99, l.max));
        }
    }
    out
}
