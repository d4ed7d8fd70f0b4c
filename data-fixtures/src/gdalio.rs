//! Thin helpers over the `gdal` crate: creating datasets/layers/fields, and a
//! reusable feature writer for the hot loops.

use std::ffi::CString;
use std::marker::PhantomData;
use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{FieldDefn, LayerAccess, OGRFieldType};
use gdal::{Dataset, DriverManager};

use crate::geom::Geom;
use crate::{Error, Result};

/// Sidecar extensions a Shapefile may have; removed together so a re-run never
/// leaves a stale .cpg/.prj next to fresh data.
const SHP_SIDECARS: &[&str] = &["shp", "shx", "dbf", "prj", "cpg", "qix", "sbn", "sbx"];

/// Remove an output file (and its Shapefile sidecars) if present, so GDAL
/// creates it from scratch.
pub fn remove_dataset_files(path: &Path) -> Result<()> {
    let is_shp = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp"));
    let exts: Vec<&str> = if is_shp { SHP_SIDECARS.to_vec() } else { vec![] };
    let mut targets = vec![path.to_path_buf()];
    targets.extend(exts.iter().map(|e| path.with_extension(e)));
    // GeoPackage may leave journal files behind after a crash.
    targets.push(path.with_extension(format!("{}-journal", path.extension().and_then(|e| e.to_str()).unwrap_or(""))));
    for t in targets {
        match std::fs::remove_file(&t) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Io(t, e)),
        }
    }
    Ok(())
}

/// An EPSG SRS with traditional GIS axis order (x = easting / longitude), which is
/// what all our coordinate arrays use, including for EPSG:4326.
pub fn srs(epsg: u32) -> Result<SpatialRef> {
    let mut s = SpatialRef::from_epsg(epsg)?;
    s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

/// Create a new vector dataset with the named OGR driver, replacing any old file.
pub fn create_vector(driver: &str, path: &Path) -> Result<Dataset> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
    }
    remove_dataset_files(path)?;
    let drv = DriverManager::get_driver_by_name(driver)?;
    Ok(drv.create_vector_only(path)?)
}

/// A field to create: name, OGR type, width, precision (0 = driver default).
pub struct Field {
    pub name: &'static str,
    pub ty: OGRFieldType::Type,
    pub width: i32,
    pub precision: i32,
}

pub const fn string(name: &'static str, width: i32) -> Field {
    Field { name, ty: OGRFieldType::OFTString, width, precision: 0 }
}
pub const fn integer(name: &'static str, width: i32) -> Field {
    Field { name, ty: OGRFieldType::OFTInteger, width, precision: 0 }
}
pub const fn real(name: &'static str, width: i32, precision: i32) -> Field {
    Field { name, ty: OGRFieldType::OFTReal, width, precision }
}

pub fn create_fields<L: LayerAccess>(layer: &L, fields: &[Field]) -> Result<()> {
    for f in fields {
        let d = FieldDefn::new(f.name, f.ty)?;
        if f.width > 0 {
            d.set_width(f.width);
        }
        if f.precision > 0 {
            d.set_precision(f.precision);
        }
        d.add_to_layer(layer)?;
    }
    Ok(())
}

/// Writes many features through one reused OGR feature handle.
///
/// Reuse avoids an allocate/free per feature; the FID is reset before every
/// write because drivers such as GPKG would otherwise try to insert the FID the
/// previous `CreateFeature` assigned. Callers must set every field each time.
pub struct FeatureWriter<'a> {
    layer: gdal_sys::OGRLayerH,
    feat: gdal_sys::OGRFeatureH,
    wkb: Vec<u8>,
    _layer: PhantomData<&'a ()>,
}

impl<'a> FeatureWriter<'a> {
    pub fn new<L: LayerAccess>(layer: &'a L) -> Result<Self> {
        // SAFETY: the layer handle is valid for 'a (borrowed), and the feature is
        // created from that layer's own definition.
        let (layer, feat) = unsafe {
            let l = layer.c_layer();
            (l, gdal_sys::OGR_F_Create(gdal_sys::OGR_L_GetLayerDefn(l)))
        };
        if feat.is_null() {
            return Err(Error::Msg("OGR_F_Create failed".into()));
        }
        Ok(FeatureWriter { layer, feat, wkb: Vec::with_capacity(1024), _layer: PhantomData })
    }

