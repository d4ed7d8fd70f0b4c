//! The maintained crates doing the jobs of Formosa's five hand-written codecs, written to
//! produce the same output as Formosa's code (so the timings compare the same work), plus
//! the shared inputs. Used by `benches/codecs.rs` (timings) and `tests/codecs.rs`
//! (equal outputs, and where a crate does not serve).

use formosa_encoders::mvt::geometry::{commands, TileGeometry};
use formosa_encoders::mvt::TileFeature;
use formosa_encoders::tiles3d::glb::{Column, Part, PropertyTable};
use formosa_store::{Coord, Feature, Geometry, LayerKind, NewFeature, Value};
use serde_json::{json, Map, Value as Json};
use std::borrow::Cow;

/// A small deterministic generator (no rand dependency).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n
    }
}

/// A parcel-like ring (irregular, convex-ish) of `n` distinct vertices around (x, y),
/// closed (first == last), about 20 m across.
pub fn parcel_ring(rng: &mut Lcg, x: f64, y: f64, n: usize) -> Vec<Coord> {
    let mut ring: Vec<Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = 0.0001 * (0.7 + 0.3 * rng.next_f64());
            [x + r * a.cos(), y + r * a.sin(), 0.0]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// `count` parcels over Taipei with 5–30 vertices each (a hole in one of ten).
pub fn parcels(count: usize) -> Vec<Geometry> {
    let mut rng = Lcg(12);
    (0..count)
        .map(|i| {
            let (x, y) = (121.50 + (i % 100) as f64 * 0.0002, 25.03 + (i / 100) as f64 * 0.0002);
            let n = 5 + rng.below(26);
            let mut rings = vec![parcel_ring(&mut rng, x, y, n)];
            if i % 10 == 0 {
                let hole: Vec<Coord> = rings[0].iter().rev().map(|c| [x + (c[0] - x) * 0.3, y + (c[1] - y) * 0.3, 0.0]).collect();
                rings.push(hole);
            }
            Geometry::MultiPolygon(vec![rings])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. GeoJSON with the `geojson` crate
// ---------------------------------------------------------------------------------------

/// A client's incident body: a 12-vertex polygon, the incident columns and one extra.
pub fn incident_body() -> Vec<u8> {
    let mut rng = Lcg(7);
    let ring: Vec<Json> = parcel_ring(&mut rng, 121.5645, 25.034, 12).iter().map(|c| json!([c[0], c[1]])).collect();
    serde_json::to_vec(&json!({
        "type": "Feature",
        "geometry": { "type": "Polygon", "coordinates": [ring] },
        "properties": { "type": "flood", "severity": 4, "time": "2026-08-01T09:30:00+08:00",
            "description": "積水 30 cm，車道封閉", "reporter": "台北市消防局", "note": "現場有抽水機" }
    }))
    .unwrap()
}

/// A cadastral parcel as the store returns it (12 vertices, the six columns).
pub fn cadastral_feature() -> Feature {
    let mut rng = Lcg(9);
    Feature {
        id: 123_456,
        geometry: Geometry::MultiPolygon(vec![vec![parcel_ring(&mut rng, 121.5645, 25.034, 12)]]),
        properties: vec![
            (Cow::Borrowed("parcel_no"), Value::Text("0123-0004".into())),
            (Cow::Borrowed("section"), Value::Text("大安段三小段".into())),
            (Cow::Borrowed("county_code"), Value::Text("A".into())),
            (Cow::Borrowed("town_code"), Value::Text("A03".into())),
            (Cow::Borrowed("land_use"), Value::Text("住".into())),
            (Cow::Borrowed("area_m2"), Value::Real(412.37)),
        ],
    }
}

fn crate_position(p: &geojson::Position, at: &str) -> Result<Coord, String> {
    let n = p.as_slice();
    if n.len() < 2 || n.len() > 3 {
        return Err(format!("{at}: a position has 2 or 3 numbers, this one has {}", n.len()));
    }
    if !(-180.0..=180.0).contains(&n[0]) || !(-90.0..=90.0).contains(&n[1]) {
        return Err(format!("{at}: ({}, {}) is not a WGS84 longitude/latitude (GeoJSON is always CRS84)", n[0], n[1]));
    }
    Ok([n[0], n[1], n.get(2).copied().unwrap_or(0.0)])
}

fn crate_line(ps: &[geojson::Position], at: &str, min: usize) -> Result<Vec<Coord>, String> {
    let pts: Vec<Coord> = ps.iter().enumerate().map(|(i, p)| crate_position(p, &format!("{at}[{i}]"))).collect::<Result<_, _>>()?;
    if pts.len() < min {
        return Err(format!("{at}: needs at least {min} positions, has {}", pts.len()));
    }
    Ok(pts)
}

fn crate_polygon(rings: &[Vec<geojson::Position>], at: &str) -> Result<Vec<Vec<Coord>>, String> {
    if rings.is_empty() {
        return Err(format!("{at}: a polygon needs an exterior ring"));
    }
    rings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ring = crate_line(r, &format!("{at}[{i}]"), 4)?;
            if ring.first().map(|c| [c[0], c[1]]) != ring.last().map(|c| [c[0], c[1]]) {
                return Err(format!("{at}[{i}]: a linear ring must end where it starts"));
            }
            Ok(ring)
        })
        .collect()
}

/// The `geojson` crate's geometry as the store keeps it, with Formosa's checks (the crate
/// checks none of ranges, ring closure or minimum lengths).
pub fn crate_geometry(g: &geojson::Geometry) -> Result<Geometry, String> {
    use geojson::GeometryValue as G;
    let at = "geometry.coordinates";
    Ok(match &g.value {
        G::Point { coordinates } => Geometry::Point(crate_position(coordinates, at)?),
        G::MultiPoint { coordinates } => Geometry::MultiPoint(crate_line(coordinates, at, 1)?),
        G::LineString { coordinates } => Geometry::MultiLineString(vec![crate_line(coordinates, at, 2)?]),
        G::MultiLineString { coordinates } => {
            Geometry::MultiLineString(coordinates.iter().enumerate().map(|(i, l)| crate_line(l, &format!("{at}[{i}]"), 2)).collect::<Result<_, _>>()?)
        }
        G::Polygon { coordinates } => Geometry::MultiPolygon(vec![crate_polygon(coordinates, at)?]),
        G::MultiPolygon { coordinates } => Geometry::MultiPolygon(coordinates.iter().enumerate().map(|(i, p)| crate_polygon(p, &format!("{at}[{i}]"))).collect::<Result<_, _>>()?),
        G::GeometryCollection { .. } => return Err("geometry type GeometryCollection is not supported".into()),
    })
}

/// Body bytes → NewFeature through `geojson::Feature` (the crate's deserializer), with the
/// same checks and typed-column mapping as `formosa_encoders::geojson::parse_feature`.
pub fn crate_parse_feature(body: &[u8], kind: LayerKind) -> Result<NewFeature, String> {
    let f: geojson::Feature = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let geometry = crate_geometry(f.geometry.as_ref().ok_or("a feature needs a geometry")?)?;
    let empty = Map::new();
    let props = f.properties.as_ref().unwrap_or(&empty);
    let mut values = Vec::with_capacity(kind.columns().len());
    for c in kind.columns() {
        values.push(props.get(c.name).map(|v| formosa_encoders::geojson::parse_value(v, c)).transpose()?.unwrap_or(Value::Null));
    }
    let extra: Map<String, Json> = props.iter().filter(|(k, _)| !kind.columns().iter().any(|c| c.name == k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(NewFeature { geometry, values, extra })
}

/// Body bytes → NewFeature the way the server does it (live.rs: serde_json, then
/// `formosa_encoders::geojson::parse_feature`).
pub fn own_parse_feature(body: &[u8], kind: LayerKind) -> Result<NewFeature, String> {
    let j: Json = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    formosa_encoders::geojson::parse_feature(&j, kind)
}

/// Store feature → GeoJSON bytes as the server writes it: `formosa_encoders::geojson`
/// builds the `geojson` crate's types, serialised straight to bytes.
pub fn crate_write_feature(f: &Feature, with_z: bool) -> Vec<u8> {
    serde_json::to_vec(&formosa_encoders::geojson::feature(f, with_z, None)).unwrap()
}

/// The writer the server had before: a serde_json tree built with `json!`, then
/// serialised (kept here as the measured alternative).
pub fn tree_write_feature(f: &Feature, with_z: bool) -> Vec<u8> {
    let position = |c: &Coord| if with_z { json!([c[0], c[1], c[2]]) } else { json!([c[0], c[1]]) };
    let line = |l: &Vec<Coord>| Json::Array(l.iter().map(position).collect());
    let geometry = match &f.geometry {
        Geometry::Point(c) => json!({ "type": "Point", "coordinates": position(c) }),
        Geometry::MultiPoint(cs) => json!({ "type": "MultiPoint", "coordinates": cs.iter().map(position).collect::<Vec<_>>() }),
        Geometry::MultiLineString(ls) => json!({ "type": "MultiLineString", "coordinates": ls.iter().map(line).collect::<Vec<_>>() }),
        Geometry::MultiPolygon(ps) => json!({ "type": "MultiPolygon", "coordinates": ps.iter().map(|rings| rings.iter().map(line).collect::<Vec<_>>()).collect::<Vec<_>>() }),
    };
    let props: Map<String, Json> = f.properties.iter().map(|(k, v)| (k.to_string(), formosa_encoders::geojson::value(v))).collect();
    serde_json::to_vec(&json!({ "type": "Feature", "id": f.id, "geometry": geometry, "properties": props })).unwrap()
}

// ---------------------------------------------------------------------------------------
// 2. GeoPackage blobs with geozero
// ---------------------------------------------------------------------------------------

/// A geozero processor that builds `formosa_store::Geometry` (the store's own output), with
/// z when the blob has it: the same work as `geometry_blob::decode`.
#[derive(Default)]
pub struct ToStoreGeometry {
    pub geom: Option<Geometry>,
    pub has_z: bool,
    coords: Vec<Coord>,
    rings: Vec<Vec<Coord>>,
    lines: Vec<Vec<Coord>>,
    polys: Vec<Vec<Vec<Coord>>>,
    in_polygon: bool,
}

impl geozero::GeomProcessor for ToStoreGeometry {
    fn dimensions(&self) -> geozero::CoordDimensions {
        geozero::CoordDimensions::xyz()
    }
    fn coordinate(&mut self, x: f64, y: f64, z: Option<f64>, _m: Option<f64>, _t: Option<f64>, _tm: Option<u64>, _idx: usize) -> geozero::error::Result<()> {
        self.has_z |= z.is_some();
        self.coords.push([x, y, z.unwrap_or(0.0)]);
        Ok(())
    }
    fn point_begin(&mut self, _idx: usize) -> geozero::error::Result<()> {
        self.coords = Vec::with_capacity(1);
        Ok(())
    }
    fn point_end(&mut self, _idx: usize) -> geozero::error::Result<()> {
        self.geom = self.coords.pop().map(Geometry::Point);
        Ok(())
    }
    fn multipoint_begin(&mut self, size: usize, _idx: usize) -> geozero::error::Result<()> {
        self.coords = Vec::with_capacity(size);
        Ok(())
    }
    fn multipoint_end(&mut self, _idx: usize) -> geozero::error::Result<()> {
        self.geom = Some(Geometry::MultiPoint(std::mem::take(&mut self.coords)));
        Ok(())
    }
    fn linestring_begin(&mut self, _tagged: bool, size: usize, _idx: usize) -> geozero::error::Result<()> {
        self.coords = Vec::with_capacity(size);
        Ok(())
    }
    fn linestring_end(&mut self, tagged: bool, _idx: usize) -> geozero::error::Result<()> {
        let line = std::mem::take(&mut self.coords);
        if self.in_polygon {
            self.rings.push(line);
        } else if tagged {
            self.geom = Some(Geometry::MultiLineString(vec![line]));
        } else {
            self.lines.push(line);
        }
        Ok(())
    }
    fn multilinestring_begin(&mut self, size: usize, _idx: usize) -> geozero::error::Result<()> {
        self.lines = Vec::with_capacity(size);
        Ok(())
    }
    fn multilinestring_end(&mut self, _idx: usize) -> geozero::error::Result<()> {
        self.geom = Some(Geometry::MultiLineString(std::mem::take(&mut self.lines)));
        Ok(())
    }
    fn polygon_begin(&mut self, _tagged: bool, size: usize, _idx: usize) -> geozero::error::Result<()> {
        self.rings = Vec::with_capacity(size);
        self.in_polygon = true;
        Ok(())
    }
    fn polygon_end(&mut self, tagged: bool, _idx: usize) -> geozero::error::Result<()> {
        self.in_polygon = false;
        let rings = std::mem::take(&mut self.rings);
        if tagged {
            self.geom = Some(Geometry::MultiPolygon(vec![rings]));
        } else {
            self.polys.push(rings);
        }
        Ok(())
    }
    fn multipolygon_begin(&mut self, size: usize, _idx: usize) -> geozero::error::Result<()> {
        self.polys = Vec::with_capacity(size);
        Ok(())
    }
    fn multipolygon_end(&mut self, _idx: usize) -> geozero::error::Result<()> {
        self.geom = Some(Geometry::MultiPolygon(std::mem::take(&mut self.polys)));
        Ok(())
    }
}

/// A GeoPackage blob → store geometry through geozero's GeoPackage WKB reader.
pub fn geozero_decode(blob: &[u8]) -> Result<(Geometry, bool), geozero::error::GeozeroError> {
    use geozero::GeozeroGeometry;
    let mut p = ToStoreGeometry::default();
    geozero::wkb::GpkgWkb(blob).process_geom(&mut p)?;
    let g = p.geom.ok_or(geozero::error::GeozeroError::GeometryFormat)?;
    Ok((g, p.has_z))
}

/// `geometry_blob::decode` with one change, to test why geozero measured faster: every
/// Vec is allocated once at the size the blob gives (bounded by the bytes left, as the
/// original's `count` does), and multi members are pushed straight into their collection
/// instead of going through a one-element `Geometry`. Header and type parsing as the
/// original (GeoPackage header, ISO and EWKB-flagged codes, z and m; the members of a multi
/// are single geometries, as ISO WKB has them). A copy for the
/// measurement only; not used by the server.
pub mod prealloc {
    use formosa_store::{Coord, Geometry};

    pub struct R<'a> {
        buf: &'a [u8],
        pos: usize,
        le: bool,
    }

    impl R<'_> {
        fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
            let b = self.buf.get(self.pos..self.pos + N)?;
            self.pos += N;
            b.try_into().ok()
        }
        fn u32(&mut self) -> Option<u32> {
            let b = self.bytes::<4>()?;
            Some(if self.le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
        }
        fn f64(&mut self) -> Option<f64> {
            let b = self.bytes::<8>()?;
            Some(if self.le { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
        }
        fn count(&mut self, min_item_bytes: usize) -> Option<usize> {
            let n = self.u32()? as usize;
            (n.saturating_mul(min_item_bytes) <= self.buf.len().saturating_sub(self.pos)).then_some(n)
        }
        fn ty(&mut self) -> Option<(u32, bool, bool)> {
            self.le = self.bytes::<1>()?[0] == 1;
            let raw = self.u32()?;
            let code = raw & 0x0FFF_FFFF;
            let (z, m) = (raw & 0x8000_0000 != 0 || matches!(code / 1000, 1 | 3), raw & 0x4000_0000 != 0 || matches!(code / 1000, 2 | 3));
            (code / 1000 <= 3).then_some((code % 1000, z, m))
        }
        fn coord(&mut self, z: bool, m: bool) -> Option<Coord> {
            let (x, y) = (self.f64()?, self.f64()?);
            let zv = if z { self.f64()? } else { 0.0 };
            if m {
                self.f64()?;
            }
            Some([x, y, zv])
        }
        fn seq(&mut self, z: bool, m: bool) -> Option<Vec<Coord>> {
            let n = self.count(16)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(self.coord(z, m)?);
            }
            Some(v)
        }
        fn rings(&mut self, z: bool, m: bool) -> Option<Vec<Vec<Coord>>> {
            let n = self.count(4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(self.seq(z, m)?);
            }
            Some(v)
        }
    }

    pub fn decode(blob: &[u8]) -> Option<(Geometry, bool)> {
        if blob.len() < 8 || &blob[0..2] != b"GP" {
            return None;
        }
        let n = match (blob[3] >> 1) & 0x07 {
            0 => 0,
            1 => 4,
            2 | 3 => 6,
            4 => 8,
            _ => return None,
        };
        let mut r = R { buf: blob, pos: 8 + n * 8, le: true };
        let (base, z, m) = r.ty()?;
        let g = match base {
            1 => Geometry::Point(r.coord(z, m)?),
            2 => Geometry::MultiLineString(vec![r.seq(z, m)?]),
            3 => Geometry::MultiPolygon(vec![r.rings(z, m)?]),
            4..=6 => {
                let n = r.count(5)?;
                let mut points = Vec::new();
                let mut lines = Vec::new();
                let mut polys = Vec::new();
                match base {
                    4 => points.reserve(n),
                    5 => lines.reserve(n),
                    _ => polys.reserve(n),
                }
                let mut has_z = z;
                for _ in 0..n {
                    let (t, z, m) = r.ty()?;
                    has_z |= z;
                    match t {
                        1 => points.push(r.coord(z, m)?),
                        2 => lines.push(r.seq(z, m)?),
                        3 => polys.push(r.rings(z, m)?),
                        _ => return None,
                    }
                }
                let g = match base {
                    4 => Geometry::MultiPoint(points),
                    5 => Geometry::MultiLineString(lines),
                    _ => Geometry::MultiPolygon(polys),
                };
                return Some((g, has_z));
            }
            _ => return None,
        };
        Some((g, z))
    }
}

// ---------------------------------------------------------------------------------------
// 3. MVT layers with prost (vector_tile.proto 2.1 as hand-written prost messages)
// ---------------------------------------------------------------------------------------

pub mod vector_tile {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tile {
        #[prost(message, repeated, tag = "3")]
        pub layers: Vec<Layer>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Layer {
        #[prost(uint32, required, tag = "15")]
        pub version: u32,
        #[prost(string, required, tag = "1")]
        pub name: String,
        #[prost(message, repeated, tag = "2")]
        pub features: Vec<Feature>,
        #[prost(string, repeated, tag = "3")]
        pub keys: Vec<String>,
        #[prost(message, repeated, tag = "4")]
        pub values: Vec<Value>,
        #[prost(uint32, optional, tag = "5")]
        pub extent: Option<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Feature {
        #[prost(uint64, optional, tag = "1")]
        pub id: Option<u64>,
        #[prost(uint32, repeated, packed = "true", tag = "2")]
        pub tags: Vec<u32>,
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(uint32, repeated, packed = "true", tag = "4")]
        pub geometry: Vec<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(string, optional, tag = "1")]
        pub string_value: Option<String>,
        #[prost(float, optional, tag = "2")]
        pub float_value: Option<f32>,
        #[prost(double, optional, tag = "3")]
        pub double_value: Option<f64>,
        #[prost(int64, optional, tag = "4")]
        pub int_value: Option<i64>,
        #[prost(uint64, optional, tag = "5")]
        pub uint_value: Option<u64>,
        #[prost(sint64, optional, tag = "6")]
        pub sint_value: Option<i64>,
        #[prost(bool, optional, tag = "7")]
        pub bool_value: Option<bool>,
    }
}

/// One feature's input to both layer encoders.
pub struct MvtInput {
    pub id: u64,
    pub geometry: TileGeometry,
    pub properties: Vec<(Cow<'static, str>, Value)>,
}

/// `n` cadastral polygons in tile space (8–12-vertex rings, a hole in one of ten) with
/// the six cadastral attributes, values repeating as they do in a real tile.
pub fn mvt_inputs(n: usize) -> Vec<MvtInput> {
    let mut rng = Lcg(3);
    let uses = ["住", "商", "工", "農", "道", "水", "公", "其他"];
    (0..n)
        .map(|i| {
            let (cx, cy) = (40.0 + (i % 45) as f64 * 90.0, 40.0 + (i / 45) as f64 * 90.0);
            let k = 8 + rng.below(5);
            let ring = |scale: f64, rng: &mut Lcg, rev: bool| {
                let mut r: Vec<[i32; 2]> = (0..k)
                    .map(|j| {
                        let a = j as f64 / k as f64 * std::f64::consts::TAU * if rev { -1.0 } else { 1.0 };
                        let rad = scale * (30.0 + 10.0 * rng.next_f64());
                        [(cx + rad * a.cos()).round() as i32, (cy + rad * a.sin()).round() as i32]
                    })
                    .collect();
                r.dedup();
                r
            };
            let mut rings = vec![ring(1.0, &mut rng, false)];
            if i % 10 == 0 {
                rings.push(ring(0.3, &mut rng, true));
            }
            MvtInput {
                id: 1_000_000 + i as u64,
                geometry: TileGeometry::Polygons(rings),
                properties: vec![
                    (Cow::Borrowed("parcel_no"), Value::Text(format!("{:04}-{:04}", i / 7, i % 7))),
                    (Cow::Borrowed("section"), Value::Text(format!("第{}段", rng.below(20)))),
                    (Cow::Borrowed("county_code"), Value::Text(if rng.below(4) == 0 { "F".into() } else { "A".into() })),
                    (Cow::Borrowed("town_code"), Value::Text(format!("A{:02}", rng.below(12)))),
                    (Cow::Borrowed("land_use"), Value::Text(uses[rng.below(uses.len())].into())),
                    (Cow::Borrowed("area_m2"), if i % 50 == 0 { Value::Null } else { Value::Real((rng.next_f64() * 2000.0 * 100.0).round() / 100.0) }),
                ],
            }
        })
        .collect()
}

/// The layer encoded by Formosa's `LayerBuilder` (a whole tile holding just this layer).
pub fn own_layer(name: &str, input: &[MvtInput]) -> Vec<u8> {
    let mut b = formosa_encoders::mvt::LayerBuilder::new(name);
    for f in input {
        b.add(TileFeature { id: f.id, geometry: f.geometry.clone(), properties: &f.properties });
    }
    let mut tile = Vec::new();
    b.finish_into(&mut tile);
    tile
}

#[derive(PartialEq, Eq, Hash)]
enum ValueKey {
    Text(String),
    Real(u64),
    Int(i64),
}

/// The same layer with prost: the same key/value dedup (FxHash, as LayerBuilder), the
/// same value encodings (uint/sint/double/string), the same geometry commands.
pub fn prost_layer(name: &str, input: &[MvtInput]) -> Vec<u8> {
    use prost::Message;
    use rustc_hash::FxHashMap;
    let mut keys: Vec<String> = Vec::new();
    let mut key_index: FxHashMap<String, u32> = FxHashMap::default();
    let mut values: Vec<vector_tile::Value> = Vec::new();
    let mut value_index: FxHashMap<ValueKey, u32> = FxHashMap::default();
    let mut features = Vec::with_capacity(input.len());
    for f in input {
        let mut tags = Vec::with_capacity(f.properties.len() * 2);
        for (k, v) in &f.properties {
            let (vk, msg) = match v {
                Value::Null => continue,
                Value::Text(s) => (ValueKey::Text(s.clone()), vector_tile::Value { string_value: Some(s.clone()), ..Default::default() }),
                Value::Real(r) => (ValueKey::Real(r.to_bits()), vector_tile::Value { double_value: Some(*r), ..Default::default() }),
                Value::Integer(i) if *i < 0 => (ValueKey::Int(*i), vector_tile::Value { sint_value: Some(*i), ..Default::default() }),
                Value::Integer(i) => (ValueKey::Int(*i), vector_tile::Value { uint_value: Some(*i as u64), ..Default::default() }),
            };
            let vi = *value_index.entry(vk).or_insert_with(|| {
                values.push(msg);
                (values.len() - 1) as u32
            });
            let ki = match key_index.get(k.as_ref()) {
                Some(i) => *i,
                None => {
                    keys.push(k.to_string());
                    key_index.insert(k.to_string(), (keys.len() - 1) as u32);
                    (keys.len() - 1) as u32
                }
            };
            tags.push(ki);
            tags.push(vi);
        }
        features.push(vector_tile::Feature { id: Some(f.id), tags, r#type: Some(f.geometry.mvt_type() as i32), geometry: commands(&f.geometry) });
    }
    let tile = vector_tile::Tile { layers: vec![vector_tile::Layer { version: 2, name: name.to_string(), features, keys, values, extent: Some(formosa_encoders::mvt::EXTENT) }] };
    tile.encode_to_vec()
}

// ---------------------------------------------------------------------------------------
// 4. GLB with gltf-json
// ---------------------------------------------------------------------------------------

/// A typical buildings content tile: `n` extruded footprints (6–10 vertices, 3–40 m tall)
/// in one part, and the buildings property table.
pub fn building_tile(n: usize) -> (Vec<Part>, PropertyTable) {
    let mut rng = Lcg(5);
    let mut part = Part { color: [0.69, 0.64, 0.55, 1.0], ..Part::default() };
    let (mut heights, mut floors, mut uses, mut structures, mut names, mut fids) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let (cx, cy) = ((i % 20) as f64 * 30.0 - 300.0, (i / 20) as f64 * 30.0 - 300.0);
        let k = 6 + rng.below(5);
        let mut ring: Vec<[f64; 2]> = (0..k)
            .map(|j| {
                let a = j as f64 / k as f64 * std::f64::consts::TAU;
                let r = 8.0 + 4.0 * rng.next_f64();
                [cx + r * a.cos(), cy + r * a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        let h = 3.0 + (rng.next_f64() * 37.0).round();
        formosa_encoders::tiles3d::meshes::extrude(&mut part, &[ring], 20.0, 20.0 + h, i as u32);
        fids.push(500_000 + i as i64);
        heights.push(h);
        floors.push((h / 3.2).floor() as i64);
        uses.push(["住宅", "商業", "辦公", "工業"][rng.below(4)].to_string());
        structures.push(["RC", "SRC", "磚造"][rng.below(3)].to_string());
        names.push(if i % 7 == 0 { format!("大樓{i}") } else { String::new() });
    }
    let table = PropertyTable {
        class: "building",
        count: n,
        columns: vec![
            ("fid", Column::Int64(fids)),
            ("height_m", Column::Float64(heights)),
            ("floors", Column::Int64(floors)),
            ("use", Column::Text(uses)),
            ("structure", Column::Text(structures)),
            ("name", Column::Text(names)),
        ],
    };
    (vec![part], table)
}

struct Bin {
    data: Vec<u8>,
    views: Vec<gltf_json::buffer::View>,
}

impl Bin {
    fn view(&mut self, bytes: &[u8], target: Option<gltf_json::buffer::Target>) -> gltf_json::Index<gltf_json::buffer::View> {
        self.data.resize(self.data.len().next_multiple_of(8), 0);
        let v = gltf_json::buffer::View {
            buffer: gltf_json::Index::new(0),
            byte_length: (bytes.len() as u64).into(),
            byte_offset: Some((self.data.len() as u64).into()),
            byte_stride: None,
            target: target.map(gltf_json::validation::Checked::Valid),
            extensions: None,
            extras: Default::default(),
        };
        self.data.extend_from_slice(bytes);
        gltf_json::Index::push(&mut self.views, v)
    }
}

fn f32_bytes(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(f32::to_le_bytes).collect()
}

/// The same GLB as `formosa_encoders::tiles3d::glb::encode`, its JSON built with
/// gltf-json's types. EXT_mesh_features and EXT_structural_metadata have no types in
/// gltf-json: they go in through its untyped `others` maps (serde_json values).
pub fn gltf_json_glb(parts: &[Part], table: &PropertyTable) -> Vec<u8> {
    let (root, bin) = gltf_json_document(parts, table);
    glb_container(root.to_vec().expect("JSON"), &bin)
}

/// The glTF document (gltf-json types) and the BIN chunk of that GLB.
pub fn gltf_json_document(parts: &[Part], table: &PropertyTable) -> (gltf_json::Root, Vec<u8>) {
    use gltf_json::accessor::{Accessor, ComponentType, GenericComponentType, Type};
    use gltf_json::buffer::Target;
    use gltf_json::mesh::{Mode, Primitive, Semantic};
    use gltf_json::validation::Checked::Valid;
    use gltf_json::Index;
    let mut root = gltf_json::Root::default();
    let mut bin = Bin { data: Vec::new(), views: Vec::new() };
    let accessor = |view: Index<gltf_json::buffer::View>, ct: ComponentType, count: usize, ty: Type, min: Option<Json>, max: Option<Json>| Accessor {
        buffer_view: Some(view),
        byte_offset: None,
        count: (count as u64).into(),
        component_type: Valid(GenericComponentType(ct)),
        extensions: None,
        extras: Default::default(),
        type_: Valid(ty),
        min,
        max,
        normalized: false,
        sparse: None,
    };
    let mut primitives = Vec::new();
    for part in parts.iter().filter(|p| !p.indices.is_empty()) {
        let (mut lo, mut hi) = ([f32::MAX; 3], [f32::MIN; 3]);
        for p in &part.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let n = part.positions.len();
        let pos = bin.view(&f32_bytes(part.positions.iter().flatten().copied()), Some(Target::ArrayBuffer));
        let pos = Index::push(&mut root.accessors, accessor(pos, ComponentType::F32, n, Type::Vec3, Some(json!(lo)), Some(json!(hi))));
        let nor = bin.view(&f32_bytes(part.normals.iter().flatten().copied()), Some(Target::ArrayBuffer));
        let nor = Index::push(&mut root.accessors, accessor(nor, ComponentType::F32, n, Type::Vec3, None, None));
        let fid = bin.view(&f32_bytes(part.feature_ids.iter().copied()), Some(Target::ArrayBuffer));
        let fid = Index::push(&mut root.accessors, accessor(fid, ComponentType::F32, n, Type::Scalar, None, None));
        let idx_bytes: Vec<u8> = part.indices.iter().flat_map(|i| i.to_le_bytes()).collect();
        let idx = bin.view(&idx_bytes, Some(Target::ElementArrayBuffer));
        let idx = Index::push(&mut root.accessors, accessor(idx, ComponentType::U32, part.indices.len(), Type::Scalar, None, None));
        let material = Index::push(
            &mut root.materials,
            gltf_json::Material {
                pbr_metallic_roughness: gltf_json::material::PbrMetallicRoughness {
                    base_color_factor: gltf_json::material::PbrBaseColorFactor(part.color),
                    metallic_factor: gltf_json::material::StrengthFactor(0.0),
                    roughness_factor: gltf_json::material::StrengthFactor(0.9),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        let mut ext = gltf_json::extensions::mesh::Primitive::default();
        ext.others.insert("EXT_mesh_features".into(), json!({ "featureIds": [{ "featureCount": table.count, "attribute": 0, "propertyTable": 0 }] }));
        primitives.push(Primitive {
            attributes: [(Valid(Semantic::Positions), pos), (Valid(Semantic::Normals), nor), (Valid(Semantic::Extras("FEATURE_ID_0".into())), fid)].into_iter().collect(),
            extensions: Some(ext),
            extras: Default::default(),
            indices: Some(idx),
            material: Some(material),
            mode: Valid(Mode::Triangles),
            targets: None,
        });
    }
    let mut schema_props = Map::new();
    let mut table_props = Map::new();
    for (name, column) in &table.columns {
        match column {
            Column::Float64(v) => {
                let view = bin.view(&v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(), None);
                schema_props.insert(name.to_string(), json!({ "type": "SCALAR", "componentType": "FLOAT64" }));
                table_props.insert(name.to_string(), json!({ "values": view }));
            }
            Column::Int64(v) => {
                let view = bin.view(&v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(), None);
                schema_props.insert(name.to_string(), json!({ "type": "SCALAR", "componentType": "INT64" }));
                table_props.insert(name.to_string(), json!({ "values": view }));
            }
            Column::Text(v) => {
                let mut bytes = Vec::new();
                let mut offsets = Vec::with_capacity(v.len() + 1);
                for s in v {
                    offsets.push(bytes.len() as u32);
                    bytes.extend_from_slice(s.as_bytes());
                }
                offsets.push(bytes.len() as u32);
                if bytes.is_empty() {
                    bytes.push(0);
                }
                let values = bin.view(&bytes, None);
                let offsets = bin.view(&offsets.iter().flat_map(|o| o.to_le_bytes()).collect::<Vec<_>>(), None);
                schema_props.insert(name.to_string(), json!({ "type": "STRING" }));
                table_props.insert(name.to_string(), json!({ "values": values, "stringOffsets": offsets, "stringOffsetType": "UINT32" }));
            }
        }
    }
    bin.data.resize(bin.data.len().next_multiple_of(8), 0);
    root.asset = gltf_json::Asset { version: "2.0".into(), generator: Some("Formosa".into()), ..Default::default() };
    root.extensions_used = vec!["EXT_mesh_features".into(), "EXT_structural_metadata".into()];
    let mut ext = gltf_json::extensions::root::Root::default();
    ext.others.insert(
        "EXT_structural_metadata".into(),
        json!({
            "schema": { "id": "formosa", "classes": { table.class: { "properties": schema_props } } },
            "propertyTables": [{ "class": table.class, "count": table.count, "properties": table_props }],
        }),
    );
    root.extensions = Some(ext);
    let mesh = Index::push(&mut root.meshes, gltf_json::Mesh { extensions: None, extras: Default::default(), primitives, weights: None });
    let node = Index::push(&mut root.nodes, gltf_json::Node { mesh: Some(mesh), ..Default::default() });
    root.scene = Some(Index::push(&mut root.scenes, gltf_json::Scene { extensions: None, extras: Default::default(), nodes: vec![node] }));
    root.buffers.push(gltf_json::Buffer { byte_length: (bin.data.len() as u64).into(), uri: None, extensions: None, extras: Default::default() });
    root.buffer_views = bin.views;
    (root, bin.data)
}

/// The GLB container (glTF 2.0 §4.4) around a JSON chunk and a BIN chunk.
pub fn glb_container(mut json_bytes: Vec<u8>, bin: &[u8]) -> Vec<u8> {
    json_bytes.resize(json_bytes.len().next_multiple_of(4), b' ');
    let total = 12 + 8 + json_bytes.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(bin);
    out
}

/// A GLB's JSON chunk and BIN chunk.
pub fn glb_chunks(glb: &[u8]) -> (Json, &[u8]) {
    let json_len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    let json: Json = serde_json::from_slice(&glb[20..20 + json_len]).unwrap();
    (json, &glb[20 + json_len + 8..])
}

// ---------------------------------------------------------------------------------------
// 5. TWD97 TM2 with GDAL (PROJ 9 underneath)
// ---------------------------------------------------------------------------------------

/// `n` lon/lat points over Taiwan's main island (TM2 zone 121°E: 119.5–122.5°E, 21.8–25.4°N).
pub fn taiwan_points(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Lcg(11);
    (0..n).map(|_| (119.5 + 3.0 * rng.next_f64(), 21.8 + 3.6 * rng.next_f64())).unzip()
}

/// EPSG:4326 (lon/lat order) → EPSG:3826 through GDAL's OGRCoordinateTransformation.
pub fn gdal_to_tm2() -> gdal::spatial_ref::CoordTransform {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let mut wgs84 = SpatialRef::from_epsg(4326).unwrap();
    wgs84.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut tm2 = SpatialRef::from_epsg(3826).unwrap();
    tm2.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&wgs84, &tm2).unwrap()
}

/// Projects with GDAL into fresh buffers (as a caller holding lon/lat would).
pub fn gdal_project(ct: &gdal::spatial_ref::CoordTransform, lon: &[f64], lat: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut x, mut y, mut z) = (lon.to_vec(), lat.to_vec(), vec![0.0; lon.len()]);
    ct.transform_coords(&mut x, &mut y, &mut z).unwrap();
    (x, y)
}

/// Projects with GDAL one point per call, the shape of `MapCrs::forward(lon, lat)` as the
/// renderer calls it (`MapView::pixel`, per vertex).
pub fn gdal_project_each(ct: &gdal::spatial_ref::CoordTransform, lon: &[f64], lat: &[f64]) -> (Vec<f64>, Vec<f64>) {
    lon.iter()
        .zip(lat)
        .map(|(lo, la)| {
            let (mut x, mut y, mut z) = ([*lo], [*la], [0.0]);
            ct.transform_coords(&mut x, &mut y, &mut z).unwrap();
            (x[0], y[0])
        })
        .unzip()
}

/// Projects with Formosa's analytic TM2 into fresh buffers.
pub fn own_project(lon: &[f64], lat: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let crs = formosa_encoders::render::crs::MapCrs::Tm2 { epsg: 3826 };
    lon.iter().zip(lat).map(|(lo, la)| crs.forward(*lo, *la)).unzip()
}
