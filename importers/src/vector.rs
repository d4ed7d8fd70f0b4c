//! The vector import pipeline, shared by the cadastral, pipelines, buildings and vector
//! importers: three threads connected by bounded channels, so reading (GDAL), preparing
//! (reprojection, checks, attribute rules) and writing (SQLite) overlap on two cores.
//!
//!   read (this thread, GDAL) → prepare (PROJ, geometry, attributes) → write (store)
//!
//! Nothing is visible in the store until the writer commits, after the reader has reached
//! the end of the source without error.

use crate::attributes::FieldMap;
use crate::crs;
use crate::geometry;
use crate::kinds::{self, KindSettings};
use crate::progress;
use crate::report::{ImportReport, Skip};
use crate::source::{open_vector, OpenOptions, RawFeature};
use crate::ImportError;
use crossbeam_channel::bounded;
use formosa_store::{wkb, Geometry, ImportMode, ImportSpec, Imports, LayerKind, NewFeature};
use geo::Area;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct VectorOptions {
    pub path: PathBuf,
    pub kind: LayerKind,
    /// The store layer to write (e.g. "cadastral", or the name given with --layer).
    pub layer: String,
    pub mode: ImportMode,
    pub open: OpenOptions,
    /// `--map column=FIELD` overrides.
    pub field_map: Vec<String>,
    pub settings: KindSettings,
    pub progress: bool,
}

const BATCH: usize = 2048;

/// One prepared feature, or the reason it was skipped.
type Prepared = Result<(NewFeature, Vec<String>), Skip>;