    pub fn set_str(&mut self, idx: usize, v: &str) -> Result<()> {
        let c = CString::new(v).map_err(|_| Error::Msg(format!("NUL in field value {v:?}")))?;
        unsafe { gdal_sys::OGR_F_SetFieldString(self.feat, idx as i32, c.as_ptr()) };
        Ok(())
    }

    pub fn set_int(&mut self, idx: usize, v: i64) {
        unsafe { gdal_sys::OGR_F_SetFieldInteger64(self.feat, idx as i32, v) };
    }

    pub fn set_f64(&mut self, idx: usize, v: f64) {
        unsafe { gdal_sys::OGR_F_SetFieldDouble(self.feat, idx as i32, v) };
    }

    pub fn set_null(&mut self, idx: usize) {
        unsafe { gdal_sys::OGR_F_SetFieldNull(self.feat, idx as i32) };
    }

    pub fn set_opt_int(&mut self, idx: usize, v: Option<i64>) {
        match v {
            Some(v) => self.set_int(idx, v),
            None => self.set_null(idx),
        }
    }

    pub fn set_opt_f64(&mut self, idx: usize, v: Option<f64>) {
        match v {
            Some(v) => self.set_f64(idx, v),
            None => self.set_null(idx),
        }
    }

    /// Set (or clear, with `None`) the geometry.
    pub fn set_geometry(&mut self, g: Option<&Geom>) -> Result<()> {
        let Some(g) = g else {
            unsafe { gdal_sys::OGR_F_SetGeometryDirectly(self.feat, std::ptr::null_mut()) };
            return Ok(());
        };
        g.to_wkb(&mut self.wkb);
        let mut h: gdal_sys::OGRGeometryH = std::ptr::null_mut();
        // SAFETY: the buffer is valid WKB of the stated length; on success GDAL
        // returns a new geometry whose ownership passes to the feature.
        let rv = unsafe { gdal_sys::OGR_G_CreateFromWkb(self.wkb.as_ptr() as *const _, std::ptr::null_mut(), &mut h, self.wkb.len() as i32) };
        if rv != gdal_sys::OGRErr::OGRERR_NONE || h.is_null() {
            return Err(Error::Msg(format!("OGR_G_CreateFromWkb failed ({rv})")));
        }
        unsafe { gdal_sys::OGR_F_SetGeometryDirectly(self.feat, h) };
        Ok(())
    }

    pub fn write(&mut self) -> Result<()> {
        let rv = unsafe {
            gdal_sys::OGR_F_SetFID(self.feat, -1); // OGRNullFID
            gdal_sys::OGR_L_CreateFeature(self.layer, self.feat)
        };
        if rv != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(Error::Msg(format!("OGR_L_CreateFeature failed ({rv}): {}", last_gdal_error())));
        }
        Ok(())
    }
}

impl Drop for FeatureWriter<'_> {
    fn drop(&mut self) {
        unsafe { gdal_sys::OGR_F_Destroy(self.feat) };
    }
}

fn last_gdal_error() -> String {
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Start a transaction if the driver supports one natively (GPKG does, Shapefile
/// does not); returns whether one was started. Batching inserts in a single
/// SQLite transaction is the difference between minutes and seconds.
pub fn begin(ds: &Dataset) -> bool {
    unsafe { gdal_sys::GDALDatasetStartTransaction(ds.c_dataset(), 0) == gdal_sys::OGRErr::OGRERR_NONE }
}

pub fn commit(ds: &Dataset, started: bool) -> Result<()> {
    if started {
        let rv = unsafe { gdal_sys::GDALDatasetCommitTransaction(ds.c_dataset()) };
        if rv != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(Error::Msg(format!("commit failed: {}", last_gdal_error())));
        }
    }
    Ok(())
}

impl FeatureWriter<'_> {
    /// Hand an already-built OGR geometry to the feature.
    ///
    /// # Safety
    /// `g` must be a valid geometry handle that nothing else owns or frees:
    /// ownership passes to the feature.
    pub unsafe fn set_raw_geometry(&mut self, g: gdal_sys::OGRGeometryH) -> Result<()> {
        if g.is_null() {
            return Err(Error::Msg("null geometry".into()));
        }
        unsafe { gdal_sys::OGR_F_SetGeometryDirectly(self.feat, g) };
        Ok(())
    }
}
