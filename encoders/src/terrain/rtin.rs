//! RTIN (right-triangulated irregular network) meshing of a square height grid, after
//! Evans, Kirkpatrick & Townsend (2001) and the "Martini" formulation: every grid of
//! 2^k + 1 samples splits into a binary tree of right triangles; each split point carries
//! the largest error that skipping it (or anything below it) would cause, so extracting a
//! mesh for an error bound is one top-down walk. Neighbouring tiles that share an edge
//! split it identically (the error of an edge midpoint depends only on the edge's own
//! samples and children), so meshes join without cracks.

pub struct Rtin {
    grid: usize,
    /// Per triangle: a.x, a.y, b.x, b.y (the hypotenuse ends); c follows from them.
    coords: Vec<u16>,
    parents: usize,
}

/// A mesh in grid coordinates: vertices (x right, y down) and CCW-on-screen triangles.
pub struct GridMesh {
    pub vertices: Vec<[u16; 2]>,
    pub triangles: Vec<[u32; 3]>,
}

impl Rtin {
    /// `grid` samples per side: 2^k + 1.
    pub fn new(grid: usize) -> Rtin {
        let size = grid - 1;
        assert!(size.is_power_of_two() && size <= 1 << 15, "grid must be 2^k + 1");
        let triangles = size * size * 2 - 2;
        let mut coords = vec![0u16; triangles * 4];
        for i in 0..triangles {
            let mut id = i + 2;
            let (mut ax, mut ay, mut bx, mut by, mut cx, mut cy) = (0, 0, 0, 0, 0, 0);
            if id & 1 == 1 {
                (bx, by, cx) = (size, size, size);
            } else {
                (ax, ay, cy) = (size, size, size);
            }
            loop {
                id >>= 1;
                if id <= 1 {
                    break;
                }
                let (mx, my) = ((ax + bx) >> 1, (ay + by) >> 1);
                if id & 1 == 1 {
                    (bx, by, ax, ay) = (ax, ay, cx, cy);
                } else {
                    (ax, ay, bx, by) = (bx, by, cx, cy);
                }
                (cx, cy) = (mx, my);
            }
            coords[i * 4..i * 4 + 4].copy_from_slice(&[ax as u16, ay as u16, bx as u16, by as u16]);
        }
        Rtin { grid, coords, parents: triangles - size * size }
    }

    pub fn grid(&self) -> usize {
        self.grid
    }

    /// For each split point, the largest height error (metres, for heights in metres) of
    /// not splitting there: the farthest any sample inside either triangle that shares
    /// the split point lies from that triangle's plane, or anything deeper. Strict, unlike
    /// the hypotenuse-only estimate of the original Martini: every left-out sample ends
    /// up within the bound of the mesh.
    pub fn errors(&self, heights: &[f32]) -> Vec<f32> {
        assert_eq!(heights.len(), self.grid * self.grid);
        let g = self.grid;
        let mut errors = vec![0f32; g * g];
        for i in (0..self.coords.len() / 4).rev() {
            let [ax, ay, bx, by] = [0, 1, 2, 3].map(|j| self.coords[i * 4 + j] as usize);
            let (mx, my) = ((ax + bx) >> 1, (ay + by) >> 1);
            let (cx, cy) = (mx + my - ay, my + ax - mx);
            let middle = my * g + mx;
            let mut e = errors[middle].max(plane_error(heights, g, [ax, ay], [bx, by], [cx, cy]));
            if i < self.parents {
                let left = ((ay + cy) >> 1) * g + ((ax + cx) >> 1);
                let right = ((by + cy) >> 1) * g + ((bx + cx) >> 1);
                e = e.max(errors[left]).max(errors[right]);
            }
            errors[middle] = e;
        }
        errors
    }

