//! Building footprints (建物) inside the parcels: rectangles and L-shapes that
//! never cross a parcel line, so they never overlap each other.

use std::path::Path;

use gdal::vector::{LayerOptions, OGRwkbGeometryType};

use crate::cadastral::DBF_DATE;
use crate::city::{Block, Grid, Parcel, Slot, Zone, DAAN, T_BUILDING, XINYI};
use crate::gdalio::{self, integer, string, FeatureWriter, Field};
use crate::geom::{Geom, Polygon, Pt};
use crate::rng::Rng;
use crate::{Progress, Result};

/// UTF-8 DBF: every field name is 2 CJK characters = 6 bytes, within the
/// 10-byte DBF limit even in UTF-8.
pub const BUILDING_FIELDS: &[Field] = &[
    integer("樓層", 3), // floors above ground; a few 0 / NULL (bad survey data)
    string("用途", 24), // 住宅, 商業, 辦公, 學校…
    string("構造", 12), // RC, SRC, 鋼骨, 磚造
    string("名稱", 80), // mostly empty
];

pub struct BuildingRecord {
    pub floors: Option<i64>,
    pub usage: &'static str,
    pub structure: &'static str,
    pub name: Option<String>,
    pub geom: Geom,
}

// Names are composed from parts so that, like in real registers, a few repeat
// but landmarks do not appear five times.
const SCHOOL_NAMES: &[&str] = &["仁愛", "興雅", "永吉", "三興", "福德", "金華", "龍安", "光復", "敦化", "吳興"];
const OFFICES: &[&str] = &["區公所", "區戶政事務所", "區健康服務中心", "地政事務所", "運動中心", "分局"];
const FIRMS: &[&str] = &["國泰", "富邦", "新光", "遠東", "統一", "宏泰", "華南", "兆豐", "台新", "冠德", "潤泰", "遠雄"];
const TOWERS: &[&str] = &["信義大樓", "金融大樓", "商業大樓", "企業總部", "廣場", "世紀大樓"];

/// Footprints and attributes of one block's buildings. `p_build` is the chance
/// an ordinary lot carries a building (the large benchmark lowers it).
pub fn block_buildings(grid: &Grid, b: &Block, parcels: &[Parcel], p_build: f64) -> Vec<BuildingRecord> {
    let mut r = Rng::derive(grid.seed, &[T_BUILDING, b.i, b.j]);
    let district = match grid.section(b).town_code {
        DAAN => "大安",
        XINYI => "信義",
        _ => "",
    };
    let world = |p: &Polygon| Geom::Polygon(p.map(|q| grid.world(q)).oriented());
    let mut out = Vec::new();
    for p in parcels {
        match p.slot {
            Slot::None => {}
            Slot::Tower { s, t } => {
                // 台北101: the tower and its 6-storey mall podium, side by side.
                out.push(BuildingRecord {
                    floors: Some(101),
                    usage: "辦公",
                    structure: "鋼骨",
                    name: Some("台北101".into()),
                    geom: world(&rect(s - 65.0, t - 30.0, s - 5.0, t + 30.0)),
                });
                out.push(BuildingRecord {
                    floors: Some(6),
                    usage: "商業",
                    structure: "SRC",
                    name: Some("台北101購物中心".into()),
                    geom: world(&rect(s + 5.0, t - 45.0, s + 55.0, t + 45.0)),
                });
            }
            Slot::School { s0, t0, s1, t1 } => {
                // Classroom wings along two sides of the campus: an L.
                let (w, h) = (s1 - s0, t1 - t0);
                let shape = l_shape(s0, t0, s1, t0 + h * 0.45, s0 + w * 0.3, true, &mut r);
                out.push(BuildingRecord {
                    floors: Some(r.int(3, 5)),
                    usage: "學校",
                    structure: "RC",
                    name: Some(if district.is_empty() {
                        format!("{}國民小學", r.pick(SCHOOL_NAMES))
                    } else {
                        format!("臺北市{district}區{}國民小學", r.pick(SCHOOL_NAMES))
                    }),
                    geom: world(&shape),
                });
            }
            Slot::Lot { s0, t0, s1, t1, front_low } => {
                if !r.chance(p_build) {
                    continue;
                }
                // Buildings fill the lot's width and most of its depth from the
                // street front (typical Taipei row/apartment buildings).
                let depth = (t1 - t0) * r.range(0.7, 1.0);
                let (bt0, bt1) = if front_low { (t0, t0 + depth) } else { (t1 - depth, t1) };
                let shape = if s1 - s0 >= 14.0 && depth >= 14.0 && r.chance(0.35) {
                    // L-shape: a back corner left open as a light well / yard.
                    let cut_s = if r.chance(0.5) { s0 + (s1 - s0) * r.range(0.4, 0.6) } else { s1 - (s1 - s0) * r.range(0.4, 0.6) };
                    l_shape(s0, bt0, s1, bt1, cut_s, front_low, &mut r)
                } else {
                    rect(s0, bt0, s1, bt1)
                };
                let (usage, floors, name) = lot_attributes(p.zone, district, &mut r);
                out.push(BuildingRecord { floors, usage, structure: structure(floors, &mut r), name, geom: world(&shape) });
            }
        }
    }
    out
}

