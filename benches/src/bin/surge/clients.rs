//! How each kind of client asks, as a session: a list of steps (a pan, a zoom, a click, a
//! report), each a burst of requests sent together at a time from the session's start.
//! Pure: no I/O, so a session is the same for the same seed.

use crate::discover::Server;
use crate::geo::{tile_of, to_mercator, Place};
use crate::rng::Rng;
use std::collections::HashSet;

/// Request classes, each reported on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Vector,
    Wmts,
    Terrain,
    Tiles3d,
    Glyphs,
    Wms1024,
    Wms2048,
    Wms4096,
    FeatureInfo,
    Write,
    /// Styles, TileJSON, layer.json, tileset.json: what a client reads once.
    Meta,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Vector => "vector",
            Class::Wmts => "wmts",
            Class::Terrain => "terrain",
            Class::Tiles3d => "3dtiles",
            Class::Glyphs => "glyphs",
            Class::Wms1024 => "wms-1024",
            Class::Wms2048 => "wms-2048",
            Class::Wms4096 => "wms-4096",
            Class::FeatureInfo => "featureinfo",
            Class::Write => "write",
            Class::Meta => "meta",
        }
    }

    /// The classes the issue's "tile p99 ≤ 50 ms" is about.
    pub fn is_tile(self) -> bool {
        matches!(self, Class::Vector | Class::Wmts | Class::Terrain | Class::Tiles3d)
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub class: Class,
    pub path: String,
    /// A JSON body to POST; None for a GET.
    pub post: Option<String>,
    pub accept: Option<&'static str>,
}

impl Request {
    fn get(class: Class, path: String) -> Self {
        Request { class, path, post: None, accept: None }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Seconds after the session's start.
    pub at: f64,
    pub requests: Vec<Request>,
}

/// The kinds of client, each arriving as a Poisson process of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    MapLibre,
    Qgis,
    WmsDesktop,
    Cesium,
    Click,
    Incident,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::MapLibre, Kind::Qgis, Kind::WmsDesktop, Kind::Cesium, Kind::Click, Kind::Incident];

    pub fn name(self) -> &'static str {
        match self {
            Kind::MapLibre => "maplibre",
            Kind::Qgis => "qgis",
            Kind::WmsDesktop => "wms",
            Kind::Cesium => "cesium",
            Kind::Click => "click",
            Kind::Incident => "incident",
        }
    }

    /// Sessions a second at 1× (see benches/surge.sh for why these).
    pub fn base_rate(self) -> f64 {
        match self {
            Kind::MapLibre => 1.0,
            Kind::Qgis => 0.25,
            Kind::WmsDesktop => 0.2,
            Kind::Cesium => 0.1,
            Kind::Click => 1.0,
            Kind::Incident => 0.5,
        }
    }
}

/// What the sessions draw from.
pub struct World {
    pub places: Vec<Place>,
    /// Places over the DEM, where a CesiumJS user looks at terrain.
    pub terrain_places: Vec<Place>,
    pub server: Server,
    pub fontstacks: Vec<String>,
}

impl World {
    pub fn new(places: Vec<Place>, server: Server, fontstacks: Vec<String>) -> Self {
        let terrain_places = match &server.terrain {
            Some(t) => places.iter().filter(|p| p.lon >= t.bounds[0] && p.lon <= t.bounds[2] && p.lat >= t.bounds[1] && p.lat <= t.bounds[3]).copied().collect(),
            None => Vec::new(),
        };
        World { places, terrain_places, server, fontstacks }
    }
}

pub fn session(kind: Kind, rng: &mut Rng, world: &World) -> Vec<Step> {
    match kind {
        Kind::MapLibre => maplibre(rng, world),
        Kind::Qgis => qgis_wmts(rng, world),
        Kind::WmsDesktop => vec![Step { at: 0.0, requests: vec![wms_getmap(rng, world)] }],
        Kind::Cesium => cesium(rng, world),
        Kind::Click => vec![Step { at: 0.0, requests: vec![feature_info(rng, world)] }],
        Kind::Incident => vec![Step { at: 0.0, requests: vec![incident(rng, world)] }],
    }
}

