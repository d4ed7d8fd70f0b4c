//! The base map's own layers over the fixture city, each in the format an agency would
//! deliver it:
//! - `roads/roads.shp`: the street network's centrelines, one feature per segment between
//!   crossings, in EPSG:3826 with a cp950 DBF (道路名稱, 道路等級, 路寬, 單行道, 橋梁,
//!   隧道, 高程層), like a county's road centreline file; arterials named after the real
//!   roads of 信義區, lanes numbered off them (松仁路100巷), an elevated expressway over
//!   one avenue, bridges where the streets cross the creek;
//! - `water/water.geojson`: a creek (四分溪) along the city's south edge as a line, and a
//!   pond in a park as a polygon;
//! - `railways/railways.shp`: an MRT line under the first east–west avenue (in tunnel),
//!   cp950 like the roads;
//! - `landmarks/pois.geojson`: schools, offices, police, fire stations and parks where
//!   the cadastre zones them, a hospital and a temple among the houses, the MRT stations;
//! - `shelters/shelters.geojson`: the schools (indoor) and parks (outdoor) as disaster
//!   shelters, with the field names of the national shelter open data (避難收容處所名稱,
//!   預計收容人數, 避難收容處所地址, 室內室外, 適用災害類別).
//!
//! Deterministic like the rest: names and numbers come from the grid lines' indices
//! and the seed's streams.

use std::path::Path;

use gdal::spatial_ref::CoordTransform;
use gdal::vector::{LayerOptions, OGRwkbGeometryType};
use serde_json::{json, Value};

use crate::cadastral::{transform_pts, DBF_DATE};
use crate::city::{Block, Grid, Zone, SMALL_I, SMALL_J};
use crate::gdalio::{self, integer, real, string, FeatureWriter, Field};
use crate::geom::{Geom, Pt};
use crate::rng::Rng;
use crate::{Error, Result};

const T_ROAD: i64 = 30;
const T_POI: i64 = 31;

/// North–south roads: the arterials (every fourth line, 40 m) and the streets between.
const NS_ARTERIALS: &[&str] = &["基隆路一段", "光復南路", "松仁路", "松德路", "福德街"];
const NS_STREETS: &[&str] = &["松智路", "松勇路", "松平路", "莊敬路", "崇德街", "吳興街", "虎林街", "松山路", "大道路", "忠順街", "林口街", "富陽街"];
/// East–west roads: the avenues (every third line, 30 m) and the streets between.
const EW_ARTERIALS: &[&str] = &["信義路五段", "忠孝東路五段", "仁愛路四段", "和平東路三段", "市民大道六段"];
const EW_STREETS: &[&str] = &["松高路", "松壽路", "松廉路", "松隆路", "永吉路", "嘉興街", "通化街", "臨江街", "基隆路二段", "祥雲街"];

/// What the road files say of one road line.
struct RoadLine {
    name: String,
    /// The agency's own class word (道路等級).
    class: &'static str,
    width: f64,
    oneway: bool,
}

fn road_line(grid: &Grid, vertical: bool, line: i64) -> RoadLine {
    let (width, arterial, names, streets) = if vertical {
        (grid.col_width(line), line.rem_euclid(4) == 0, NS_ARTERIALS, NS_STREETS)
    } else {
        (grid.row_width(line), line.rem_euclid(3) == 0, EW_ARTERIALS, EW_STREETS)
    };
    let mut r = Rng::derive(grid.seed, &[T_ROAD, vertical as i64, line]);
    let pick = |list: &[&str], n: i64| list[n.rem_euclid(list.len() as i64) as usize].to_string();
    if arterial {
        let n = line.div_euclid(if vertical { 4 } else { 3 });
        // The 40 m north–south arterials are provincial roads, the 30 m avenues county roads.
        return RoadLine { name: pick(names, n), class: if vertical { "省道" } else { "縣道" }, width, oneway: false };
    }
    if width <= 8.0 {
        // A lane (巷) off the nearest arterial, numbered as Taipei numbers them.
        let base = pick(names, line.div_euclid(if vertical { 4 } else { 3 }));
        let number = 10 * r.int(2, 60);
        return RoadLine { name: format!("{base}{number}巷"), class: "巷道", width, oneway: r.chance(0.5) };
    }
    RoadLine { name: pick(streets, line), class: "市區道路", width, oneway: width <= 12.0 && r.chance(0.5) }
}

const ROAD_FIELDS: &[Field] =
    &[string("道路名稱", 40), string("道路等級", 12), real("路寬", 6, 1), string("單行道", 2), string("橋梁", 2), string("隧道", 2), integer("高程層", 2)];

struct RoadRecord {
    name: String,
    class: &'static str,
    width: f64,
    oneway: bool,
    bridge: bool,
    tunnel: bool,
    level: i64,
    /// EPSG:3826.
    points: Vec<Pt>,
}