    /// The coarsest mesh whose every left-out sample lies within `max_error` of it and
    /// whose triangle legs span at most `max_leg` grid cells (the curvature of the Earth:
    /// a flat tile at z0 would otherwise be two triangles across the whole world). Both
    /// triangles on a hypotenuse have the same legs, so the rule keeps the mesh conforming.
    pub fn mesh(&self, errors: &[f32], max_error: f32, max_leg: u16) -> GridMesh {
        let g = self.grid;
        let max = (g - 1) as u16;
        let mut index = vec![u32::MAX; g * g];
        let mut out = GridMesh { vertices: Vec::new(), triangles: Vec::new() };
        let mut stack = vec![([0, 0], [max, max], [max, 0]), ([max, max], [0, 0], [0, max])];
        while let Some((a, b, c)) = stack.pop() {
            let m = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
            let leg = a[0].abs_diff(c[0]).max(a[1].abs_diff(c[1]));
            let long = a[0].abs_diff(c[0]) + a[1].abs_diff(c[1]) > 1;
            if long && (errors[m[1] as usize * g + m[0] as usize] > max_error || leg > max_leg) {
                stack.push((c, a, m));
                stack.push((b, c, m));
                continue;
            }
            // Counter-clockwise with y up (north), as quantized-mesh and glTF expect: in
            // grid space (y down) a negative cross product. Ordered before numbering, so
            // vertices are numbered in order of first use (quantized-mesh's high-water
            // mark coding relies on it).
            let cross = (b[0] as i32 - a[0] as i32) * (c[1] as i32 - a[1] as i32) - (b[1] as i32 - a[1] as i32) * (c[0] as i32 - a[0] as i32);
            let ordered = if cross > 0 { [a, c, b] } else { [a, b, c] };
            let tri = ordered.map(|p| {
                let slot = &mut index[p[1] as usize * g + p[0] as usize];
                if *slot == u32::MAX {
                    *slot = out.vertices.len() as u32;
                    out.vertices.push(p);
                }
                *slot
            });
            out.triangles.push(tri);
        }
        out
    }
}

