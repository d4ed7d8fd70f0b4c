//! OGC 3D Tiles 1.1 for buildings (extruded footprints standing on the terrain) and
//! pipelines (tubes at their depth below it), generated from the store on demand.
//!
//! A layer's tiling (`Plan`) is made once and kept: every feature goes to the Web Mercator
//! tile at z15 that holds its envelope's centre, and tiles holding more than
//! `MAX_FEATURES` are split into quadrants down to z18. Content sits at those leaves;
//! the tiles above them (up to z10, then one root) only bound and refine. Bounding
//! volumes are regions that contain their children; geometric error halves per level
//! and is 0 at the leaves. Each leaf carries an east-north-up transform at its centre, so
//! float32 vertices are metres from there (sub-millimetre in Taipei).

pub mod glb;
pub mod meshes;

use crate::terrain::heights::{ElevationCache, Sampler};
use formosa_store::mercator::{tile_bounds_m, tile_size_m, to_lonlat, to_mercator};
use formosa_store::{Attributes, Feature, Geometry, LayerKind, Source, StoreError, Value};
use glb::{Column, Part, PropertyTable};
use meshes::Enu;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

pub const CONTENT_ZOOM: u8 = 15;
pub const TOP_ZOOM: u8 = 10;
pub const MAX_ZOOM: u8 = 18;
/// The most features one content tile holds (pg2b3dm caps tiles the same way).
pub const MAX_FEATURES: usize = 1000;
/// Radial segments of a pipe.
pub const PIPE_SEGMENTS: usize = 8;
/// Cover depth assumed for pipes with no depth (metres, to the crown).
pub const DEFAULT_DEPTH_M: f64 = 1.2;
/// Height given to buildings with neither height nor floors (one storey).
pub const DEFAULT_HEIGHT_M: f64 = 3.3;

type TileId = (u8, u32, u32);

