//! Store geometry → MVT geometry for one tile: project to tile units, clip to the tile
//! plus a buffer, simplify for the zoom, snap to the integer grid, drop what degenerates,
//! orient rings (exterior clockwise in tile space: positive shoelace area with y down), and
//! encode as MoveTo/LineTo/ClosePath commands (MVT spec 2.1, §4.3).

use formosa_store::mercator::{tile_bounds_m, to_mercator};
use formosa_store::Geometry;

pub type Pt = [f64; 2];
pub type IPt = [i32; 2];

/// Maps lon/lat to the tile's coordinate space (0..extent, y down).
#[derive(Debug, Clone, Copy)]
pub struct TileSpace {
    min_x: f64,
    max_y: f64,
    scale: f64,
    pub extent: u32,
    pub buffer: u32,
}

impl TileSpace {
    pub fn new(z: u8, x: u32, y: u32, extent: u32, buffer: u32) -> Self {
        let b = tile_bounds_m(z, x, y);
        Self { min_x: b.min_x, max_y: b.max_y, scale: extent as f64 / (b.max_x - b.min_x), extent, buffer }
    }

    pub fn project(&self, lon: f64, lat: f64) -> Pt {
        let (mx, my) = to_mercator(lon, lat);
        [(mx - self.min_x) * self.scale, (self.max_y - my) * self.scale]
    }

    fn lo(&self) -> f64 {
        -(self.buffer as f64)
    }
    fn hi(&self) -> f64 {
        (self.extent + self.buffer) as f64
    }
}

/// Geometry ready to encode, in integer tile coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    Points(Vec<IPt>),
    Lines(Vec<Vec<IPt>>),
    /// Rings in order, each closed implicitly; exteriors positive area, holes negative.
    Polygons(Vec<Vec<IPt>>),
}

impl TileGeometry {
    /// The MVT GeomType enum value.
    pub fn mvt_type(&self) -> u32 {
        match self {
            TileGeometry::Points(_) => 1,
            TileGeometry::Lines(_) => 2,
            TileGeometry::Polygons(_) => 3,
        }
    }
}

/// Converts a store geometry for this tile. `tolerance` is the simplification tolerance in
/// tile units (0 keeps every vertex); `min_area` drops polygons smaller than that many
/// tile units² (generalisation at low zoom). None when nothing is left in the tile.
pub fn to_tile(g: &Geometry, space: &TileSpace, tolerance: f64, min_area: f64) -> Option<TileGeometry> {
    match g {
        Geometry::Point(c) => points(std::slice::from_ref(c), space),
        Geometry::MultiPoint(cs) => points(cs, space),
        Geometry::MultiLineString(lines) => {
            let mut out = Vec::new();
            for l in lines {
                let projected: Vec<Pt> = l.iter().map(|c| space.project(c[0], c[1])).collect();
                for run in clip_line(&projected, space.lo(), space.hi()) {
                    let snapped = snap(&simplify(&run, tolerance));
                    if snapped.len() >= 2 {
                        out.push(snapped);
                    }
                }
            }
            (!out.is_empty()).then_some(TileGeometry::Lines(out))
        }
        Geometry::MultiPolygon(polys) => {
            let mut out = Vec::new();
            for rings in polys {
                let mut poly_rings: Vec<Vec<IPt>> = Vec::new();
                for (i, ring) in rings.iter().enumerate() {
                    let projected: Vec<Pt> = ring.iter().map(|c| space.project(c[0], c[1])).collect();
                    let clipped = clip_ring(&projected, space.lo(), space.hi());
                    let mut snapped = snap(&simplify(&clipped, tolerance));
                    if snapped.len() > 1 && snapped[0] == snapped[snapped.len() - 1] {
                        snapped.pop();
                    }
                    let area = ring_area(&snapped);
                    if snapped.len() < 3 || area == 0 {
                        if i == 0 {
                            break; // exterior gone: the whole polygon is gone
                        }
                        continue;
                    }
                    if i == 0 && (area.abs() as f64) < 2.0 * min_area {
                        break;
                    }
                    // Exterior: positive area; holes: negative.
                    if (i == 0) != (area > 0) {
                        snapped.reverse();
                    }
                    poly_rings.push(snapped);
                }
                out.extend(poly_rings);
            }
            (!out.is_empty()).then_some(TileGeometry::Polygons(out))
        }
    }
}

fn points(cs: &[formosa_store::Coord], space: &TileSpace) -> Option<TileGeometry> {
    let (lo, hi) = (space.lo(), space.hi());
    let pts: Vec<IPt> =
        cs.iter().map(|c| space.project(c[0], c[1])).filter(|p| p[0] >= lo && p[0] <= hi && p[1] >= lo && p[1] <= hi).map(|p| [p[0].round() as i32, p[1].round() as i32]).collect();
    (!pts.is_empty()).then_some(TileGeometry::Points(pts))
}