/// Seconds between a user's pans or zooms.
fn think(rng: &mut Rng) -> f64 {
    rng.range(1.0, 3.0)
}

/// MapLibre GL JS panning and zooming a base map in a browser: first the style, its
/// TileJSON and the glyph range the labels need, then a viewport of 12–20 vector tiles
/// at z12–z16; each later step is a pan by about a viewport or a zoom by one level, and
/// asks only for the tiles the browser has not fetched yet. Labels are parcel numbers and
/// cluster counts (ASCII: range 0-255); MapLibre draws CJK ideographs with a local font
/// by default, so it asks for no CJK range.
fn maplibre(rng: &mut Rng, world: &World) -> Vec<Step> {
    let place = *rng.pick(&world.places);
    let (cols, rows) = *rng.pick(&[(4i64, 3i64), (5, 3), (4, 4), (5, 4)]);
    let mut z = rng.int(12, 16) as u8;
    let (x, y) = tile_of(place.lon, place.lat, z);
    let (mut cx, mut cy) = (x as f64 + 0.5, y as f64 + 0.5);
    let mut seen = HashSet::new();
    let mut first = vec![Request::get(Class::Meta, "/styles/basemap.json".into()), Request::get(Class::Meta, "/tiles/basemap.json".into())];
    first.extend(world.fontstacks.iter().map(|f| Request { accept: None, ..Request::get(Class::Glyphs, format!("/fonts/{}/0-255.pbf", f.replace(' ', "%20"))) }));
    let mut steps = Vec::new();
    let mut at = 0.0;
    for step in 0..rng.int(4, 7) {
        if step > 0 {
            at += think(rng);
            if rng.f64() < 0.35 {
                // Zoom by one level about the centre, staying where the data is drawn.
                let next = if z == 12 || (z < 16 && rng.f64() < 0.5) { z + 1 } else { z - 1 };
                let f = if next > z { 2.0 } else { 0.5 };
                (cx, cy, z) = (cx * f, cy * f, next);
            } else {
                cx += rng.range(0.6, 1.0) * cols as f64 * if rng.f64() < 0.5 { -1.0 } else { 1.0 };
                cy += rng.range(0.0, 1.0) * rows as f64 * if rng.f64() < 0.5 { -1.0 } else { 1.0 };
            }
        }
        let mut requests = if step == 0 { std::mem::take(&mut first) } else { Vec::new() };
        let n = 1i64 << z;
        for dy in 0..rows {
            for dx in 0..cols {
                let (tx, ty) = ((cx - cols as f64 / 2.0).floor() as i64 + dx, (cy - rows as f64 / 2.0).floor() as i64 + dy);
                if (0..n).contains(&tx) && (0..n).contains(&ty) && seen.insert((z, tx, ty)) {
                    requests.push(Request::get(Class::Vector, format!("/tiles/basemap/{z}/{tx}/{ty}.mvt")));
                }
            }
        }
        steps.push(Step { at, requests });
    }
    steps
}

