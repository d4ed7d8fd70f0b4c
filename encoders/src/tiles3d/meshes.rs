//! Solid meshes in a local east-north-up frame: buildings as extruded footprints (walls
//! and a flat roof), pipes as closed tubes. Output axes are glTF's (x east, y up,
//! z south), so a tile's ENU→ECEF transform places them on the globe.

use super::glb::Part;
use geo::TriangulateEarcut;

/// East-north-up frame at a point on the WGS84 ellipsoid.
pub struct Enu {
    origin: [f64; 3],
    east: [f64; 3],
    north: [f64; 3],
    up: [f64; 3],
}

impl Enu {
    pub fn at(lon: f64, lat: f64) -> Enu {
        let (l, p) = (lon.to_radians(), lat.to_radians());
        Enu {
            origin: crate::terrain::quantized_mesh::to_ecef(lon, lat, 0.0),
            east: [-l.sin(), l.cos(), 0.0],
            north: [-p.sin() * l.cos(), -p.sin() * l.sin(), p.cos()],
            up: [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()],
        }
    }

    /// Geodetic (degrees, ellipsoidal metres) → local (east, north, up) metres.
    pub fn local(&self, lon: f64, lat: f64, h: f64) -> [f64; 3] {
        let p = crate::terrain::quantized_mesh::to_ecef(lon, lat, h);
        let d = [p[0] - self.origin[0], p[1] - self.origin[1], p[2] - self.origin[2]];
        [dot(d, self.east), dot(d, self.north), dot(d, self.up)]
    }

