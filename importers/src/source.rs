//! Opening agency files with GDAL and reading their features as plain Rust values.
//!
//! Reading goes through the OGR C API directly: it lets us see attribute bytes before any
//! lossy UTF-8 conversion (to catch Big5 data with no declared encoding), and read errors
//! in the middle of a file (to refuse truncated shapefiles instead of importing half).

use crate::crs;
use crate::ImportError;
use formosa_store::Value;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{LayerAccess, OwnedLayer};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use gdal_sys::OGRFieldType;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Routes GDAL's own messages to our log instead of stderr; errors are still reported to
/// the user, once, through `ImportError`.
pub fn init_gdal() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gdal::config::set_error_handler(|class, code, msg| {
            tracing::debug!(target: "gdal", "GDAL {class:?} {code}: {msg}");
        });
    });
}

fn last_gdal_error() -> String {
    let msg = unsafe { CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) };
    msg.to_string_lossy().trim().to_string()
}

/// Opening options shared by every vector importer.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Which layer of a multi-layer source (GeoPackage, GML…); the first when None.
    pub source_layer: Option<String>,
    /// `--srs`: overrides (or supplies) the source CRS.
    pub srs: Option<String>,
    /// `--encoding`: the attribute encoding of a shapefile DBF (e.g. cp950).
    pub encoding: Option<String>,
}

/// An opened vector source, ready to be read.
pub struct VectorSource {
    pub path: PathBuf,
    pub driver: String,
    pub layer: OwnedLayer,
    pub srs: SpatialRef,
    pub srs_label: String,
    pub field_names: Vec<String>,
    field_types: Vec<OGRFieldType::Type>,
    /// The count the source declares (a shapefile's header), if it knows it cheaply.
    pub declared_count: Option<u64>,
    pub has_z: bool,
}

fn check_file(path: &Path) -> Result<(), ImportError> {
    let meta = std::fs::metadata(path).map_err(|_| ImportError::NotFound(path.to_path_buf()))?;
    if meta.is_file() && meta.len() == 0 {
        return Err(ImportError::Empty { path: path.to_path_buf() });
    }
    Ok(())
}

