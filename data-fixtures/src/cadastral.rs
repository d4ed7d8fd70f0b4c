//! Cadastral parcels (地籍圖) as agencies deliver them: Shapefiles in TWD97 TM2
//! with Big5 (cp950) attribute tables, and one older sheet still in TWD67.

use std::path::Path;

use gdal::spatial_ref::{CoordTransform, SpatialRef};
use gdal::vector::{LayerOptions, OGRwkbGeometryType};

use crate::city::{Block, Grid, Parcel};
use crate::gdalio::{self, real, string, FeatureWriter, Field};
use crate::geom::{Geom, Polygon};
use crate::rng::Rng;
use crate::{Progress, Result};

const T_AREA: i64 = 20;

/// Fixed DBF "last update" date so outputs are byte-for-byte reproducible
/// (GDAL writes today's date otherwise).
pub const DBF_DATE: &str = "DBF_DATE_LAST_UPDATE=2024-01-01";

/// Field layout of the cp950 parcels Shapefile. DBF field names are limited to
/// 10 bytes *in the file's encoding*: every name here is ≤ 4 CJK characters,
/// 8 bytes in cp950. String widths are bytes too (2 per CJK character in cp950).
pub const PARCEL_FIELDS: &[Field] = &[
    string("地號", 9),      // "0512-0003": 母號-子號
    string("段名", 24),     // e.g. 信義段一小段
    string("縣市代碼", 5),  // 63000 = 臺北市
    string("鄉鎮代碼", 8),  // e.g. 63000020 = 信義區
    string("使用分區", 12), // 住宅區, 商業區, 公園用地…
    real("面積", 12, 2),    // m²; NULL for ~10% so importers must compute it
];

/// One parcel with its attributes, geometry in EPSG:3826.
pub struct ParcelRecord {
    pub number: String,
    pub section: String,
    pub county: &'static str,
    pub town: &'static str,
    pub zone: &'static str,
    pub area: Option<f64>,
    pub geom: Geom,
}

/// Parcels of one block with attributes, in world (EPSG:3826) coordinates.
pub fn block_records(grid: &Grid, b: &Block, parcels: &[Parcel]) -> Vec<ParcelRecord> {
    let sec = grid.section(b);
    parcels
        .iter()
        .map(|p| {
            let parts: Vec<Polygon> = p.parts.iter().map(|poly| poly.map(|q| grid.world(q))).collect();
            let geom = if parts.len() == 1 { Geom::Polygon(parts.into_iter().next().unwrap()) } else { Geom::MultiPolygon(parts) };
            // Area left empty on ~10% of parcels, as in real exports.
            let null_area = Rng::derive(grid.seed, &[T_AREA, b.i, b.j, p.sub as i64]).chance(0.1);
            let area = (!null_area).then(|| (geom.area() * 100.0).round() / 100.0);
            ParcelRecord {
                number: format!("{:04}-{:04}", sec.mother, sec.sub_base + p.sub),
                section: sec.name.clone(),
                county: sec.county_code,
                town: sec.town_code,
                zone: p.zone.zh(),
                area,
                geom,
            }
        })
        .collect()
}

/// Write parcels of `blocks` (stopping at `limit` parcels) to a Shapefile in
/// EPSG:3826 with a cp950 DBF. Returns the number written.
pub fn write_parcels_cp950(path: &Path, grid: &Grid, blocks: impl Iterator<Item = Block>, limit: usize, progress: &mut Progress) -> Result<usize> {
    write_parcels(path, grid, blocks, limit, "ENCODING=CP950", progress)
}

