//! Geometry checks and repairs applied to every imported feature, after reprojection to
//! WGS84: the right dimension for the layer kind, closed rings, no repeated points, valid
//! polygons (repaired with a constrained-triangulation MakeValid where that is sound),
//! coordinates on the Earth.

use formosa_store::{Coord, Geometry};
use geo::{Area, MakeValid, Validation};

/// What geometry a layer kind accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Polygons,
    Lines,
    /// One point a feature (a landmark, a shelter); a multipoint of one is that point.
    Point,
    /// Lines or polygons (rivers and lakes in one layer).
    LinesOrPolygons,
    Any,
}

/// The outcome for one geometry: kept (possibly with repairs noted) or skipped with a reason.
pub type Checked = Result<(Geometry, Vec<String>), String>;

fn type_name(g: &Geometry) -> &'static str {
    match g {
        Geometry::Point(_) => "a point",
        Geometry::MultiPoint(_) => "points",
        Geometry::MultiLineString(_) => "lines",
        Geometry::MultiPolygon(_) => "polygons",
    }
}

/// Drops consecutive repeated points (they make rings and lines degenerate).
fn dedup(cs: &mut Vec<Coord>) {
    cs.dedup_by(|a, b| a[0] == b[0] && a[1] == b[1]);
}

/// Checks and repairs a WGS84 geometry for a layer that expects `expect`.
pub fn check(geometry: Geometry, expect: Expect) -> Checked {
    if geometry.coords().any(|c| !c[0].is_finite() || !c[1].is_finite() || c[0].abs() > 180.0 || c[1].abs() > 90.0) {
        return Err("coordinates fall outside the Earth after reprojection (is the CRS right?)".into());
    }
    match (geometry, expect) {
        (Geometry::MultiPolygon(polys), Expect::Polygons | Expect::LinesOrPolygons | Expect::Any) => check_polygons(polys),
        (Geometry::MultiLineString(lines), Expect::Lines | Expect::LinesOrPolygons | Expect::Any) => check_lines(lines),
        (g @ (Geometry::Point(_) | Geometry::MultiPoint(_)), Expect::Any) => Ok((g, vec![])),
        (g @ Geometry::Point(_), Expect::Point) => Ok((g, vec![])),
        (Geometry::MultiPoint(points), Expect::Point) if points.len() == 1 => Ok((Geometry::Point(points[0]), vec![])),
        (Geometry::MultiPoint(points), Expect::Point) => Err(format!("expected one point, found {}", points.len())),
        (g, Expect::Polygons) => Err(format!("expected polygons, found {}", type_name(&g))),
        (g, Expect::Lines) => Err(format!("expected lines, found {}", type_name(&g))),
        (g, Expect::Point) => Err(format!("expected a point, found {}", type_name(&g))),
        (g, Expect::LinesOrPolygons) => Err(format!("expected lines or polygons, found {}", type_name(&g))),
    }
}

fn check_lines(lines: Vec<Vec<Coord>>) -> Checked {
    let mut notes = Vec::new();
    let total = lines.len();
    let kept: Vec<Vec<Coord>> = lines
        .into_iter()
        .map(|mut l| {
            dedup(&mut l);
            l
        })
        .filter(|l| l.len() >= 2)
        .collect();
    if kept.is_empty() {
        return Err("line has fewer than two distinct points".into());
    }
    if kept.len() < total {
        notes.push(format!("dropped {} degenerate line part(s)", total - kept.len()));
    }
    Ok((Geometry::MultiLineString(kept), notes))
}