/// Refuses what is no source data although GDAL opens it: a Formosa store (a GeoPackage
/// with the `formosa_layers` catalogue) and tile archives (MBTiles, PMTiles), whose tiles
/// are already cut, clipped and simplified. Every importer calls it first.
pub fn refuse_stores(path: &Path) -> Result<(), ImportError> {
    init_gdal();
    check_file(path)?;
    let mut magic = [0u8; 7];
    if std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok() && magic == *b"PMTiles" {
        return Err(ImportError::TileArchive {
            path: path.to_path_buf(),
            what: "a PMTiles archive".into(),
            hint: format!(", or serve it as it is with `formosa serve --archive NAME={}`", path.display()),
        });
    }
    let flags = GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY;
    let Ok(dataset) = Dataset::open_ex(path, DatasetOptions { open_flags: flags, ..Default::default() }) else {
        return Ok(()); // the importer's own open says why it cannot be read
    };
    match dataset.driver().short_name().as_str() {
        "MBTiles" => Err(ImportError::TileArchive { path: path.to_path_buf(), what: "an MBTiles file".into(), hint: String::new() }),
        "GPKG" => match dataset.layer_by_name("formosa_layers") {
            Ok(mut catalogue) => {
                let names: Vec<String> = catalogue.features().filter_map(|f| f.field_index("name").and_then(|i| f.field_as_string(i)).ok().flatten()).collect();
                let layers = if names.is_empty() { "none yet".to_string() } else { names.join(", ") };
                Err(ImportError::FormosaStore { path: path.to_path_buf(), layers })
            }
            Err(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Opens `path` as vector data. `command` and `expected` phrase the error when it is not.
pub fn open_vector(path: &Path, opts: &OpenOptions, command: &str) -> Result<VectorSource, ImportError> {
    refuse_stores(path)?;
    let encoding_opt = opts.encoding.as_ref().map(|e| format!("ENCODING={}", e.to_uppercase()));
    let open_options: Vec<&str> = encoding_opt.iter().map(String::as_str).collect();
    let dataset = Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            open_options: (!open_options.is_empty()).then_some(open_options.as_slice()),
            ..Default::default()
        },
    );
    let dataset = match dataset {
        Ok(d) => d,
        Err(_) => {
            let reason = last_gdal_error();
            if let Ok(r) = Dataset::open_ex(path, DatasetOptions { open_flags: GdalOpenFlags::GDAL_OF_RASTER, ..Default::default() }) {
                return Err(ImportError::WrongKind {
                    path: path.to_path_buf(),
                    found: format!("a raster ({})", r.driver().short_name()),
                    expected: "vector data (Shapefile, GeoPackage, GeoJSON, GML, …)".into(),
                    command: command.into(),
                });
            }
            let reason = if reason.is_empty() { "not a format GDAL can read as vector data".to_string() } else { reason };
            return Err(ImportError::Unreadable { path: path.to_path_buf(), reason });
        }
    };
    let driver = dataset.driver().short_name();
    if driver == "ESRI Shapefile" && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp")) {
        check_shapefile_length(path)?;
    }
    if opts.encoding.is_some() && driver != "ESRI Shapefile" {
        tracing::warn!("--encoding applies to shapefiles; {driver} files declare their own encoding, ignoring it");
    }
    if dataset.layer_count() == 0 {
        return Err(ImportError::Empty { path: path.to_path_buf() });
    }
    // Every layer, and whether it has a geometry column, for the messages below.
    let layers: Vec<(String, bool)> = dataset.layers().map(|l| (l.name(), l.defn().geom_fields().count() > 0)).collect();
    let layer = match &opts.source_layer {
        Some(name) => dataset.into_layer_by_name(name).map_err(|_| ImportError::NoSuchLayer {
            path: path.to_path_buf(),
            name: name.clone(),
            layers: layers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
        })?,
        None => dataset.into_layer(0)?,
    };
    if layer.defn().geom_fields().count() == 0 {
        let spatial: Vec<&str> = layers.iter().filter(|(_, g)| *g).map(|(n, _)| n.as_str()).collect();
        let hint = match spatial.as_slice() {
            [] => String::new(),
            some => format!("; its layers with geometry are: {} (pick one with --source-layer)", some.join(", ")),
        };
        return Err(ImportError::NoGeometry { path: path.to_path_buf(), table: format!("layer '{}'", layer.name()), hint });
    }
    let srs = match (&opts.srs, layer.spatial_ref()) {
        (Some(text), _) => crs::parse_srs(text)?,
        (None, Some(srs)) => srs,
        (None, None) => return Err(ImportError::NoCrs { path: path.to_path_buf() }),
    };
    let srs_label = crs::label(&srs);
    let defn = layer.defn();
    let field_names: Vec<String> = defn.fields().map(|f| f.name()).collect();
    let field_types: Vec<OGRFieldType::Type> = defn.fields().map(|f| f.field_type()).collect();
    let gtype = unsafe { gdal_sys::OGR_L_GetGeomType(layer.c_layer()) };
    let has_z = gdal::vector::geometry_type_has_z(gtype);
    let declared = unsafe { gdal_sys::OGR_L_GetFeatureCount(layer.c_layer(), 0) };
    Ok(VectorSource { path: path.to_path_buf(), driver, layer, srs, srs_label, field_names, field_types, declared_count: (declared >= 0).then_some(declared as u64), has_z })
}

/// GDAL reads the records of a cut-off .shp as features without geometry; the header says
/// how long the file should be, so check that first and refuse a truncated file.
fn check_shapefile_length(path: &Path) -> Result<(), ImportError> {
    let unreadable = |reason: String| ImportError::Unreadable { path: path.to_path_buf(), reason };
    let mut header = [0u8; 100];
    let actual = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?.len();
    let mut f = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    std::io::Read::read_exact(&mut f, &mut header).map_err(|_| unreadable("the file is truncated: shorter than a shapefile header".into()))?;
    if u32::from_be_bytes(header[0..4].try_into().unwrap()) != 9994 {
        return Err(unreadable("not a shapefile (bad file code)".into()));
    }
    let declared = u32::from_be_bytes(header[24..28].try_into().unwrap()) as u64 * 2;
    if actual < declared {
        return Err(unreadable(format!("the file is truncated: its header says {declared} bytes but it has {actual}")));
    }
    Ok(())
}

/// One source feature as plain values.
#[derive(Debug, Clone)]
pub struct RawFeature {
    pub fid: i64,
    /// ISO WKB as OGR exports it; None for a feature with no geometry.
    pub wkb: Option<Vec<u8>>,
    pub fields: Vec<Value>,
}

impl VectorSource {
    /// Reads every feature in order, calling `each` with batches of up to `batch` features.
    /// Stops with an error on a read error or on attribute bytes that are not UTF-8.
    pub fn read(&mut self, batch: usize, mut each: impl FnMut(Vec<RawFeature>) -> bool) -> Result<u64, ImportError> {
        let layer = unsafe { self.layer.c_layer() };
        unsafe { gdal_sys::OGR_L_ResetReading(layer) };
        let mut buf = Vec::with_capacity(batch);
        let mut read = 0u64;
        loop {
            unsafe { gdal_sys::CPLErrorReset() };
            let f = unsafe { gdal_sys::OGR_L_GetNextFeature(layer) };
            if f.is_null() {
                let failed = unsafe { gdal_sys::CPLGetLastErrorType() } >= gdal_sys::CPLErr::CE_Failure;
                if failed {
                    return Err(ImportError::Unreadable { path: self.path.clone(), reason: format!("read error after {read} features: {}", last_gdal_error()) });
                }
                break;
            }
            let raw = unsafe { self.convert(f) };
            unsafe { gdal_sys::OGR_F_Destroy(f) };
            buf.push(raw?);
            read += 1;
            if buf.len() == batch && !each(std::mem::replace(&mut buf, Vec::with_capacity(batch))) {
                return Ok(read);
            }
        }
        if !buf.is_empty() {
            each(buf);
        }
        if let Some(declared) = self.declared_count {
            if self.driver == "ESRI Shapefile" && read < declared {
                return Err(ImportError::Unreadable {
                    path: self.path.clone(),
                    reason: format!("the file is truncated: its header declares {declared} features but only {read} could be read"),
                });
            }
        }
        Ok(read)
    }

    unsafe fn convert(&self, f: gdal_sys::OGRFeatureH) -> Result<RawFeature, ImportError> {
        let fid = gdal_sys::OGR_F_GetFID(f);
        let g = gdal_sys::OGR_F_GetGeometryRef(f);
        let wkb = if g.is_null() || gdal_sys::OGR_G_IsEmpty(g) != 0 {
            None
        } else {
            let size = gdal_sys::OGR_G_WkbSize(g) as usize;
            let mut out = vec![0u8; size];
            let err = gdal_sys::OGR_G_ExportToIsoWkb(g, gdal_sys::OGRwkbByteOrder::wkbNDR, out.as_mut_ptr());
            (err == gdal_sys::OGRErr::OGRERR_NONE).then_some(out)
        };
        let mut fields = Vec::with_capacity(self.field_types.len());
        for (i, ty) in self.field_types.iter().enumerate() {
            let i = i as i32;
            if gdal_sys::OGR_F_IsFieldSetAndNotNull(f, i) == 0 {
                fields.push(Value::Null);
                continue;
            }
            fields.push(match *ty {
                OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => Value::Integer(gdal_sys::OGR_F_GetFieldAsInteger64(f, i)),
                OGRFieldType::OFTReal => Value::Real(gdal_sys::OGR_F_GetFieldAsDouble(f, i)),
                _ => {
                    let bytes = CStr::from_ptr(gdal_sys::OGR_F_GetFieldAsString(f, i)).to_bytes();
                    match std::str::from_utf8(bytes) {
                        Ok(s) => Value::Text(s.to_string()),
                        Err(_) => return Err(ImportError::Encoding { path: self.path.clone(), field: self.field_names[i as usize].clone(), fid }),
                    }
                }
            });
        }
        Ok(RawFeature { fid, wkb, fields })
    }
}