/// Twice the signed shoelace area (integer, exact). Positive = clockwise with y down.
pub fn ring_area(r: &[IPt]) -> i64 {
    let n = r.len();
    (0..n)
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % n]);
            a[0] as i64 * b[1] as i64 - b[0] as i64 * a[1] as i64
        })
        .sum()
}

fn snap(pts: &[Pt]) -> Vec<IPt> {
    let mut out: Vec<IPt> = Vec::with_capacity(pts.len());
    for p in pts {
        let q = [p[0].round() as i32, p[1].round() as i32];
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    out
}

/// Sutherland–Hodgman against the square [lo, hi]². Rings may come back with edges along
/// the clip box; that is what renderers expect of buffered tiles.
fn clip_ring(ring: &[Pt], lo: f64, hi: f64) -> Vec<Pt> {
    let inside_all = ring.iter().all(|p| p[0] >= lo && p[0] <= hi && p[1] >= lo && p[1] <= hi);
    if inside_all {
        return ring.to_vec();
    }
    let mut pts = ring.to_vec();
    // (axis, bound, keep when coordinate >= bound?)
    for (axis, bound, keep_ge) in [(0, lo, true), (0, hi, false), (1, lo, true), (1, hi, false)] {
        if pts.is_empty() {
            break;
        }
        let inside = |p: &Pt| if keep_ge { p[axis] >= bound } else { p[axis] <= bound };
        let mut out = Vec::with_capacity(pts.len() + 4);
        for i in 0..pts.len() {
            let cur = pts[i];
            let prev = pts[(i + pts.len() - 1) % pts.len()];
            let (ci, pi) = (inside(&cur), inside(&prev));
            if ci != pi {
                let t = (bound - prev[axis]) / (cur[axis] - prev[axis]);
                let mut q = [prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])];
                q[axis] = bound;
                out.push(q);
            }
            if ci {
                out.push(cur);
            }
        }
        pts = out;
    }
    pts
}

/// Clips a polyline to the square [lo, hi]² (Liang–Barsky per segment), returning the
/// runs that lie inside.
fn clip_line(line: &[Pt], lo: f64, hi: f64) -> Vec<Vec<Pt>> {
    let mut runs: Vec<Vec<Pt>> = Vec::new();
    let mut current: Vec<Pt> = Vec::new();
    for w in line.windows(2) {
        match clip_segment(w[0], w[1], lo, hi) {
            Some((a, b, a_clipped, b_clipped)) => {
                if current.is_empty() || a_clipped {
                    if current.len() >= 2 {
                        runs.push(std::mem::take(&mut current));
                    }
                    current = vec![a];
                }
                current.push(b);
                if b_clipped {
                    runs.push(std::mem::take(&mut current));
                }
            }
            None => {
                if current.len() >= 2 {
                    runs.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        runs.push(current);
    }
    runs
}

/// The part of segment a→b inside the box, and whether each end was moved.
fn clip_segment(a: Pt, b: Pt, lo: f64, hi: f64) -> Option<(Pt, Pt, bool, bool)> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a[0] - lo), (dx, hi - a[0]), (-dy, a[1] - lo), (dy, hi - a[1])] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| [a[0] + t * dx, a[1] + t * dy];
    Some((at(t0), at(t1), t0 > 0.0, t1 < 1.0))
}

/// Douglas–Peucker; keeps both ends. Tolerance in tile units.
fn simplify(pts: &[Pt], tolerance: f64) -> Vec<Pt> {
    if tolerance <= 0.0 || pts.len() < 3 {
        return pts.to_vec();
    }
    let mut keep = vec![false; pts.len()];
    keep[0] = true;
    keep[pts.len() - 1] = true;
    let mut stack = vec![(0usize, pts.len() - 1)];
    let tol2 = tolerance * tolerance;
    while let Some((s, e)) = stack.pop() {
        if e <= s + 1 {
            continue;
        }
        let (a, b) = (pts[s], pts[e]);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = dx * dx + dy * dy;
        let mut worst = (0.0, 0usize);
        for (i, p) in pts.iter().enumerate().take(e).skip(s + 1) {
            let d2 = if len2 == 0.0 {
                (p[0] - a[0]).powi(2) + (p[1] - a[1]).powi(2)
            } else {
                let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0);
                (p[0] - a[0] - t * dx).powi(2) + (p[1] - a[1] - t * dy).powi(2)
            };
            if d2 > worst.0 {
                worst = (d2, i);
            }
        }
        if worst.0 > tol2 {
            keep[worst.1] = true;
            stack.push((s, worst.1));
            stack.push((worst.1, e));
        }
    }
    pts.iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| *p).collect()
}

