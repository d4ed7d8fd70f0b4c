//! Label points of polygons: where a polygon's name goes. A property of the feature, not
//! of any tile, so it is computed once per row and kept with it (`memory::rows`): finding
//! an interior point is geo's relate machinery, and recomputing it for every polygon of
//! every tile was a third of an uncached tile's time on island-wide village polygons.

use crate::model::{Coord, Feature, Geometry};
use geo::{Area, InteriorPoint};

/// A feature with its label point (`None` for points, lines, and degenerate polygons).
pub type Labelled = (Feature, Option<(f64, f64)>);

/// A point inside the largest part of a polygon geometry (lon, lat); `None` for points
/// and lines. Inside, unlike a centroid, so a U-shaped district's name sits on it.
pub fn label_point(g: &Geometry) -> Option<(f64, f64)> {
    let Geometry::MultiPolygon(polygons) = g else { return None };
    let largest = polygons
        .iter()
        .filter(|rings| rings.first().is_some_and(|r| r.len() >= 4))
        .map(|rings| {
            let ring = |r: &Vec<Coord>| geo::LineString::from(r.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>());
            geo::Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
        })
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?;
    largest.interior_point().map(|p| (p.x(), p.y()))
}

/// Features paired with their label points, computed now (for rows not held in memory).
pub fn with_labels(features: Vec<Feature>) -> Vec<Labelled> {
    features
        .into_iter()
        .map(|f| {
            let label = label_point(&f.geometry);
            (f, label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_shape_label_is_inside_and_lines_have_none() {
        // A U: its centroid (2, 1.7) falls in the notch; the label point must not.
        let u = vec![[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 4.0, 0.0], [3.0, 4.0, 0.0], [3.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 4.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]];
        let tiny = vec![[10.0, 10.0, 0.0], [10.1, 10.0, 0.0], [10.1, 10.1, 0.0], [10.0, 10.0, 0.0]];
        let (x, y) = label_point(&Geometry::MultiPolygon(vec![vec![tiny], vec![u]])).unwrap();
        let in_notch = x > 1.0 && x < 3.0 && y > 1.0;
        assert!((0.0..=4.0).contains(&x) && (0.0..=4.0).contains(&y) && !in_notch, "({x}, {y})");
        assert_eq!(label_point(&Geometry::MultiLineString(vec![vec![[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]])), None);
    }
}