/// The largest |sample − plane(a, b, c)| over the grid samples inside triangle abc,
/// row by row over each row's inside span (this is most of a terrain tile's cost).
fn plane_error(h: &[f32], g: usize, a: [usize; 2], b: [usize; 2], c: [usize; 2]) -> f32 {
    let [a, b, c] = [a, b, c].map(|p| [p[0] as i64, p[1] as i64]);
    let area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    if area == 0 {
        return 0.0;
    }
    let at = |p: [i64; 2]| h[p[1] as usize * g + p[0] as usize] as f64;
    let (ha, hb, hc) = (at(a), at(b), at(c));
    // The plane h = gx·x + gy·y + h0 through the three corners.
    let (area_f, (dx1, dy1), (dx2, dy2)) = (area as f64, ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64), ((c[0] - a[0]) as f64, (c[1] - a[1]) as f64));
    let gx = ((hb - ha) * dy2 - (hc - ha) * dy1) / area_f;
    let gy = ((hc - ha) * dx1 - (hb - ha) * dx2) / area_f;
    let h0 = ha - gx * a[0] as f64 - gy * a[1] as f64;
    // Inside: each edge function e(x, y) = (q − p) × (s − p), signed like the area, ≥ 0.
    let sign = area.signum();
    let edges = [(a, b), (b, c), (c, a)];
    let (y0, y1) = (a[1].min(b[1]).min(c[1]), a[1].max(b[1]).max(c[1]));
    let (xmin, xmax) = (a[0].min(b[0]).min(c[0]), a[0].max(b[0]).max(c[0]));
    let mut worst = 0f64;
    for y in y0..=y1 {
        let (mut lo, mut hi) = (xmin, xmax);
        for (p, q) in edges {
            // e(x) = (qx − px)(y − py) − (qy − py)(x − px) = k·x + m, times sign.
            let k = -(q[1] - p[1]) * sign;
            let m = ((q[0] - p[0]) * (y - p[1]) + (q[1] - p[1]) * p[0]) * sign;
            if k > 0 {
                lo = lo.max((-m).div_euclid(k) + i64::from((-m).rem_euclid(k) != 0));
            } else if k < 0 {
                hi = hi.min(m.div_euclid(-k));
            } else if m < 0 {
                hi = lo - 1;
            }
        }
        let row = &h[y as usize * g..];
        for x in lo..=hi {
            let plane = gx * x as f64 + gy * y as f64 + h0;
            worst = worst.max((plane - row[x as usize] as f64).abs());
        }
    }
    worst as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_heights(g: usize, f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
        (0..g * g).map(|i| f((i % g) as f32, (i / g) as f32)).collect()
    }

    #[test]
    fn row_spans_find_the_same_worst_sample_as_a_full_scan() {
        let g = 33;
        let rtin = Rtin::new(g);
        let h = grid_heights(g, |x, y| ((x * 1.3).sin() * 9.0 + (y * 0.9).cos() * 7.0) * (1.0 + x / 40.0));
        for i in 0..rtin.coords.len() / 4 {
            let [ax, ay, bx, by] = [0, 1, 2, 3].map(|j| rtin.coords[i * 4 + j] as usize);
            let (mx, my) = ((ax + bx) >> 1, (ay + by) >> 1);
            let (cx, cy) = (mx + my - ay, my + ax - mx);
            let fast = plane_error(&h, g, [ax, ay], [bx, by], [cx, cy]) as f64;
            // Full scan with barycentric weights.
            let (p, q, r) = ([ax as f64, ay as f64], [bx as f64, by as f64], [cx as f64, cy as f64]);
            let d = (q[1] - r[1]) * (p[0] - r[0]) + (r[0] - q[0]) * (p[1] - r[1]);
            let mut slow = 0f64;
            for y in 0..g {
                for x in 0..g {
                    let (px, py) = (x as f64, y as f64);
                    let w0 = ((q[1] - r[1]) * (px - r[0]) + (r[0] - q[0]) * (py - r[1])) / d;
                    let w1 = ((r[1] - p[1]) * (px - r[0]) + (p[0] - r[0]) * (py - r[1])) / d;
                    let w2 = 1.0 - w0 - w1;
                    if w0 >= -1e-9 && w1 >= -1e-9 && w2 >= -1e-9 {
                        let plane = w0 * h[ay * g + ax] as f64 + w1 * h[by * g + bx] as f64 + w2 * h[cy * g + cx] as f64;
                        slow = slow.max((plane - h[y * g + x] as f64).abs());
                    }
                }
            }
            assert!((fast - slow).abs() < 1e-3, "triangle {i}: {fast} vs {slow}");
        }
    }

    #[test]
    fn a_plane_needs_two_triangles_and_a_bump_needs_more() {
        let rtin = Rtin::new(17);
        let plane = grid_heights(17, |x, y| 3.0 * x - 2.0 * y + 100.0);
        let m = rtin.mesh(&rtin.errors(&plane), 0.01, u16::MAX);
        assert_eq!(m.triangles.len(), 2);
        assert_eq!(m.vertices.len(), 4);
        let bump = grid_heights(17, |x, y| if (x, y) == (5.0, 9.0) { 50.0 } else { 0.0 });
        let errors = rtin.errors(&bump);
        let fine = rtin.mesh(&errors, 1.0, u16::MAX);
        assert_eq!(rtin.mesh(&rtin.errors(&plane), 0.01, 4).triangles.len(), 16, "legs of at most 4 cells (diagonal 4×4 legs, hypotenuses of 8)");
        assert!(fine.vertices.contains(&[5, 9]), "the bump's sample is kept");
        assert!(rtin.mesh(&errors, 60.0, u16::MAX).triangles.len() == 2, "a 50 m bump within a 60 m bound is dropped");
    }

    #[test]
    fn every_sample_is_within_the_bound_and_triangles_tile_the_square() {
        let g = 33;
        let rtin = Rtin::new(g);
        let h = grid_heights(g, |x, y| (x * 0.7).sin() * 20.0 + (y * 0.3).cos() * 15.0 + x * y * 0.05);
        let errors = rtin.errors(&h);
        for bound in [0.5f32, 2.0, 8.0] {
            let m = rtin.mesh(&errors, bound, 8);
            let mut area = 0.0;
            for t in &m.triangles {
                let [p, q, r] = t.map(|i| m.vertices[i as usize].map(|c| c as f64));
                let cross = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
                assert!(cross < 0.0, "counter-clockwise with y up");
                area += -cross / 2.0;
                // Every grid sample inside this triangle is within the bound of the plane.
                let (x0, x1) = (p[0].min(q[0]).min(r[0]) as usize, p[0].max(q[0]).max(r[0]) as usize);
                let (y0, y1) = (p[1].min(q[1]).min(r[1]) as usize, p[1].max(q[1]).max(r[1]) as usize);
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        let (px, py) = (x as f64, y as f64);
                        let d = (q[1] - r[1]) * (p[0] - r[0]) + (r[0] - q[0]) * (p[1] - r[1]);
                        let w0 = ((q[1] - r[1]) * (px - r[0]) + (r[0] - q[0]) * (py - r[1])) / d;
                        let w1 = ((r[1] - p[1]) * (px - r[0]) + (p[0] - r[0]) * (py - r[1])) / d;
                        let w2 = 1.0 - w0 - w1;
                        if w0 < -1e-9 || w1 < -1e-9 || w2 < -1e-9 {
                            continue;
                        }
                        let [hp, hq, hr] = t.map(|i| {
                            let v = m.vertices[i as usize];
                            h[v[1] as usize * g + v[0] as usize] as f64
                        });
                        let interp = w0 * hp + w1 * hq + w2 * hr;
                        assert!((interp - h[y * g + x] as f64).abs() <= bound as f64 + 1e-3, "sample {x},{y} off by more than {bound}");
                    }
                }
            }
            assert!((area - ((g - 1) * (g - 1)) as f64).abs() < 1e-6, "triangles cover the square exactly once");
        }
    }
}