/// MVT geometry commands with zigzag-encoded deltas.
pub fn commands(g: &TileGeometry) -> Vec<u32> {
    let mut out = Vec::new();
    commands_into(g, &mut out);
    out
}

/// [`commands`] appended to `out` (a buffer reused from feature to feature).
pub fn commands_into(g: &TileGeometry, out: &mut Vec<u32>) {
    use crate::mvt::proto::zigzag;
    let cmd = |id: u32, count: usize| (id & 0x7) | ((count as u32) << 3);
    let mut cursor = [0i32, 0i32];
    let push = |out: &mut Vec<u32>, p: IPt, cursor: &mut IPt| {
        out.push(zigzag((p[0] - cursor[0]) as i64) as u32);
        out.push(zigzag((p[1] - cursor[1]) as i64) as u32);
        *cursor = p;
    };
    // MoveTo the first point, LineTo the rest.
    let path = |out: &mut Vec<u32>, pts: &[IPt], cursor: &mut IPt| {
        out.push(cmd(1, 1));
        push(out, pts[0], cursor);
        out.push(cmd(2, pts.len() - 1));
        for p in &pts[1..] {
            push(out, *p, cursor);
        }
    };
    match g {
        TileGeometry::Points(pts) => {
            out.push(cmd(1, pts.len()));
            for p in pts {
                push(out, *p, &mut cursor);
            }
        }
        TileGeometry::Lines(lines) => {
            for l in lines {
                path(out, l, &mut cursor);
            }
        }
        TileGeometry::Polygons(rings) => {
            for r in rings {
                path(out, r, &mut cursor);
                out.push(cmd(7, 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(space: &TileSpace, x0: f64, y0: f64, size: f64) -> Geometry {
        // Build a ring in tile units, convert to lon/lat through the inverse projection.
        let to_ll = |px: f64, py: f64| {
            let mx = space.min_x + px / space.scale;
            let my = space.max_y - py / space.scale;
            let (lon, lat) = formosa_store::mercator::to_lonlat(mx, my);
            [lon, lat, 0.0]
        };
        Geometry::MultiPolygon(vec![vec![vec![to_ll(x0, y0), to_ll(x0, y0 + size), to_ll(x0 + size, y0 + size), to_ll(x0 + size, y0), to_ll(x0, y0)]]])
    }

    #[test]
    fn exterior_rings_are_clockwise_in_tile_space() {
        let space = TileSpace::new(15, 27411, 14034, 4096, 64);
        let g = square(&space, 100.0, 100.0, 200.0);
        let TileGeometry::Polygons(rings) = to_tile(&g, &space, 0.0, 0.0).unwrap() else { panic!() };
        assert_eq!(rings.len(), 1);
        assert!(ring_area(&rings[0]) > 0);
        assert_eq!(ring_area(&rings[0]), 2 * 200 * 200);
    }

    #[test]
    fn polygons_crossing_the_edge_are_clipped_to_the_buffer() {
        let space = TileSpace::new(15, 27411, 14034, 4096, 64);
        let g = square(&space, 4000.0, 1000.0, 1000.0);
        let TileGeometry::Polygons(rings) = to_tile(&g, &space, 0.0, 0.0).unwrap() else { panic!() };
        let max_x = rings[0].iter().map(|p| p[0]).max().unwrap();
        assert_eq!(max_x, 4096 + 64);
        assert_eq!(ring_area(&rings[0]), 2 * (4160 - 4000) * 1000);
    }

    #[test]
    fn lines_are_split_where_they_leave_the_tile() {
        let runs = clip_line(&[[-100.0, 10.0], [50.0, 10.0], [50.0, -500.0], [60.0, -500.0], [60.0, 20.0]], 0.0, 100.0);
        assert_eq!(runs, vec![vec![[0.0, 10.0], [50.0, 10.0], [50.0, 0.0]], vec![[60.0, 0.0], [60.0, 20.0]]]);
    }

    #[test]
    fn tiny_polygons_vanish_at_low_zoom() {
        let space = TileSpace::new(15, 27411, 14034, 4096, 64);
        let g = square(&space, 100.0, 100.0, 3.0);
        assert!(to_tile(&g, &space, 0.0, 16.0).is_none());
        assert!(to_tile(&g, &space, 0.0, 4.0).is_some());
    }

    #[test]
    fn commands_follow_the_spec_example() {
        // MVT spec 4.3.5.3 example polygon: (3,6) (8,12) (20,34) → [9 3 6 18 5 6 12 22 15].
        let g = TileGeometry::Polygons(vec![vec![[3, 6], [8, 12], [20, 34]]]);
        assert_eq!(commands(&g), vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
    }
}