/// Use, floors and (rarely) a name for an ordinary lot's building.
fn lot_attributes(zone: Zone, district: &str, r: &mut Rng) -> (&'static str, Option<i64>, Option<String>) {
    let (usage, floors) = match zone {
        Zone::Commercial => {
            let u = r.weighted(&[("商業", 0.5), ("辦公", 0.4), ("住宅", 0.1)]);
            (u, r.int(5, 30))
        }
        Zone::Government => ("辦公", r.int(4, 12)),
        _ => {
            // 4–5 storey walk-ups (公寓) dominate; newer 大樓 are 12–25 storeys.
            let u = r.weighted(&[("住宅", 0.88), ("商業", 0.1), ("宗教", 0.02)]);
            let f = r.weighted(&[((3, 5), 0.45), ((6, 7), 0.2), ((8, 15), 0.27), ((16, 25), 0.08)]);
            (u, r.int(f.0, f.1))
        }
    };
    // Survey gaps: a few footprints with 0 or missing floor counts.
    let floors = match r.f64() {
        x if x < 0.02 => Some(0),
        x if x < 0.04 => None,
        _ => Some(floors),
    };
    let name = match (zone, usage) {
        (Zone::Government, _) if r.chance(0.5) => Some(format!("{district}{}", r.pick(OFFICES))),
        (Zone::Commercial, "商業" | "辦公") if r.chance(0.04) => Some(format!("{}{}", r.pick(FIRMS), r.pick(TOWERS))),
        _ => None,
    };
    (usage, floors, name)
}

fn structure(floors: Option<i64>, r: &mut Rng) -> &'static str {
    match floors.unwrap_or(4) {
        0..=4 => r.weighted(&[("磚造", 0.35), ("RC", 0.65)]),
        5..=15 => "RC",
        _ => r.weighted(&[("SRC", 0.6), ("鋼骨", 0.4)]),
    }
}

fn rect(s0: f64, t0: f64, s1: f64, t1: f64) -> Polygon {
    Polygon::simple(vec![(s0, t0), (s1, t0), (s1, t1), (s0, t1)])
}

/// An L: the rectangle [s0,s1]x[t0,t1] minus the back corner on one side of
/// `cut_s` (back = away from the street front), 30–50% of the depth.
fn l_shape(s0: f64, t0: f64, s1: f64, t1: f64, cut_s: f64, front_low: bool, r: &mut Rng) -> Polygon {
    let d = (t1 - t0) * r.range(0.3, 0.5);
    let cut_left = cut_s - s0 < s1 - cut_s; // remove the narrower side
    let pts: Vec<Pt> = match (front_low, cut_left) {
        // Back is the high-t side.
        (true, true) => vec![(s0, t0), (s1, t0), (s1, t1), (cut_s, t1), (cut_s, t1 - d), (s0, t1 - d)],
        (true, false) => vec![(s0, t0), (s1, t0), (s1, t1 - d), (cut_s, t1 - d), (cut_s, t1), (s0, t1)],
        // Back is the low-t side.
        (false, true) => vec![(s0, t0 + d), (cut_s, t0 + d), (cut_s, t0), (s1, t0), (s1, t1), (s0, t1)],
        (false, false) => vec![(s0, t0), (cut_s, t0), (cut_s, t0 + d), (s1, t0 + d), (s1, t1), (s0, t1)],
    };
    Polygon::simple(pts)
}

/// Write buildings of `blocks` (stopping at `limit`) to a UTF-8 Shapefile in
/// EPSG:3826. Returns the number written.
pub fn write_buildings(path: &Path, grid: &Grid, blocks: impl Iterator<Item = Block>, limit: usize, p_build: f64, progress: &mut Progress) -> Result<usize> {
    let mut ds = gdalio::create_vector("ESRI Shapefile", path)?;
    let srs = gdalio::srs(3826)?;
    let layer = ds.create_layer(LayerOptions { name: "buildings", srs: Some(&srs), ty: OGRwkbGeometryType::wkbPolygon, options: Some(&["ENCODING=UTF-8", DBF_DATE]) })?;
    gdalio::create_fields(&layer, BUILDING_FIELDS)?;
    let mut w = FeatureWriter::new(&layer)?;
    let mut n = 0;
    'blocks: for b in blocks {
        let parcels = grid.parcels(&b);
        for rec in block_buildings(grid, &b, &parcels, p_build) {
            if n >= limit {
                break 'blocks;
            }
            w.set_opt_int(0, rec.floors);
            w.set_str(1, rec.usage)?;
            w.set_str(2, rec.structure)?;
            match &rec.name {
                Some(s) => w.set_str(3, s)?,
                None => w.set_null(3),
            }
            w.set_geometry(Some(&rec.geom))?;
            w.write()?;
            n += 1;
            progress.tick(n);
        }
    }
    drop(w);
    ds.close()?;
    Ok(n)
}
