//! Coordinate reference systems: reading them from sources, `--srs` overrides, and the
//! transformation to the store's WGS84 lon/lat.
//!
//! We go through GDAL's OGRCoordinateTransformation (PROJ underneath, Debian's PROJ 9.1
//! with its own proj.db) rather than the `proj` crate: GDAL is already linked for reading,
//! so this adds no second PROJ build, no PROJ_DATA juggling, and the same PROJ pipeline
//! that `ogr2ogr -t_srs EPSG:4326` would choose (including the TWD67→TWD97 datum shift).

use crate::ImportError;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

/// Parses a user-given CRS: "EPSG:3826", "3826", "urn:ogc:def:crs:EPSG::3826", WKT or PROJ.
pub fn parse_srs(text: &str) -> Result<SpatialRef, ImportError> {
    let t = text.trim();
    let srs = if let Ok(code) = t.parse::<u32>() { SpatialRef::from_epsg(code) } else { SpatialRef::from_definition(t) };
    let mut srs = srs.map_err(|_| ImportError::BadCrs(text.to_string()))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// A short label for a CRS: "EPSG:3826" when it can be identified, else its name.
pub fn label(srs: &SpatialRef) -> String {
    let mut s = srs.clone();
    if s.auth_name().is_none() {
        let _ = s.auto_identify_epsg();
    }
    match (s.auth_name(), s.auth_code()) {
        (Some(name), Ok(code)) => format!("{name}:{code}"),
        _ => s.name().unwrap_or_else(|| "unknown CRS".into()),
    }
}

pub fn wgs84() -> SpatialRef {
    let mut srs = SpatialRef::from_epsg(4326).expect("EPSG:4326 is in every proj.db");
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

/// TWD67 → WGS84 (≈ TWD97) Helmert parameters in common use in Taiwan (accurate to a few
/// metres). PROJ 9.1's database has no TWD67 transformation, only a "ballpark" that is
/// ~850 m off, so sources on the TWD67 datum get these parameters explicitly.
pub const TWD67_TOWGS84: &str = "+towgs84=-752,-358,-179,-0.0000011698,0.0000018398,0.0000009822,0.00002329";

fn is_twd67(srs: &SpatialRef) -> bool {
    let datum = srs.get_attr_value("DATUM", 0).ok().flatten().unwrap_or_default();
    let geog = srs.geog_cs().ok().and_then(|g| g.name()).unwrap_or_default();
    datum.contains("Taiwan_Datum_1967") || datum.contains("TWD67") || geog.contains("TWD67")
}

/// The source CRS with the TWD67 datum shift attached where it applies.
fn with_datum_shift(source: &SpatialRef) -> Result<SpatialRef, ImportError> {
    if !is_twd67(source) {
        return Ok(source.clone());
    }
    let proj4 = source.to_proj4().map_err(|e| ImportError::Transform { from: label(source), reason: e.to_string() })?;
    let proj4 = proj4.split_whitespace().filter(|p| !p.starts_with("+towgs84")).collect::<Vec<_>>().join(" ");
    SpatialRef::from_proj4(&format!("{proj4} {TWD67_TOWGS84}")).map_err(|e| ImportError::Transform { from: label(source), reason: e.to_string() })
}

/// The transformation source → WGS84 lon/lat (x = longitude, y = latitude).
pub fn to_wgs84(source: &SpatialRef) -> Result<CoordTransform, ImportError> {
    let mut src = with_datum_shift(source)?;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &wgs84()).map_err(|e| ImportError::Transform { from: label(source), reason: e.to_string() })
}

/// The inverse: WGS84 lon/lat → source, with the same datum shift.
pub fn from_wgs84(target: &SpatialRef) -> Result<CoordTransform, ImportError> {
    let mut dst = with_datum_shift(target)?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&wgs84(), &dst).map_err(|e| ImportError::Transform { from: label(target), reason: e.to_string() })
}

/// WGS84 lon/lat → TWD97 TM2 (EPSG:3826), where areas of parcels are measured.
pub fn wgs84_to_twd97() -> CoordTransform {
    let mut twd97 = SpatialRef::from_epsg(3826).expect("EPSG:3826 is in every proj.db");
    twd97.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&wgs84(), &twd97).expect("WGS84 → TWD97 is always available")
}

/// Transforms coordinates in place, in one call (PROJ is much faster in batches).
pub fn transform(ct: &CoordTransform, xs: &mut [f64], ys: &mut [f64], zs: &mut [f64]) -> Result<(), String> {
    if xs.is_empty() {
        return Ok(());
    }
    ct.transform_coords(xs, ys, zs).map_err(|e| e.to_string())
}

/// Taiwan and its outlying islands (Kinmen, Matsu, Penghu, Dongsha, Taiping) in lon/lat,
/// generously: data falling wholly outside is almost always in the wrong CRS.
pub const TAIWAN_LONLAT: [f64; 4] = [114.0, 10.0, 124.5, 27.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twd97_and_twd67_land_in_taipei() {
        // Taipei 101, E 121.5645 N 25.0340, is at (306 965.5, 2 769 662.2) in TWD97 TM2.
        let ct = to_wgs84(&parse_srs("EPSG:3826").unwrap()).unwrap();
        let (mut x, mut y, mut z) = ([306_965.53], [2_769_662.22], [0.0]);
        transform(&ct, &mut x, &mut y, &mut z).unwrap();
        assert!((x[0] - 121.5645).abs() < 1e-6 && (y[0] - 25.034).abs() < 1e-6, "{x:?} {y:?}");
        // In TWD67 TM2 the same place is about 829 m west and 206 m north; without the
        // datum shift PROJ would put it ~850 m away.
        let ct67 = to_wgs84(&parse_srs("3828").unwrap()).unwrap();
        let (mut x, mut y, mut z) = ([306_136.81], [2_769_868.47], [0.0]);
        transform(&ct67, &mut x, &mut y, &mut z).unwrap();
        assert!((x[0] - 121.5645).abs() < 5e-5 && (y[0] - 25.034).abs() < 5e-5, "{x:?} {y:?}");
    }

    #[test]
    fn labels_and_bad_codes() {
        assert_eq!(label(&parse_srs("EPSG:3826").unwrap()), "EPSG:3826");
        assert!(matches!(parse_srs("EPSG:999999"), Err(ImportError::BadCrs(_))));
        assert!(matches!(parse_srs("not a crs"), Err(ImportError::BadCrs(_))));
    }
}