pub fn write_parcels(path: &Path, grid: &Grid, blocks: impl Iterator<Item = Block>, limit: usize, encoding_option: &str, progress: &mut Progress) -> Result<usize> {
    let mut ds = gdalio::create_vector("ESRI Shapefile", path)?;
    let srs = gdalio::srs(3826)?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("parcels").to_string();
    let layer = ds.create_layer(LayerOptions { name: &name, srs: Some(&srs), ty: OGRwkbGeometryType::wkbPolygon, options: Some(&[encoding_option, DBF_DATE]) })?;
    gdalio::create_fields(&layer, PARCEL_FIELDS)?;
    let mut w = FeatureWriter::new(&layer)?;
    let mut n = 0;
    'blocks: for b in blocks {
        for rec in block_records(grid, &b, &grid.parcels(&b)) {
            if n >= limit {
                break 'blocks;
            }
            w.set_str(0, &rec.number)?;
            w.set_str(1, &rec.section)?;
            w.set_str(2, rec.county)?;
            w.set_str(3, rec.town)?;
            w.set_str(4, rec.zone)?;
            w.set_opt_f64(5, rec.area);
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

/// Fields of the TWD67 sheet: an older export with English field names, UTF-8.
pub const TWD67_FIELDS: &[Field] = &[string("LANDNO", 9), string("SECTION", 40), string("COUNTY", 5), string("TOWN", 8), string("ZONE", 24), real("AREA", 12, 2)];

/// The TWD97 → TWD67 datum shift we apply. PROJ 9.1's database only knows a
/// *ballpark* EPSG:3826 → EPSG:3828 operation (ellipsoid change only, ~10 m),
/// whereas real TWD67 TM2 coordinates differ from TWD97 by about (−828 m, +207 m).
/// We write real-looking TWD67 coordinates using the Helmert parameters in
/// common use in Taiwan (the same string `formosa-importers` attaches to TWD67
/// sources); importers must apply them to land this sheet next to the TWD97
/// parcels. (The rotation and scale terms are negligible; the shift is what counts.)
pub const TWD67_TOWGS84: &str = "+towgs84=-752,-358,-179,-0.0000011698,0.0000018398,0.0000009822,0.00002329";

/// TWD67 TM2 with the Helmert above attached (for transforms, not for the .prj).
/// Built from a PROJ string: setting TOWGS84 on the EPSG:3828 object
/// (OSRSetTOWGS84) had no effect here: the transform stayed the ballpark one.
pub fn twd67_with_towgs84() -> Result<SpatialRef> {
    let mut s = SpatialRef::from_proj4(&format!(
        "+proj=tmerc +lat_0=0 +lon_0=121 +k=0.9999 +x_0=250000 +y_0=0 +ellps=aust_SA \
         {TWD67_TOWGS84} +units=m +no_defs"
    ))?;
    s.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

/// Write one older cadastral sheet in TWD67 TM2 (EPSG:3828): parcels of
/// `blocks` until at least `min_parcels`, converted from EPSG:3826.
pub fn write_twd67_sheet(path: &Path, grid: &Grid, blocks: &[Block], min_parcels: usize) -> Result<usize> {
    let mut ds = gdalio::create_vector("ESRI Shapefile", path)?;
    let srs67 = gdalio::srs(3828)?;
    let ct = CoordTransform::new(&gdalio::srs(3826)?, &twd67_with_towgs84()?)?;
    let layer = ds.create_layer(LayerOptions { name: "twd67_sheet", srs: Some(&srs67), ty: OGRwkbGeometryType::wkbPolygon, options: Some(&["ENCODING=UTF-8", DBF_DATE]) })?;
    gdalio::create_fields(&layer, TWD67_FIELDS)?;
    let mut w = FeatureWriter::new(&layer)?;
    let mut n = 0;
    for b in blocks {
        if n >= min_parcels {
            break;
        }
        for rec in block_records(grid, b, &grid.parcels(b)) {
            let geom = transform_geom(&ct, &rec.geom)?;
            w.set_str(0, &rec.number)?;
            w.set_str(1, &rec.section)?;
            w.set_str(2, rec.county)?;
            w.set_str(3, rec.town)?;
            w.set_str(4, rec.zone)?;
            // The sheet states areas as measured on the TWD67 plane.
            w.set_opt_f64(5, rec.area.map(|_| (geom.area() * 100.0).round() / 100.0));
            w.set_geometry(Some(&geom))?;
            w.write()?;
            n += 1;
        }
    }
    drop(w);
    ds.close()?;
    Ok(n)
}

/// Transform every vertex of a polygonal/linear geometry (2D).
pub fn transform_geom(ct: &CoordTransform, g: &Geom) -> Result<Geom> {
    let tp =
        |p: &Polygon| -> Result<Polygon> { Ok(Polygon { exterior: transform_pts(ct, &p.exterior)?, holes: p.holes.iter().map(|h| transform_pts(ct, h)).collect::<Result<_>>()? }) };
    Ok(match g {
        Geom::Polygon(p) => Geom::Polygon(tp(p)?),
        Geom::MultiPolygon(ps) => Geom::MultiPolygon(ps.iter().map(tp).collect::<Result<_>>()?),
        Geom::LineString(pts) => Geom::LineString(transform_pts(ct, pts)?),
        Geom::LineStringZ(pts) => {
            let xy: Vec<_> = pts.iter().map(|p| (p.0, p.1)).collect();
            let t = transform_pts(ct, &xy)?;
            Geom::LineStringZ(t.into_iter().zip(pts).map(|((x, y), p)| (x, y, p.2)).collect())
        }
    })
}

pub fn transform_pts(ct: &CoordTransform, pts: &[(f64, f64)]) -> Result<Vec<(f64, f64)>> {
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    ct.transform_coords(&mut xs, &mut ys, &mut [])?;
    Ok(xs.into_iter().zip(ys).collect())
}