    /// The tile transform (column-major 4×4): local ENU → ECEF.
    pub fn transform(&self) -> [f64; 16] {
        let (e, n, u, o) = (self.east, self.north, self.up, self.origin);
        [e[0], e[1], e[2], 0.0, n[0], n[1], n[2], 0.0, u[0], u[1], u[2], 0.0, o[0], o[1], o[2], 1.0]
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn unit(a: [f64; 3]) -> [f64; 3] {
    let l = dot(a, a).sqrt();
    if l > 0.0 {
        [a[0] / l, a[1] / l, a[2] / l]
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// ENU → glTF axes.
fn gl(p: [f64; 3]) -> [f32; 3] {
    [p[0] as f32, p[2] as f32, -p[1] as f32]
}

/// Extrudes one polygon (rings in local east/north metres, exterior first) from `base`
/// to `top` (metres up): a closed solid of outward walls, a roof and a floor. Rings may come in either
/// orientation; they are normalised (exterior counter-clockwise, holes clockwise).
pub fn extrude(part: &mut Part, rings: &[Vec<[f64; 2]>], base: f64, top: f64, feature: u32) {
    let mut rings: Vec<Vec<[f64; 2]>> = rings.iter().map(|r| dedupe_closed(r)).filter(|r| r.len() >= 3).collect();
    if rings.is_empty() || top <= base {
        return;
    }
    for (i, r) in rings.iter_mut().enumerate() {
        let ccw = signed_area(r) > 0.0;
        if ccw != (i == 0) {
            r.reverse();
        }
    }
    // Walls: a quad per edge, its own four vertices so the normal is flat.
    for r in &rings {
        for k in 0..r.len() {
            let (a, b) = (r[k], r[(k + 1) % r.len()]);
            let d = [b[0] - a[0], b[1] - a[1]];
            if d[0] == 0.0 && d[1] == 0.0 {
                continue;
            }
            let n = gl(unit([d[1], -d[0], 0.0]));
            let i0 = part.vertex(gl([a[0], a[1], base]), n, feature);
            let i1 = part.vertex(gl([b[0], b[1], base]), n, feature);
            let i2 = part.vertex(gl([b[0], b[1], top]), n, feature);
            let i3 = part.vertex(gl([a[0], a[1], top]), n, feature);
            part.indices.extend_from_slice(&[i0, i1, i2, i0, i2, i3]);
        }
    }
    // Roof (facing up) and floor (facing down), from one triangulation.
    let ring = |r: &Vec<[f64; 2]>| geo::LineString::from(r.iter().map(|p| (p[0], p[1])).chain(std::iter::once((r[0][0], r[0][1]))).collect::<Vec<_>>());
    let polygon = geo::Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect());
    let raw = polygon.earcut_triangles_raw();
    for (z, facing_up) in [(top, true), (base, false)] {
        let n = gl([0.0, 0.0, if facing_up { 1.0 } else { -1.0 }]);
        let first = part.positions.len() as u32;
        for xy in &raw.vertices {
            part.vertex(gl([xy[0], xy[1], z]), n, feature);
        }
        for t in raw.triangle_indices.chunks_exact(3) {
            let [a, b, c] = [t[0], t[1], t[2]];
            let (pa, pb, pc) = (raw.vertices[a], raw.vertices[b], raw.vertices[c]);
            let ccw = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0]) >= 0.0;
            let (b, c) = if ccw == facing_up { (b, c) } else { (c, b) };
            part.indices.extend_from_slice(&[first + a as u32, first + b as u32, first + c as u32]);
        }
    }
}

/// A ring without its closing point and without repeated points.
fn dedupe_closed(r: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> = Vec::with_capacity(r.len());
    for p in r {
        if out.last() != Some(p) {
            out.push(*p);
        }
    }
    if out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

fn signed_area(r: &[[f64; 2]]) -> f64 {
    (0..r.len())
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

/// A closed tube of `radius` along `line` (local ENU metres), `segments` around. Rings
/// sit at every vertex in the bisector plane of the adjacent segments (stretched across
/// the bend, a mitre joint: the ring is where the two cylinders meet) and are carried
/// along by parallel transport, so consecutive segments share their ring: no gaps.
pub fn tube(part: &mut Part, line: &[[f64; 3]], radius: f64, segments: usize, feature: u32) {
    let mut pts: Vec<[f64; 3]> = Vec::with_capacity(line.len());
    for p in line {
        if pts.last().is_none_or(|q: &[f64; 3]| dot(sub(*p, *q), sub(*p, *q)) > 1e-6) {
            pts.push(*p);
        }
    }
    if pts.len() < 2 || radius <= 0.0 {
        return;
    }
    let seg_dir: Vec<[f64; 3]> = pts.windows(2).map(|w| unit(sub(w[1], w[0]))).collect();
    let tangent = |k: usize| -> [f64; 3] {
        if k == 0 {
            seg_dir[0]
        } else if k == pts.len() - 1 {
            seg_dir[k - 1]
        } else {
            let s = [seg_dir[k - 1][0] + seg_dir[k][0], seg_dir[k - 1][1] + seg_dir[k][1], seg_dir[k - 1][2] + seg_dir[k][2]];
            if dot(s, s) < 1e-12 {
                seg_dir[k]
            } else {
                unit(s)
            }
        }
    };
    let t0 = tangent(0);
    let reference = if t0[2].abs() < 0.9 { [0.0, 0.0, 1.0] } else { [1.0, 0.0, 0.0] };
    let mut normal = unit(cross(t0, reference));
    let mut rings = Vec::with_capacity(pts.len());
    for (k, p) in pts.iter().enumerate() {
        let t = tangent(k);
        normal = unit(sub(normal, scale(t, dot(normal, t))));
        let binormal = cross(t, normal);
        // Mitre: across the bend (towards its inside, `m`) the ring is 1/cos(half angle)
        // wide.
        let (m, stretch) = if k > 0 && k < pts.len() - 1 {
            let inside = sub(seg_dir[k], seg_dir[k - 1]);
            let cos_half = dot(t, seg_dir[k]).clamp(0.2, 1.0);
            (if dot(inside, inside) > 1e-12 { unit(inside) } else { [0.0; 3] }, 1.0 / cos_half)
        } else {
            ([0.0; 3], 1.0)
        };
        let first = part.positions.len() as u32;
        for j in 0..segments {
            let a = std::f64::consts::TAU * j as f64 / segments as f64;
            let radial = [normal[0] * a.cos() + binormal[0] * a.sin(), normal[1] * a.cos() + binormal[1] * a.sin(), normal[2] * a.cos() + binormal[2] * a.sin()];
            let offset = add(scale(radial, radius), scale(m, dot(radial, m) * radius * (stretch - 1.0)));
            part.vertex(gl(add(*p, offset)), gl(radial), feature);
        }
        rings.push((first, t));
    }
    let s = segments as u32;
    for w in rings.windows(2) {
        let (r0, r1) = (w[0].0, w[1].0);
        for j in 0..s {
            let j1 = (j + 1) % s;
            part.indices.extend_from_slice(&[r0 + j, r0 + j1, r1 + j1, r0 + j, r1 + j1, r1 + j]);
        }
    }
    // End caps: a fan around the end point, facing away from the tube.
    for (end, (ring, t), sign) in [(pts[0], rings[0], -1.0), (pts[pts.len() - 1], rings[rings.len() - 1], 1.0)] {
        let n = gl(scale(t, sign));
        let centre = part.vertex(gl(end), n, feature);
        let rim: Vec<u32> = (0..s).map(|j| part.vertex(part.positions[(ring + j) as usize], n, feature)).collect();
        for j in 0..s as usize {
            let (a, b) = (rim[j], rim[(j + 1) % s as usize]);
            if sign > 0.0 {
                part.indices.extend_from_slice(&[centre, a, b]);
            } else {
                part.indices.extend_from_slice(&[centre, b, a]);
            }
        }
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twice the signed volume (divergence theorem): positive when triangles face out.
    fn volume(p: &Part) -> f64 {
        p.indices
            .chunks(3)
            .map(|t| {
                let [a, b, c] = [t[0], t[1], t[2]].map(|i| p.positions[i as usize].map(f64::from));
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    #[test]
    fn a_box_building_is_closed_and_faces_out() {
        let mut part = Part::default();
        // Clockwise on purpose: it is normalised.
        let square = vec![[0.0, 0.0], [0.0, 10.0], [20.0, 10.0], [20.0, 0.0], [0.0, 0.0]];
        extrude(&mut part, &[square], 5.0, 35.0, 7);
        assert!((volume(&part) - 20.0 * 10.0 * 30.0).abs() < 1e-3, "volume {}", volume(&part));
        assert!(part.feature_ids.iter().all(|f| *f == 7.0));
        assert!(part.normals.iter().all(|n| ((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) - 1.0).abs() < 1e-6));
    }

    #[test]
    fn a_courtyard_is_subtracted() {
        let mut part = Part::default();
        let outer = vec![[0.0, 0.0], [30.0, 0.0], [30.0, 30.0], [0.0, 30.0]];
        let hole = vec![[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]];
        extrude(&mut part, &[outer, hole], 0.0, 10.0, 0);
        assert!((volume(&part) - (900.0 - 100.0) * 10.0).abs() < 1e-3, "volume {}", volume(&part));
    }

    #[test]
    fn a_bent_tube_is_closed_and_its_rings_keep_the_radius() {
        let mut part = Part::default();
        let line = [[0.0, 0.0, -2.0], [10.0, 0.0, -2.0], [10.0, 10.0, -2.5], [20.0, 12.0, -2.5]];
        tube(&mut part, &line, 0.25, 8, 3);
        let v = volume(&part);
        // An octagonal prism of radius 0.25 (0.177 m²) along 30.2 m of centre line: 5.34 m³,
        // give or take what the mitres add and take at the two bends.
        assert!((v - 5.34).abs() < 0.15, "volume {v}");
        // Ring vertices sit `radius` from their centre (the first ring).
        for j in 0..8 {
            let p = part.positions[j].map(f64::from);
            let d = ((p[0]).powi(2) + (p[1] + 2.0).powi(2) + p[2].powi(2)).sqrt();
            assert!((d - 0.25).abs() < 1e-5, "ring radius {d}");
        }
    }
}