/// QGIS panning a WMTS layer in an EPSG:3826 project: a 4 × 3 block of GetTile (KVP) in
/// the TWD97 matrix set at 1:25 000 … 1:1 000 (where parcels are drawn), then pans by a
/// screen and an occasional zoom to the next matrix; tiles it holds are not asked again.
fn qgis_wmts(rng: &mut Rng, world: &World) -> Vec<Step> {
    let place = *rng.pick(&world.places);
    let matrices: Vec<_> = world.server.twd97.iter().filter(|m| (60.0..=1800.0).contains(&m.tile_span_m)).collect();
    if matrices.is_empty() {
        return Vec::new();
    }
    let mut level = rng.int(0, matrices.len() as i64 - 1) as usize;
    let (mut e, mut n) = (place.e, place.n);
    let (cols, rows) = (4i64, 3i64);
    let mut seen = HashSet::new();
    let mut steps = Vec::new();
    let mut at = 0.0;
    for step in 0..rng.int(3, 6) {
        let m = matrices[level];
        if step > 0 {
            at += think(rng);
            if rng.f64() < 0.3 && matrices.len() > 1 {
                level = if level == 0 || (level + 1 < matrices.len() && rng.f64() < 0.5) { level + 1 } else { level - 1 };
            } else {
                e += m.tile_span_m * cols as f64 * rng.range(-1.0, 1.0);
                n += m.tile_span_m * rows as f64 * rng.range(-1.0, 1.0);
            }
        }
        let m = matrices[level];
        let col0 = ((e - m.origin.0) / m.tile_span_m - cols as f64 / 2.0).floor() as i64;
        let row0 = ((m.origin.1 - n) / m.tile_span_m - rows as f64 / 2.0).floor() as i64;
        let mut requests = Vec::new();
        for row in row0..row0 + rows {
            for col in col0..col0 + cols {
                if seen.insert((level, row, col)) {
                    requests.push(Request::get(
                        Class::Wmts,
                        format!(
                            "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=basemap&STYLE=default&TILEMATRIXSET={}&TILEMATRIX={}&TILEROW={row}&TILECOL={col}&FORMAT=image/png",
                            world.server.twd97_set, m.id
                        ),
                    ));
                }
            }
        }
        steps.push(Step { at, requests });
    }
    steps
}

/// A desktop user's GetMap (QGIS refreshing a WMS layer, or exporting a map): 1024², 2048²
/// or 4096² pixels (70 / 22 / 8 %) at 0.5–2 m a pixel, in EPSG:3826 or EPSG:3857.
fn wms_getmap(rng: &mut Rng, world: &World) -> Request {
    let place = *rng.pick(&world.places);
    let r = rng.f64();
    let (size, class) = if r < 0.70 {
        (1024, Class::Wms1024)
    } else if r < 0.92 {
        (2048, Class::Wms2048)
    } else {
        (4096, Class::Wms4096)
    };
    let half = size as f64 * rng.range(0.5, 2.0) / 2.0;
    let (crs, bbox) = map_bbox(rng, place, half, half);
    Request::get(class, format!("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=basemap&STYLES=&CRS={crs}&BBOX={bbox}&WIDTH={size}&HEIGHT={size}&FORMAT=image/png"))
}

/// A map's CRS and BBOX (WMS 1.3.0 axis order: both CRSs are easting, northing) around
/// `place`, `half_w` × `half_h` metres on the ground from its centre.
fn map_bbox(rng: &mut Rng, place: Place, half_w: f64, half_h: f64) -> (&'static str, String) {
    if rng.f64() < 0.5 {
        let (e, n) = (place.e, place.n);
        ("EPSG:3826", format!("{:.1},{:.1},{:.1},{:.1}", e - half_w, n - half_h, e + half_w, n + half_h))
    } else {
        // Mercator metres are ground metres / cos(latitude).
        let (x, y) = to_mercator(place.lon, place.lat);
        let k = 1.0 / place.lat.to_radians().cos();
        ("EPSG:3857", format!("{:.1},{:.1},{:.1},{:.1}", x - half_w * k, y - half_h * k, x + half_w * k, y + half_h * k))
    }
}

/// A click on a desktop map: WMS 1.3.0 GetFeatureInfo on a 1024 × 768 map at 0.25–1 m a
/// pixel, somewhere near the middle, answered as JSON.
fn feature_info(rng: &mut Rng, world: &World) -> Request {
    let place = *rng.pick(&world.places);
    let res = rng.range(0.25, 1.0);
    let (crs, bbox) = map_bbox(rng, place, 512.0 * res, 384.0 * res);
    let (i, j) = (rng.int(312, 712), rng.int(234, 534));
    Request::get(
        Class::FeatureInfo,
        format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=basemap&QUERY_LAYERS=basemap&STYLES=&CRS={crs}&BBOX={bbox}&WIDTH=1024&HEIGHT=768&FORMAT=image/png&INFO_FORMAT=application/json&FEATURE_COUNT=5&I={i}&J={j}"
        ),
    )
}