fn check_polygons(polys: Vec<Vec<Vec<Coord>>>) -> Checked {
    let mut notes = Vec::new();
    let mut cleaned = Vec::with_capacity(polys.len());
    for rings in polys {
        let mut out_rings = Vec::with_capacity(rings.len());
        for (i, mut ring) in rings.into_iter().enumerate() {
            dedup(&mut ring);
            if ring.len() >= 3 && (ring[0][0] != ring[ring.len() - 1][0] || ring[0][1] != ring[ring.len() - 1][1]) {
                ring.push(ring[0]);
                notes.push("closed an unclosed ring".to_string());
            }
            if ring.len() < 4 {
                if i == 0 {
                    break; // no exterior: the whole polygon is degenerate
                }
                notes.push("dropped a degenerate hole".to_string());
                continue;
            }
            out_rings.push(ring);
        }
        if !out_rings.is_empty() {
            cleaned.push(out_rings);
        }
    }
    if cleaned.is_empty() {
        return Err("polygon has fewer than three distinct points".into());
    }
    let geometry = Geometry::MultiPolygon(cleaned);
    let geo::Geometry::MultiPolygon(mp) = geometry.to_geo() else { unreachable!("built as a multipolygon") };
    let all_have_area = mp.0.iter().all(has_area);
    if all_have_area && mp.is_valid() {
        return Ok((geometry, notes));
    }
    let problem = match mp.validation_errors().first() {
        Some(e) => e.to_string(),
        None => "a ring with no area".to_string(),
    };
    let mut repaired_parts = Vec::new();
    for p in &mp.0 {
        match p.make_valid() {
            Ok(valid) => repaired_parts.extend(valid.0),
            Err(e) => return Err(format!("invalid polygon ({problem}) that cannot be repaired: {e}")),
        }
    }
    let repaired = geo::MultiPolygon::new(repaired_parts);
    if repaired.0.is_empty() || !repaired.0.iter().any(has_area) {
        return Err(format!("polygon has no area ({problem})"));
    }
    notes.push(format!("repaired an invalid polygon: {problem}"));
    Ok((from_geo(&repaired), notes))
}

/// A polygon has area unless it is, to rounding, a line: its isoperimetric quotient
/// (4πA/P², 1 for a circle) is below 0.001. A 0.2 m × 200 m strip still passes (0.003);
/// three nearly collinear points 20 m apart do not.
fn has_area(p: &geo::Polygon<f64>) -> bool {
    use geo::{Euclidean, Length};
    let area = p.unsigned_area();
    let perimeter = Euclidean.length(p.exterior());
    area > 0.0 && perimeter > 0.0 && 4.0 * std::f64::consts::PI * area / (perimeter * perimeter) > 1e-3
}

fn from_geo(mp: &geo::MultiPolygon<f64>) -> Geometry {
    let ring = |ls: &geo::LineString<f64>| ls.0.iter().map(|c| [c.x, c.y, 0.0]).collect::<Vec<Coord>>();
    Geometry::MultiPolygon(mp.0.iter().map(|p| std::iter::once(ring(p.exterior())).chain(p.interiors().iter().map(ring)).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(pts: &[(f64, f64)]) -> Geometry {
        Geometry::MultiPolygon(vec![vec![pts.iter().map(|&(x, y)| [x, y, 0.0]).collect()]])
    }

    #[test]
    fn valid_square_passes_untouched() {
        let g = poly(&[(121.0, 25.0), (121.001, 25.0), (121.001, 25.001), (121.0, 25.001), (121.0, 25.0)]);
        let (out, notes) = check(g.clone(), Expect::Polygons).unwrap();
        assert_eq!(out, g);
        assert!(notes.is_empty());
    }

    #[test]
    fn unclosed_ring_is_closed() {
        let g = poly(&[(121.0, 25.0), (121.001, 25.0), (121.001, 25.001), (121.0, 25.001)]);
        let (out, notes) = check(g, Expect::Polygons).unwrap();
        let Geometry::MultiPolygon(p) = out else { panic!() };
        assert_eq!(p[0][0].len(), 5);
        assert_eq!(p[0][0][0], p[0][0][4]);
        assert_eq!(notes, vec!["closed an unclosed ring"]);
    }

    #[test]
    fn bow_tie_is_repaired_into_two_triangles() {
        let g = poly(&[(121.0, 25.0), (121.002, 25.002), (121.002, 25.0), (121.0, 25.002), (121.0, 25.0)]);
        let (out, notes) = check(g, Expect::Polygons).unwrap();
        let Geometry::MultiPolygon(p) = out else { panic!() };
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(notes[0].starts_with("repaired an invalid polygon"), "{notes:?}");
    }

    #[test]
    fn collapsed_polygon_is_skipped_with_a_reason() {
        let g = poly(&[(121.0, 25.0), (121.001, 25.001), (121.002, 25.002), (121.0, 25.0)]);
        let reason = check(g, Expect::Polygons).unwrap_err();
        assert!(reason.contains("no area"), "{reason}");
    }

    #[test]
    fn wrong_dimension_and_off_earth_coordinates_are_skipped() {
        let line = Geometry::MultiLineString(vec![vec![[121.0, 25.0, 0.0], [121.1, 25.1, 0.0]]]);
        assert_eq!(check(line, Expect::Polygons).unwrap_err(), "expected polygons, found lines");
        let far = Geometry::Point([306000.0, 2769000.0, 0.0]);
        assert!(check(far, Expect::Any).unwrap_err().contains("outside the Earth"));
    }
}