/// Where the creek runs: south of the small area's southern avenue, meandering.
fn creek_t(grid: &Grid, s: f64) -> f64 {
    let south = grid.row_line(SMALL_J.0) - grid.row_width(SMALL_J.0) / 2.0;
    south - 45.0 + 12.0 * (s / 140.0).sin()
}

fn creek(grid: &Grid) -> Vec<Pt> {
    let (s0, s1) = (grid.col_line(SMALL_I.0) - 150.0, grid.col_line(SMALL_I.1) + 150.0);
    let n = ((s1 - s0) / 20.0).ceil() as usize;
    (0..=n).map(|k| s0 + (s1 - s0) * k as f64 / n as f64).map(|s| grid.world((s, creek_t(grid, s)))).collect()
}

fn roads(grid: &Grid) -> Vec<RoadRecord> {
    let (i0, i1) = SMALL_I;
    let (j0, j1) = SMALL_J;
    let mut out = Vec::new();
    let mut push = |line: &RoadLine, a: Pt, b: Pt, bridge: bool, tunnel: bool, level: i64| {
        out.push(RoadRecord {
            name: line.name.clone(),
            class: line.class,
            width: line.width,
            oneway: line.oneway,
            bridge,
            tunnel,
            level,
            points: vec![grid.world(a), grid.world(b)],
        })
    };
    for i in i0..=i1 {
        let line = road_line(grid, true, i);
        let s = grid.col_line(i);
        for j in j0..j1 {
            push(&line, (s, grid.row_line(j)), (s, grid.row_line(j + 1)), false, false, 0);
        }
        // South over the creek: the approach, then the bridge (30 m either side of the water).
        if line.width > 8.0 {
            let (t0, tc) = (grid.row_line(j0), creek_t(grid, s));
            push(&line, (s, t0), (s, tc + 30.0), false, false, 0);
            let bridge = RoadLine { name: format!("{}橋", line.name.trim_end_matches(|c: char| "一二三四五六段".contains(c))), ..line };
            push(&bridge, (s, tc + 30.0), (s, tc - 30.0), true, false, 1);
        }
    }
    for j in j0..=j1 {
        let line = road_line(grid, false, j);
        let t = grid.row_line(j);
        for i in i0..i1 {
            push(&line, (grid.col_line(i), t), (grid.col_line(i + 1), t), false, false, 0);
        }
    }
    // An elevated expressway over the first avenue north of the centre, the whole way across.
    let j = (0..=j1).find(|j| j.rem_euclid(3) == 0 && *j > 0).unwrap_or(j1);
    let t = grid.row_line(j);
    let viaduct = RoadLine { name: "環東快速道路".into(), class: "快速道路", width: 20.0, oneway: false };
    push(&viaduct, (grid.col_line(i0), t), (grid.col_line(i1), t), true, false, 2);
    out
}

/// A line shapefile in EPSG:3826 with a cp950 DBF of `fields`; `write` fills it.
fn write_cp950_lines(path: &Path, fields: &[Field], write: impl FnOnce(&mut FeatureWriter) -> Result<usize>) -> Result<usize> {
    let mut ds = gdalio::create_vector("ESRI Shapefile", path)?;
    let srs = gdalio::srs(3826)?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("lines").to_string();
    let layer = ds.create_layer(LayerOptions { name: &name, srs: Some(&srs), ty: OGRwkbGeometryType::wkbLineString, options: Some(&["ENCODING=CP950", DBF_DATE]) })?;
    gdalio::create_fields(&layer, fields)?;
    let mut w = FeatureWriter::new(&layer)?;
    let n = write(&mut w)?;
    drop(w);
    ds.close()?;
    Ok(n)
}

fn write_roads(path: &Path, roads: &[RoadRecord]) -> Result<usize> {
    write_cp950_lines(path, ROAD_FIELDS, |w| {
        let yes_no = |b: bool| if b { "是" } else { "否" };
        for r in roads {
            w.set_str(0, &r.name)?;
            w.set_str(1, r.class)?;
            w.set_f64(2, r.width);
            w.set_str(3, yes_no(r.oneway))?;
            w.set_str(4, yes_no(r.bridge))?;
            w.set_str(5, yes_no(r.tunnel))?;
            w.set_int(6, r.level);
            w.set_geometry(Some(&Geom::LineString(r.points.clone())))?;
            w.write()?;
        }
        Ok(roads.len())
    })
}

const RAIL_FIELDS: &[Field] = &[string("路線名稱", 40), string("類別", 12), string("橋梁", 2), string("隧道", 2)];