/// A disaster-response app reporting an incident near where the data is.
fn incident(rng: &mut Rng, world: &World) -> Request {
    let place = *rng.pick(&world.places);
    let (lon, lat) = (place.lon + rng.range(-0.002, 0.002), place.lat + rng.range(-0.002, 0.002));
    let kind = *rng.pick(&["flood", "landslide", "road_closure", "collapse"]);
    let body = format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon:.6},{lat:.6}]}},"properties":{{"type":"{kind}","severity":{},"description":"surge","reporter":"surge"}}}}"#,
        rng.int(1, 5)
    );
    Request { class: Class::Write, path: "/ogcapi/collections/incidents/items".into(), post: Some(body), accept: None }
}

/// What CesiumJS asks for with requestVertexNormals on.
const QUANTIZED_MESH_ACCEPT: &str = "application/vnd.quantized-mesh;extensions=octvertexnormals,application/octet-stream;q=0.9,*/*;q=0.01";

/// CesiumJS over the terrain: layer.json and every tileset.json, then for each camera
/// position the quantized-mesh tiles under it (one a level down to z10, a 2 × 2 block
/// deeper, to the pyramid's deepest) and the 3D Tiles content tiles of each tileset in
/// view (coarse levels first, up to 12 a tileset); two or three camera moves of a few
/// hundred metres. Tiles fetched once are not asked again.
fn cesium(rng: &mut Rng, world: &World) -> Vec<Step> {
    let Some(place) = (if world.terrain_places.is_empty() { world.places.first() } else { Some(rng.pick(&world.terrain_places)) }) else {
        return Vec::new();
    };
    let (mut lon, mut lat) = (place.lon, place.lat);
    let mut first = vec![];
    if world.server.terrain.is_some() {
        first.push(Request::get(Class::Meta, "/terrain/layer.json".into()));
    }
    first.extend(world.server.tilesets.iter().map(|t| Request::get(Class::Meta, format!("/3dtiles/{}/tileset.json", t.layer))));
    let (mut seen_terrain, mut seen_content) = (HashSet::new(), HashSet::new());
    let mut steps = Vec::new();
    let mut at = 0.0;
    for step in 0..rng.int(3, 4) {
        if step > 0 {
            at += think(rng);
            lon += rng.range(-0.006, 0.006);
            lat += rng.range(-0.005, 0.005);
        }
        let mut requests = if step == 0 { std::mem::take(&mut first) } else { Vec::new() };
        if let Some(t) = &world.server.terrain {
            for z in 0..=t.max_zoom {
                let (x, y) = tile_of(lon, lat, z);
                let block = if z <= 10 { 0 } else { 1 };
                for (tx, ty) in (x..=x + block).flat_map(|tx| (y..=y + block).map(move |ty| (tx, ty))) {
                    if tx < (1 << z) && ty < (1 << z) && seen_terrain.insert((z, tx, ty)) {
                        let tms = (1u32 << z) - 1 - ty;
                        requests.push(Request { accept: Some(QUANTIZED_MESH_ACCEPT), ..Request::get(Class::Terrain, format!("/terrain/{z}/{tx}/{tms}.terrain?v=1.0.0")) });
                    }
                }
            }
        }
        let view = [lon - 0.008, lat - 0.007, lon + 0.008, lat + 0.007];
        for ts in &world.server.tilesets {
            let mut in_view: Vec<_> = ts.contents.iter().filter(|c| overlaps(&c.bounds, &view)).collect();
            in_view.sort_by_key(|c| c.level);
            for c in in_view.into_iter().filter(|c| seen_content.insert((ts.layer.clone(), c.path.clone()))).take(12) {
                requests.push(Request::get(Class::Tiles3d, format!("/3dtiles/{}/{}", ts.layer, c.path)));
            }
        }
        steps.push(Step { at, requests });
    }
    steps
}

fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Content, Matrix, Terrain, Tileset};

    fn world() -> World {
        let taipei = Place { lon: 121.5645, lat: 25.034, e: 306_900.0, n: 2_769_800.0 };
        let twd97 = (9..14)
            .map(|i| {
                let scale = [25_000.0, 10_000.0, 5_000.0, 2_500.0, 1_000.0][i - 9] * 0.0254 / 96.0 / 0.00028;
                Matrix { id: i.to_string(), origin: (50_000.0, 3_000_000.0), tile_span_m: scale * 0.00028 * 256.0 }
            })
            .collect();
        let contents = vec![Content { path: "14/13724/7014.glb".into(), level: 1, bounds: [121.55, 25.02, 121.58, 25.05] }];
        let server = Server {
            twd97_set: "TWD97".into(),
            twd97,
            terrain: Some(Terrain { bounds: [121.5, 25.0, 121.6, 25.1], max_zoom: 13 }),
            tilesets: vec![Tileset { layer: "buildings".into(), contents }],
        };
        World::new(vec![taipei], server, vec!["WenQuanYi Micro Hei Regular".into()])
    }

    #[test]
    fn maplibre_bursts_are_a_viewport_of_new_tiles() {
        let w = world();
        for seed in 0..50 {
            let steps = maplibre(&mut Rng::new(seed), &w);
            let first: Vec<_> = steps[0].requests.iter().filter(|r| r.class == Class::Vector).collect();
            assert!((12..=20).contains(&first.len()), "{}", first.len());
            assert!(steps[0].requests.iter().any(|r| r.path == "/fonts/WenQuanYi%20Micro%20Hei%20Regular/0-255.pbf"));
            let mut all: Vec<_> = steps.iter().flat_map(|s| &s.requests).filter(|r| r.class == Class::Vector).map(|r| r.path.clone()).collect();
            let n = all.len();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), n, "a tile asked twice in one session");
            assert!(all.iter().all(|p| (12..=16).contains(&p.split('/').nth(3).unwrap().parse::<u8>().unwrap())));
            assert!(steps.windows(2).all(|s| s[0].at < s[1].at));
        }
    }

    #[test]
    fn qgis_asks_twd97_tiles_around_the_place() {
        let w = world();
        for seed in 0..20 {
            let steps = qgis_wmts(&mut Rng::new(seed), &w);
            assert_eq!(steps[0].requests.len(), 12);
            let param = |path: &str, key: &str| path.split('&').find_map(|kv| kv.strip_prefix(key)).unwrap().parse::<f64>().unwrap();
            let tiles: Vec<(f64, f64, f64)> = steps[0].requests.iter().map(|r| (param(&r.path, "TILEMATRIX="), param(&r.path, "TILEROW="), param(&r.path, "TILECOL="))).collect();
            assert!(steps[0].requests.iter().all(|r| r.path.contains("TILEMATRIXSET=TWD97&")));
            // The first screen holds the place's own tile.
            let m = w.server.twd97.iter().find(|m| m.id.parse::<f64>().unwrap() == tiles[0].0).unwrap();
            let (row, col) = (((m.origin.1 - w.places[0].n) / m.tile_span_m).floor(), ((w.places[0].e - m.origin.0) / m.tile_span_m).floor());
            assert!(tiles.contains(&(tiles[0].0, row, col)), "seed {seed}: {tiles:?} lacks {row}/{col}");
        }
    }

    #[test]
    fn wms_sizes_follow_the_mix() {
        let w = world();
        let mut r = Rng::new(4);
        let reqs: Vec<_> = (0..2000).map(|_| wms_getmap(&mut r, &w)).collect();
        let big = reqs.iter().filter(|q| q.class == Class::Wms4096).count();
        assert!((100..220).contains(&big), "{big}");
        assert!(reqs.iter().any(|q| q.path.contains("CRS=EPSG:3826")) && reqs.iter().any(|q| q.path.contains("CRS=EPSG:3857")));
    }

    #[test]
    fn cesium_reads_layer_json_then_meshes_and_content() {
        let w = world();
        let steps = cesium(&mut Rng::new(5), &w);
        let first = &steps[0].requests;
        assert_eq!(first[0].path, "/terrain/layer.json");
        assert!(first.iter().any(|r| r.path == "/terrain/0/0/0.terrain?v=1.0.0"));
        assert!(first.iter().any(|r| r.path == "/3dtiles/buildings/14/13724/7014.glb"));
        assert!(first.iter().filter(|r| r.class == Class::Terrain).all(|r| r.accept == Some(QUANTIZED_MESH_ACCEPT)));
    }
}