pub fn import_vector(store: &dyn Imports, opts: &VectorOptions) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    formosa_store::validate_layer_name(&opts.layer)?;
    let command = if opts.kind == LayerKind::Vector { "vector".to_string() } else { opts.kind.to_string() };
    let mut source = open_vector(&opts.path, &opts.open, &command)?;
    let map = FieldMap::resolve(opts.kind, &source.field_names, &opts.field_map)?;
    for line in map.describe(opts.kind, &source.field_names) {
        tracing::info!("{}: {line}", opts.layer);
    }
    let has_z = source.has_z && matches!(opts.kind, LayerKind::Pipelines | LayerKind::Vector);
    let mut report = ImportReport {
        layer: opts.layer.clone(),
        kind: opts.kind.to_string(),
        source: opts.path.display().to_string(),
        source_crs: source.srs_label.clone(),
        ..Default::default()
    };
    tracing::info!(
        "importing {} ({}, {}, {} features declared) into layer '{}'",
        opts.path.display(),
        source.driver,
        source.srs_label,
        source.declared_count.map_or("?".to_string(), |n| n.to_string()),
        opts.layer
    );
    let import = store.begin_import(ImportSpec {
        layer: opts.layer.clone(),
        kind: opts.kind,
        mode: opts.mode,
        source: opts.path.display().to_string(),
        source_crs: source.srs_label.clone(),
        has_z,
    })?;
    let srs_wkt = source.srs.to_wkt()?;
    let already_wgs84 = matches!(source.srs_label.as_str(), "EPSG:4326" | "OGC:CRS84");
    // Validate the transformation up front so a bad CRS fails before any reading.
    if !already_wgs84 {
        crs::to_wgs84(&source.srs)?;
    }
    let pb = progress::bar(source.declared_count, "features", opts.progress);
    pb.set_message(format!("{} → {}", opts.path.file_name().and_then(|n| n.to_str()).unwrap_or(""), opts.layer));

    let (raw_tx, raw_rx) = bounded::<Vec<RawFeature>>(8);
    let (prep_tx, prep_rx) = bounded::<Vec<Prepared>>(8);
    let field_names = source.field_names.clone();
    let map_ref = &map;
    let kind = opts.kind;
    let settings = opts.settings.clone();
    let declared = source.declared_count;

    let (read_result, prepare_result, write_result) = std::thread::scope(|s| {
        let preparer = s.spawn(move || -> Result<(), ImportError> {
            let src = gdal::spatial_ref::SpatialRef::from_wkt(&srs_wkt)?;
            let to_wgs84 = if already_wgs84 { None } else { Some(crs::to_wgs84(&src)?) };
            let to_twd97 = crs::wgs84_to_twd97();
            let mut area = |g: &Geometry| twd97_area(&to_twd97, g);
            for batch in raw_rx {
                let out = prepare_batch(batch, kind, map_ref, &field_names, &settings, to_wgs84.as_ref(), has_z, &mut area);
                if prep_tx.send(out).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let pb_writer = pb.clone();
        let writer = s.spawn(move || {
            let mut import = import;
            let mut report = ImportReport::default();
            for batch in prep_rx {
                for item in &batch {
                    match item {
                        Ok((f, notes)) => {
                            if let Err(e) = import.insert(f) {
                                return (import, report, Err(ImportError::from(e)));
                            }
                            report.imported += 1;
                            report.note(notes);
                        }
                        Err(skip) => report.skipped.push(skip.clone()),
                    }
                }
                pb_writer.inc(batch.len() as u64);
                // The bar's counts, for other processes (a server's /metrics).
                import.progress(pb_writer.position(), declared);
            }
            (import, report, Ok(()))
        });
        let read = source.read(BATCH, |batch| raw_tx.send(batch).is_ok());
        drop(raw_tx);
        (read, preparer.join().expect("preparer thread"), writer.join().expect("writer thread"))
    });
    pb.finish_and_clear();
    let (import, written, write_ok) = write_result;
    let read = read_result?;
    prepare_result?;
    write_ok?;
    report.read = read;
    report.imported = written.imported;
    report.repaired = written.repaired;
    report.notes = written.notes;
    report.skipped = written.skipped;
    if report.imported == 0 {
        import.rollback()?;
        return Err(match report.skipped.first() {
            None => ImportError::Empty { path: opts.path.clone() },
            Some(first) => ImportError::NothingImported { path: opts.path.clone(), skipped: report.skipped.len() as u64, first_reason: first.reason.clone() },
        });
    }
    let details = serde_json::json!({
        "driver": source.driver,
        "read": report.read,
        "repaired": report.repaired,
        "skipped": report.skipped.len(),
        "field_map": map.describe(opts.kind, &source.field_names),
    });
    let info = import.commit(details)?;
    if let Some(e) = info.extent {
        let [w, s, east, n] = crs::TAIWAN_LONLAT;
        if e.max_x < w || e.min_x > east || e.max_y < s || e.min_y > n {
            report.warnings.push(format!("the data lies outside Taiwan ({:.4},{:.4} – {:.4},{:.4}); is {} the right CRS?", e.min_x, e.min_y, e.max_x, e.max_y, report.source_crs));
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A feature read and decoded: its source fid, geometry and raw attribute values.
type Decoded = (i64, Geometry, Vec<formosa_store::Value>);

/// Decodes, reprojects (one PROJ call per batch), checks and builds a batch of features.
#[allow(clippy::too_many_arguments)]
fn prepare_batch(
    batch: Vec<RawFeature>,
    kind: LayerKind,
    map: &FieldMap,
    field_names: &[String],
    settings: &KindSettings,
    to_wgs84: Option<&gdal::spatial_ref::CoordTransform>,
    has_z: bool,
    area: &mut dyn FnMut(&Geometry) -> f64,
) -> Vec<Prepared> {
    let skip = |fid: i64, reason: String| Skip { fid, reason };
    let mut decoded: Vec<Result<Decoded, Skip>> = batch
        .into_iter()
        .map(|raw| match raw.wkb {
            None => Err(skip(raw.fid, "feature has no geometry".into())),
            Some(wkb) => match wkb::decode(&wkb) {
                Ok((mut g, z)) => {
                    if !(has_z && z) {
                        g.coords_mut().for_each(|c| c[2] = 0.0);
                    }
                    Ok((raw.fid, g, raw.fields))
                }
                Err(e) => Err(skip(raw.fid, format!("unreadable geometry: {e}"))),
            },
        })
        .collect();
    if let Some(ct) = to_wgs84 {
        let n: usize = decoded.iter().flatten().map(|(_, g, _)| g.coords().count()).sum();
        let (mut xs, mut ys, mut zs) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for (_, g, _) in decoded.iter().flatten() {
            for c in g.coords() {
                xs.push(c[0]);
                ys.push(c[1]);
                zs.push(c[2]);
            }
        }
        if let Err(e) = crs::transform(ct, &mut xs, &mut ys, &mut zs) {
            // PROJ fails the whole batch if any point fails: mark the points it could not
            // transform as non-finite, so that only those features are skipped.
            tracing::debug!("batch transform failed ({e}); transforming feature by feature");
            let mut i = 0;
            for (_, g, _) in decoded.iter().flatten() {
                let k = g.coords().count();
                if crs::transform(ct, &mut xs[i..i + k], &mut ys[i..i + k], &mut zs[i..i + k]).is_err() {
                    xs[i..i + k].fill(f64::NAN);
                }
                i += k;
            }
        }
        let mut i = 0;
        for (_, g, _) in decoded.iter_mut().flatten() {
            for c in g.coords_mut() {
                *c = [xs[i], ys[i], if has_z { zs[i] } else { 0.0 }];
                i += 1;
            }
        }
    }
    let expect = kinds::expected_geometry(kind);
    decoded
        .into_iter()
        .map(|item| {
            let (fid, g, fields) = item?;
            let (g, mut notes) = geometry::check(g, expect).map_err(|r| skip(fid, r))?;
            let (f, more) = kinds::build_feature(kind, map, field_names, &fields, g, settings, area).map_err(|r| skip(fid, r))?;
            notes.extend(more);
            Ok((f, notes))
        })
        .collect()
}

/// Planar area in TWD97 TM2 (EPSG:3826), square metres: how Taiwan's cadastre measures.
fn twd97_area(ct: &gdal::spatial_ref::CoordTransform, g: &Geometry) -> f64 {
    let mut g = g.clone();
    let n = g.coords().count();
    let (mut xs, mut ys, mut zs) = (Vec::with_capacity(n), Vec::with_capacity(n), vec![0.0; n]);
    for c in g.coords() {
        xs.push(c[0]);
        ys.push(c[1]);
    }
    if crs::transform(ct, &mut xs, &mut ys, &mut zs).is_err() {
        return f64::NAN;
    }
    for (i, c) in g.coords_mut().enumerate() {
        *c = [xs[i], ys[i], 0.0];
    }
    g.to_geo().unsigned_area()
}