/// The MRT line's avenue (the 信義線 runs under 信義路) and its stations, at the
/// crossings with north–south arterials.
fn mrt(grid: &Grid) -> (Vec<Pt>, Vec<(String, Pt)>) {
    let t = grid.row_line(0);
    let (s0, s1) = (grid.col_line(SMALL_I.0), grid.col_line(SMALL_I.1));
    let line = vec![grid.world((s0, t)), grid.world((s1, t))];
    let names = ["大安站", "信義安和站", "台北101/世貿站", "象山站"];
    let stations = (SMALL_I.0..=SMALL_I.1).filter(|i| i.rem_euclid(4) == 0).zip(names).map(|(i, name)| (name.to_string(), grid.world((grid.col_line(i), t)))).collect();
    (line, stations)
}

fn write_railways(path: &Path, line: &[Pt]) -> Result<usize> {
    write_cp950_lines(path, RAIL_FIELDS, |w| {
        w.set_str(0, "淡水信義線")?;
        w.set_str(1, "捷運")?;
        w.set_str(2, "否")?;
        w.set_str(3, "是")?;
        w.set_geometry(Some(&Geom::LineString(line.to_vec())))?;
        w.write()?;
        Ok(1)
    })
}

/// A GeoJSON FeatureCollection (RFC 7946, lon/lat to 7 decimals, ~1 cm) of `features`.
fn write_geojson(path: &Path, name: &str, features: Vec<Value>) -> Result<usize> {
    let n = features.len();
    let doc = json!({ "type": "FeatureCollection", "name": name, "features": features });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::Msg(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| Error::Io(path.to_path_buf(), e))?;
    Ok(n)
}

fn lonlat(ct: &CoordTransform, pts: &[Pt]) -> Result<Vec<Value>> {
    let round = |v: f64| (v * 1e7).round() / 1e7;
    Ok(transform_pts(ct, pts)?.into_iter().map(|(x, y)| json!([round(x), round(y)])).collect())
}

fn point(ct: &CoordTransform, p: Pt) -> Result<Value> {
    Ok(json!({ "type": "Point", "coordinates": lonlat(ct, &[p])?[0] }))
}

/// A block's zone if one zone covers it whole (parks, schools, government compounds).
fn whole_block_zone(grid: &Grid, b: &Block) -> Option<Zone> {
    let parcels = grid.parcels(b);
    let zone = parcels.first()?.zone;
    (parcels.len() <= 2 && parcels.iter().all(|p| p.zone == zone) && matches!(zone, Zone::Park | Zone::School | Zone::Government)).then_some(zone)
}

/// The address of a block's front door: the number on the north–south road west of it.
fn address(grid: &Grid, b: &Block) -> String {
    let road = road_line(grid, true, b.i);
    let number = 2 * (b.j - SMALL_J.0 + 1) * 10 + 1;
    format!("臺北市信義區{}{number}號", road.name)
}

const SCHOOLS: &[&str] = &["信義國小", "興雅國中", "永吉國小", "光復國小", "三興國小", "福德國小", "永春高中", "信義國中", "吳興國小", "博愛國小"];
const PARKS: &[&str] = &["松德公園", "四四南村公園", "中強公園", "松智公園", "福德公園", "松仁公園", "虎林公園", "吳興公園"];
/// The offices a government compound may be, with their class word.
const OFFICES: &[(&str, &str)] = &[
    ("信義區公所", "機關"),
    ("信義分局", "警察局"),
    ("信義消防分隊", "消防隊"),
    ("信義區健康服務中心", "醫療院所"),
    ("信義戶政事務所", "機關"),
    ("永春派出所", "派出所"),
    ("松山消防分隊", "消防隊"),
    ("市立聯合醫院松德院區", "醫院"),
];

struct Places {
    pois: Vec<Value>,
    shelters: Vec<Value>,
}

