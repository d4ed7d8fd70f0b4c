//! The workspace's rooms and the arrows between them (docs/ARCHITECTURE.md), checked on
//! the sources and on cargo's dependency tree, so a shortcut shows up as a failing test:
//! - no module of the server, the encoders or the store imports in a circle;
//! - handlers never import each other (only the router names them);
//! - the encoders depend on no HTTP or async runtime crate;
//! - only the CLI's `main.rs` names the GeoPackage backend; encoders and the server see
//!   the store traits alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, as (module path, source without its test module).
fn modules(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            out.insert(parts.join("::"), code);
        }
    }
    out
}

/// The module a `crate::a::b::c` path names: its longest prefix that is a module.
fn resolve<'a>(mods: &'a BTreeMap<String, String>, path: &str) -> Option<&'a str> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len()).rev().find_map(|i| mods.get_key_value(&segs[..i].join("::")).map(|(k, _)| k.as_str()))
}

/// Module → the modules of the same crate it refers to (`crate::…` and `super::…`).
fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (m, code) in mods {
        let mut to = BTreeSet::new();
        for (prefix, base) in [("crate::", String::new()), ("super::", m.rsplit_once("::").map_or(String::new(), |(p, _)| format!("{p}::")))] {
            for (i, _) in code.match_indices(prefix) {
                let rest = &code[i + prefix.len()..];
                let path: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
                if let Some(t) = resolve(mods, &format!("{base}{}", path.trim_end_matches(':'))) {
                    // A module may name its own children (`crate::render::crs` from render).
                    if t != m && !t.starts_with(&format!("{m}::")) && !m.starts_with(&format!("{t}::")) {
                        to.insert(t.to_string());
                    }
                }
            }
        }
        out.insert(m.clone(), to);
    }
    out
}

/// A cycle among the modules, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(v: &str, edges: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == v) {
            return Some(path[i..].to_vec());
        }
        if done.contains(v) {
            return None;
        }
        path.push(v.to_string());
        for w in &edges[v] {
            if let Some(c) = visit(w, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(v.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|v| visit(v, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_in_a_circle() {
    for krate in ["tile-server", "encoders", "store", "importers"] {
        let mods = modules(&repo().join(krate).join("src"));
        assert!(mods.len() > 3, "{krate}: modules found");
        assert_eq!(cycle(&edges(&mods)), None, "{krate} has modules importing each other in a circle");
    }
}

#[test]
fn handlers_never_import_each_other() {
    let mods = modules(&repo().join("tile-server/src"));
    let edges = edges(&mods);
    let handlers: Vec<&String> = mods.keys().filter(|m| m.starts_with("handlers::")).collect();
    assert!(handlers.len() >= 8, "{handlers:?}");
    for h in &handlers {
        let reached: Vec<&String> = edges[*h].iter().filter(|t| t.starts_with("handlers")).collect();
        assert!(reached.is_empty(), "{h} imports {reached:?}");
    }
    for (m, to) in &edges {
        if !m.starts_with("handlers") && m != "server" {
            assert!(!to.iter().any(|t| t.starts_with("handlers")), "{m} names a handler; only the router (server.rs) may");
        }
    }
}

#[test]
fn encoders_depend_on_no_http_or_async_runtime() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", "formosa-encoders", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(repo())
        .output()
        .expect("cargo tree");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("formosa-store ")), "the tree lists the encoders' dependencies:\n{tree}");
    for banned in ["axum ", "tokio ", "tower ", "tower-http ", "hyper "] {
        assert!(!tree.lines().any(|l| l.starts_with(banned)), "formosa-encoders depends on {banned}:\n{tree}");
    }
}

#[test]
fn only_the_cli_main_names_the_geopackage_backend() {
    for (krate, allowed) in [("encoders", None), ("tile-server", None), ("importers", None), ("cli", Some("main"))] {
        for (m, code) in modules(&repo().join(krate).join("src")) {
            let names = code.contains("GpkgStore") || code.contains("formosa_store::gpkg");
            assert!(!names || allowed == Some(m.as_str()), "{krate}/{m} names the GeoPackage backend; it should see the store traits only");
        }
    }
    let main = std::fs::read_to_string(repo().join("cli/src/main.rs")).unwrap();
    assert!(main.contains("GpkgStore::open"), "the CLI opens the store");
}
