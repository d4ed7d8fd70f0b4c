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
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn formosa(store: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_formosa"))
        .arg("--store")
        .arg(store)
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
    out.lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap_or_else(|| panic!("no feature count in:\n{out}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs SQL through GDAL and returns the values of the first column, in order.
pub fn ogr_sql(path: &str, sql: &str) -> Vec<String> {
    let out = tool("ogrinfo", &["-ro", "-q", path, "-sql", sql]);
    out.lines()
        .filter_map(|l| l.trim().split_once(" = ").map(|(_, v)| v.to_string()))
        .collect()
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