#[derive(Debug, thiserror::Error)]
pub enum Tiles3dError {
    #[error("no buildings or pipelines layer named '{0}'; 3D Tiles are served for layers of those kinds")]
    UnknownLayer(String),
    #[error("tile {z}/{x}/{y} is not in the '{layer}' tileset (see its tileset.json)")]
    NoSuchTile { layer: String, z: u8, x: u32, y: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A region: west, south, east, north (radians), min and max height (ellipsoidal metres).
#[derive(Debug, Clone, Copy)]
pub struct Region([f64; 6]);

impl Region {
    fn empty() -> Self {
        Region([f64::MAX, f64::MAX, f64::MIN, f64::MIN, f64::MAX, f64::MIN])
    }
    fn add(&mut self, lon: f64, lat: f64, h_lo: f64, h_hi: f64) {
        let r = &mut self.0;
        let (x, y) = (lon.to_radians(), lat.to_radians());
        r[0] = r[0].min(x);
        r[1] = r[1].min(y);
        r[2] = r[2].max(x);
        r[3] = r[3].max(y);
        r[4] = r[4].min(h_lo);
        r[5] = r[5].max(h_hi);
    }
    fn union(&mut self, o: &Region) {
        for k in [0, 1, 4] {
            self.0[k] = self.0[k].min(o.0[k]);
        }
        for k in [2, 3, 5] {
            self.0[k] = self.0[k].max(o.0[k]);
        }
    }
    pub fn values(&self) -> [f64; 6] {
        self.0
    }
    pub fn contains(&self, o: &Region) -> bool {
        let (a, b) = (self.0, o.0);
        a[0] <= b[0] && a[1] <= b[1] && a[2] >= b[2] && a[3] >= b[3] && a[4] <= b[4] && a[5] >= b[5]
    }
}

struct Node {
    region: Region,
    ids: Vec<i64>,
    children: Vec<TileId>,
}

/// The tiling of one layer.
pub struct Plan {
    layer: String,
    kind: LayerKind,
    nodes: BTreeMap<TileId, Node>,
    roots: Vec<TileId>,
}

/// Where a feature's solid is, vertically: lowest and highest ellipsoidal height.
fn vertical_extent(f: &Feature, kind: LayerKind, sampler: &mut Sampler) -> Result<(f64, f64), StoreError> {
    Ok(match kind {
        LayerKind::Buildings => {
            let base = building_base(f, sampler)?;
            (base, base + building_height(f))
        }
        _ => {
            let r = pipe_radius(f);
            let mut lo = f64::MAX;
            let mut hi = f64::MIN;
            for c in f.geometry.coords() {
                let h = pipe_centre_height(f, c, sampler)?;
                lo = lo.min(h - r);
                hi = hi.max(h + r);
            }
            (lo, hi)
        }
    })
}

fn number(f: &Feature, name: &str) -> Option<f64> {
    match f.property(name) {
        Some(Value::Real(x)) => Some(*x),
        Some(Value::Integer(i)) => Some(*i as f64),
        _ => None,
    }
}

fn building_height(f: &Feature) -> f64 {
    number(f, "height_m").filter(|h| *h > 0.0).unwrap_or(DEFAULT_HEIGHT_M)
}

/// The lowest terrain height under the footprint's vertices: no corner floats.
fn building_base(f: &Feature, sampler: &mut Sampler) -> Result<f64, StoreError> {
    let mut base = f64::MAX;
    for c in f.geometry.coords() {
        let (mx, my) = to_mercator(c[0], c[1]);
        base = base.min(sampler.height(mx, my)?);
    }
    Ok(if base == f64::MAX { sampler.geoid_undulation_m } else { base })
}

fn pipe_radius(f: &Feature) -> f64 {
    number(f, "diameter_mm").filter(|d| *d > 0.0).unwrap_or(100.0) / 2000.0
}

/// The pipe's centre line height at a vertex: the terrain there minus the cover depth
/// (to the crown) minus the radius.
fn pipe_centre_height(f: &Feature, c: &[f64; 3], sampler: &mut Sampler) -> Result<f64, StoreError> {
    let (mx, my) = to_mercator(c[0], c[1]);
    let ground = sampler.height(mx, my)?;
    Ok(ground - number(f, "depth_m").unwrap_or(DEFAULT_DEPTH_M) - pipe_radius(f))
}

fn tile_of(lon: f64, lat: f64, z: u8) -> TileId {
    let (mx, my) = to_mercator(lon, lat);
    let size = tile_size_m(z);
    let half = formosa_store::mercator::HALF_WORLD;
    let n = (1u64 << z) as f64;
    let x = ((mx + half) / size).floor().clamp(0.0, n - 1.0) as u32;
    let y = ((half - my) / size).floor().clamp(0.0, n - 1.0) as u32;
    (z, x, y)
}

fn centre(f: &Feature) -> (f64, f64) {
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for c in f.geometry.coords() {
        lo = [lo[0].min(c[0]), lo[1].min(c[1])];
        hi = [hi[0].max(c[0]), hi[1].max(c[1])];
    }
    ((lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0)
}

/// A feature placed for tiling: its id, centre (lon, lat) and region.
type Placed = (i64, (f64, f64), Region);

impl Plan {
    /// Tiles a buildings or pipelines layer: reads every feature once.
    pub fn make(store: &dyn Source, elevation: &ElevationCache, layer: &str, geoid_undulation_m: f64) -> Result<Plan, Tiles3dError> {
        let l = store.feature_layer(layer).ok_or_else(|| Tiles3dError::UnknownLayer(layer.into()))?;
        let kind = l.info().feature_kind().filter(|k| matches!(k, LayerKind::Buildings | LayerKind::Pipelines)).ok_or_else(|| Tiles3dError::UnknownLayer(layer.into()))?;
        let world = formosa_store::Envelope { min_x: -180.0, min_y: -90.0, max_x: 180.0, max_y: 90.0 };
        let mut ids = l.query(&world);
        ids.sort_unstable();
        let mut sampler = Sampler::new(store, elevation, u8::MAX, geoid_undulation_m);
        // Per feature: its region; grouped by the z15 tile of its centre.
        let mut leaves: BTreeMap<TileId, Vec<Placed>> = BTreeMap::new();
        for chunk in ids.chunks(4096) {
            for f in l.features(chunk, Attributes::Typed)? {
                let (lo, hi) = match sampler.as_mut() {
                    Some(s) => vertical_extent(&f, kind, s)?,
                    None => flat_extent(&f, kind, geoid_undulation_m),
                };
                let mut region = Region::empty();
                for c in f.geometry.coords() {
                    region.add(c[0], c[1], lo, hi);
                }
                let c = centre(&f);
                leaves.entry(tile_of(c.0, c.1, CONTENT_ZOOM)).or_default().push((f.id, c, region));
            }
        }
        // Split crowded tiles into quadrants.
        let mut nodes: BTreeMap<TileId, Node> = BTreeMap::new();
        let mut queue: Vec<(TileId, Vec<Placed>)> = leaves.into_iter().collect();
        while let Some((id, features)) = queue.pop() {
            if features.len() > MAX_FEATURES && id.0 < MAX_ZOOM {
                let mut quads: BTreeMap<TileId, Vec<_>> = BTreeMap::new();
                for f in features {
                    quads.entry(tile_of(f.1 .0, f.1 .1, id.0 + 1)).or_default().push(f);
                }
                nodes.insert(id, Node { region: Region::empty(), ids: Vec::new(), children: quads.keys().copied().collect() });
                queue.extend(quads);
                continue;
            }
            let mut region = Region::empty();
            for f in &features {
                region.union(&f.2);
            }
            nodes.insert(id, Node { region, ids: features.iter().map(|f| f.0).collect(), children: Vec::new() });
        }
        // Ancestors up to TOP_ZOOM.
        let content_level: Vec<TileId> = nodes.keys().copied().filter(|k| k.0 == CONTENT_ZOOM).collect();
        for id in content_level {
            let mut child = id;
            while child.0 > TOP_ZOOM {
                let parent = (child.0 - 1, child.1 / 2, child.2 / 2);
                let node = nodes.entry(parent).or_insert_with(|| Node { region: Region::empty(), ids: Vec::new(), children: Vec::new() });
                if !node.children.contains(&child) {
                    node.children.push(child);
                }
                child = parent;
            }
        }
        // Regions bottom-up: every node contains its children.
        let order: Vec<TileId> = {
            let mut k: Vec<TileId> = nodes.keys().copied().collect();
            k.sort_by_key(|t| std::cmp::Reverse(t.0));
            k
        };
        for id in order {
            let children = nodes[&id].children.clone();
            let mut region = nodes[&id].region;
            for c in children {
                region.union(&nodes[&c].region);
            }
            nodes.get_mut(&id).expect("node").region = region;
        }
        let roots = nodes.keys().copied().filter(|k| k.0 == TOP_ZOOM).collect();
        Ok(Plan { layer: layer.into(), kind, nodes, roots })
    }

    pub fn feature_count(&self) -> usize {
        self.nodes.values().map(|n| n.ids.len()).sum()
    }

    /// The content tiles, deepest first.
    pub fn content_tiles(&self) -> Vec<(u8, u32, u32)> {
        self.nodes.iter().filter(|(_, n)| !n.ids.is_empty()).map(|(k, _)| *k).collect()
    }

    /// tileset.json (3D Tiles 1.1).
    pub fn tileset(&self) -> Json {
        let mut all = Region::empty();
        for r in &self.roots {
            all.union(&self.nodes[r].region);
        }
        let children: Vec<Json> = self.roots.iter().map(|id| self.tile_json(*id)).collect();
        let root_error = geometric_error(TOP_ZOOM) * 2.0;
        let region = if self.roots.is_empty() { [0.0; 6] } else { all.values() };
        json!({
            "asset": { "version": "1.1", "generator": "Formosa" },
            "geometricError": root_error * 2.0,
            "root": {
                "boundingVolume": { "region": region },
                "geometricError": root_error,
                "refine": "ADD",
                "children": children,
            },
            "extras": { "layer": self.layer, "kind": self.kind.as_str(), "features": self.feature_count() },
        })
    }

    fn tile_json(&self, id: TileId) -> Json {
        let node = &self.nodes[&id];
        let mut tile = json!({
            "boundingVolume": { "region": node.region.values() },
            "geometricError": if node.children.is_empty() { 0.0 } else { geometric_error(id.0) },
            "refine": "ADD",
        });
        if !node.ids.is_empty() {
            let (lon, lat) = tile_centre(id);
            tile["transform"] = json!(Enu::at(lon, lat).transform());
            tile["content"] = json!({ "uri": format!("{}/{}/{}.glb", id.0, id.1, id.2) });
        }
        if !node.children.is_empty() {
            let mut children = node.children.clone();
            children.sort();
            tile["children"] = Json::Array(children.into_iter().map(|c| self.tile_json(c)).collect());
        }
        tile
    }

    /// The GLB of content tile z/x/y.
    pub fn content(&self, store: &dyn Source, elevation: &ElevationCache, geoid_undulation_m: f64, id: (u8, u32, u32)) -> Result<Vec<u8>, Tiles3dError> {
        let node = self.nodes.get(&id).filter(|n| !n.ids.is_empty()).ok_or_else(|| Tiles3dError::NoSuchTile { layer: self.layer.clone(), z: id.0, x: id.1, y: id.2 })?;
        let layer = store.feature_layer(&self.layer).ok_or_else(|| Tiles3dError::UnknownLayer(self.layer.clone()))?;
        let features = layer.features(&node.ids, Attributes::Typed)?;
        let (lon0, lat0) = tile_centre(id);
        let enu = Enu::at(lon0, lat0);
        let mut sampler = Sampler::new(store, elevation, u8::MAX, geoid_undulation_m);
        let mut parts: Vec<Part> = match self.kind {
            LayerKind::Buildings => vec![Part { color: srgb(0xd9, 0xd2, 0xc3), ..Part::default() }],
            _ => UTILITIES.iter().map(|(_, c)| Part { color: srgb(c[0], c[1], c[2]), ..Part::default() }).collect(),
        };
        for (i, f) in features.iter().enumerate() {
            match self.kind {
                LayerKind::Buildings => {
                    let base = match sampler.as_mut() {
                        Some(s) => building_base(f, s)?,
                        None => geoid_undulation_m,
                    };
                    let top = base + building_height(f);
                    if let Geometry::MultiPolygon(polygons) = &f.geometry {
                        for rings in polygons {
                            let local: Vec<Vec<[f64; 2]>> = rings
                                .iter()
                                .map(|r| {
                                    r.iter()
                                        .map(|c| {
                                            let p = enu.local(c[0], c[1], 0.0);
                                            [p[0], p[1]]
                                        })
                                        .collect()
                                })
                                .collect();
                            // Heights are along local up; the frame's curvature over a
                            // tile (≤ ~1 km) is centimetres, taken up by `local`'s z below.
                            let z0 = enu.local(rings[0][0][0], rings[0][0][1], base)[2];
                            meshes::extrude(&mut parts[0], &local, z0, z0 + (top - base), i as u32);
                        }
                    }
                }
                _ => {
                    let utility = match f.property("utility") {
                        Some(Value::Text(t)) => t.as_str(),
                        _ => "other",
                    };
                    let part = UTILITIES.iter().position(|(u, _)| *u == utility).unwrap_or(UTILITIES.len() - 1);
                    let r = pipe_radius(f);
                    if let Geometry::MultiLineString(lines) = &f.geometry {
                        for line in lines {
                            let mut pts = Vec::with_capacity(line.len());
                            for c in line {
                                let h = match sampler.as_mut() {
                                    Some(s) => pipe_centre_height(f, c, s)?,
                                    None => geoid_undulation_m - number(f, "depth_m").unwrap_or(DEFAULT_DEPTH_M) - r,
                                };
                                pts.push(enu.local(c[0], c[1], h));
                            }
                            meshes::tube(&mut parts[part], &pts, r, PIPE_SEGMENTS, i as u32);
                        }
                    }
                }
            }
        }
        Ok(glb::encode(&parts, &property_table(self.kind, &features)))
    }
}

fn flat_extent(f: &Feature, kind: LayerKind, n: f64) -> (f64, f64) {
    match kind {
        LayerKind::Buildings => (n, n + building_height(f)),
        _ => {
            let centre = n - number(f, "depth_m").unwrap_or(DEFAULT_DEPTH_M) - pipe_radius(f);
            (centre - pipe_radius(f), centre + pipe_radius(f))
        }
    }
}

/// Utility types and their colours (as in styles/basemap.json); the last is the fallback.
const UTILITIES: [(&str, [u8; 3]); 6] = [
    ("water", [0x1f, 0x6f, 0xd1]),
    ("gas", [0xf2, 0xc2, 0x00]),
    ("power", [0xd7, 0x19, 0x1c]),
    ("telecom", [0xf5, 0x7c, 0x00]),
    ("sewer", [0x8b, 0x5a, 0x2b]),
    ("other", [0x80, 0x80, 0x80]),
];

/// An sRGB colour as glTF's linear base colour factor.
fn srgb(r: u8, g: u8, b: u8) -> [f32; 4] {
    let lin = |c: u8| {
        let c = c as f32 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    [lin(r), lin(g), lin(b), 1.0]
}

fn tile_centre(id: TileId) -> (f64, f64) {
    let b = tile_bounds_m(id.0, id.1, id.2);
    to_lonlat((b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0)
}

/// Geometric error of a (non-leaf) tile at zoom z: a sixteenth of its width, so it halves
/// per level (z15: 76 m, z10: 2.4 km).
pub fn geometric_error(z: u8) -> f64 {
    tile_size_m(z) / 16.0
}

/// The features' attributes as a property table: `fid` first, then the kind's columns.
fn property_table(kind: LayerKind, features: &[Feature]) -> PropertyTable {
    let mut columns = vec![("fid", Column::Int64(features.iter().map(|f| f.id).collect()))];
    for c in kind.columns() {
        let values = features.iter().map(|f| f.property(c.name).cloned().unwrap_or(Value::Null));
        let column = match c.ty {
            formosa_store::ColumnType::Real => Column::Float64(
                values
                    .map(|v| match v {
                        Value::Real(x) => x,
                        Value::Integer(i) => i as f64,
                        _ => f64::NAN,
                    })
                    .collect(),
            ),
            formosa_store::ColumnType::Integer => Column::Int64(
                values
                    .map(|v| match v {
                        Value::Integer(i) => i,
                        Value::Real(x) => x as i64,
                        _ => -1,
                    })
                    .collect(),
            ),
            formosa_store::ColumnType::Text => Column::Text(
                values
                    .map(|v| match v {
                        Value::Text(s) => s,
                        _ => String::new(),
                    })
                    .collect(),
            ),
        };
        columns.push((c.name, column));
    }
    PropertyTable { class: if kind == LayerKind::Buildings { "building" } else { "pipe" }, count: features.len(), columns }
}