fn places(grid: &Grid, ct: &CoordTransform, stations: &[(String, Pt)]) -> Result<Places> {
    let (mut pois, mut shelters) = (Vec::new(), Vec::new());
    let (mut school, mut park, mut office) = (0usize, 0usize, 0usize);
    for j in SMALL_J.0..SMALL_J.1 {
        for i in SMALL_I.0..SMALL_I.1 {
            let b = grid.block(i, j);
            if grid.is_hill(&b) {
                continue;
            }
            let Some(zone) = whole_block_zone(grid, &b) else { continue };
            let at = point(ct, grid.block_centre(&b))?;
            let addr = address(grid, &b);
            let area = (b.s1 - b.s0) * (b.t1 - b.t0);
            let mut r = Rng::derive(grid.seed, &[T_POI, i, j]);
            match zone {
                Zone::School => {
                    let name = SCHOOLS[school % SCHOOLS.len()];
                    school += 1;
                    pois.push(json!({ "type": "Feature", "properties": { "名稱": name, "類別": "學校", "地址": addr }, "geometry": at }));
                    // About one evacuee per 20 m² of school ground, rounded to tens.
                    let capacity = ((area / 20.0 / 10.0).round() * 10.0) as i64;
                    let hazards = if r.chance(0.5) { "水災、震災" } else { "水災、震災、土石流" };
                    shelters.push(json!({ "type": "Feature", "properties": { "避難收容處所名稱": name, "預計收容人數": capacity, "避難收容處所地址": addr, "室內室外": "室內", "適用災害類別": hazards }, "geometry": at }));
                }
                Zone::Park => {
                    let name = PARKS[park % PARKS.len()];
                    park += 1;
                    pois.push(json!({ "type": "Feature", "properties": { "名稱": name, "類別": "公園", "地址": addr }, "geometry": at }));
                    let capacity = ((area / 2.0 / 100.0).round() * 100.0) as i64;
                    shelters.push(json!({ "type": "Feature", "properties": { "避難收容處所名稱": format!("{name}(戶外)"), "預計收容人數": capacity, "避難收容處所地址": addr, "室內室外": "室外", "適用災害類別": "震災" }, "geometry": at }));
                }
                Zone::Government => {
                    let (name, class) = OFFICES[office % OFFICES.len()];
                    office += 1;
                    pois.push(json!({ "type": "Feature", "properties": { "名稱": name, "類別": class, "地址": addr }, "geometry": at }));
                }
                _ => {}
            }
        }
    }
    // A hospital and a temple in ordinary blocks, as they stand among houses and shops.
    for (name, class, (i, j)) in [("臺北醫學大學附設醫院", "醫院", (SMALL_I.0 + 3, SMALL_J.0 + 1)), ("松山慈惠堂", "廟宇", (SMALL_I.1 - 3, SMALL_J.0 + 2))] {
        let b = grid.block(i, j);
        pois.push(json!({ "type": "Feature", "properties": { "名稱": name, "類別": class, "地址": address(grid, &b) }, "geometry": point(ct, grid.block_centre(&b))? }));
    }
    for (name, at) in stations {
        pois.push(json!({ "type": "Feature", "properties": { "名稱": format!("捷運{name}"), "類別": "捷運站", "地址": Value::Null }, "geometry": point(ct, *at)? }));
    }
    Ok(Places { pois, shelters })
}

/// A pond in the first park: a rounded polygon inside the block.
fn pond(grid: &Grid, ct: &CoordTransform) -> Result<Option<Value>> {
    let park =
        (SMALL_J.0..SMALL_J.1).flat_map(|j| (SMALL_I.0..SMALL_I.1).map(move |i| (i, j))).map(|(i, j)| grid.block(i, j)).find(|b| whole_block_zone(grid, b) == Some(Zone::Park));
    let Some(b) = park else { return Ok(None) };
    let (cs, ct_) = ((b.s0 + b.s1) / 2.0 + 15.0, (b.t0 + b.t1) / 2.0 - 10.0);
    let (rs, rt) = ((b.s1 - b.s0) * 0.18, (b.t1 - b.t0) * 0.15);
    let mut ring: Vec<Pt> = (0..24).map(|k| k as f64 * std::f64::consts::TAU / 24.0).map(|a| grid.world((cs + rs * a.cos(), ct_ + rt * a.sin()))).collect();
    ring.push(ring[0]);
    Ok(Some(json!({ "type": "Feature", "properties": { "河川名稱": "松德埤", "類別": "埤塘" }, "geometry": { "type": "Polygon", "coordinates": [lonlat(ct, &ring)?] } })))
}

/// What `write_all` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasemapCounts {
    pub roads: usize,
    pub railways: usize,
    pub water: usize,
    pub pois: usize,
    pub shelters: usize,
}

pub fn write_all(out: &Path, grid: &Grid) -> Result<BasemapCounts> {
    let ct = CoordTransform::new(&gdalio::srs(3826)?, &gdalio::srs(4326)?)?;
    let roads = write_roads(&out.join("roads/roads.shp"), &roads(grid))?;
    let (line, stations) = mrt(grid);
    let railways = write_railways(&out.join("railways/railways.shp"), &line)?;
    let mut water =
        vec![json!({ "type": "Feature", "properties": { "河川名稱": "四分溪", "類別": "溪流" }, "geometry": { "type": "LineString", "coordinates": lonlat(&ct, &creek(grid))? } })];
    water.extend(pond(grid, &ct)?);
    let water = write_geojson(&out.join("water/water.geojson"), "water", water)?;
    let Places { pois, shelters } = places(grid, &ct, &stations)?;
    let pois = write_geojson(&out.join("landmarks/pois.geojson"), "pois", pois)?;
    let shelters = write_geojson(&out.join("shelters/shelters.geojson"), "shelters", shelters)?;
    Ok(BasemapCounts { roads, railways, water, pois, shelters })
}
