//! Server-side rendering of the base-map style for WMS and WMTS: the store's layers drawn
//! by interpreting styles/basemap.json (the style MapLibre draws in the browser), in any
//! of the services' CRSs, anti-aliased, with tiny-skia.
//!
//! What is drawn like MapLibre and what is not (docs/ARCHITECTURE.md, "Maps for GIS
//! desktops"):
//! - zoom: a map's MapLibre zoom is taken from its resolution at the centre (512-px
//!   world at zoom 0), so layer zoom ranges and zoom-interpolated properties match;
//! - fill, line (width, dash, cap, join), circle, symbol text (point placement with
//!   collisions), background, hillshade; fill-extrusion as its lit roof — what MapLibre
//!   shows of an extrusion seen from straight above;
//! - reads come from the store (not from vector tiles): no tile generalisation, and
//!   features smaller than half a pixel are left out.

pub mod color;
pub mod crs;
pub mod encode;
pub mod expr;
pub mod hillshade;
pub mod imagery;
pub mod style;
pub mod text;

use crate::labels::{label_point, LABEL_SUFFIX};
use crate::terrain::heights::{ElevationCache, Sampler};
use color::Rgba;
use crs::MapCrs;
use expr::Ctx;
use formosa_store::mercator::{to_mercator, HALF_WORLD};
use formosa_store::raster::{IMAGERY, TERRAIN as TERRAIN_KIND};
use formosa_store::{Attributes, Catalog, Envelope, Feature, Geometry, Pyramids, Source, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use style::{LayerType, RenderStyle, StyleLayer};
use tiny_skia::{FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, StrokeDash, Transform};

/// Web Mercator metres per pixel at MapLibre zoom 0 (a 512-px world).
const RESOLUTION_Z0: f64 = 2.0 * HALF_WORLD / 512.0;
/// Web Mercator metres per degree of longitude.
const MERCATOR_M_PER_DEGREE: f64 = HALF_WORLD / 180.0;

/// What a map shows: a box in a CRS, drawn at a size in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapView {
    pub crs: MapCrs,
    /// min easting, min northing, max easting, max northing (longitude/latitude order for
    /// the geographic CRSs, whatever the request's axis order was).
    pub bbox: [f64; 4],
    pub width: u32,
    pub height: u32,
}

impl MapView {
    fn res(&self) -> (f64, f64) {
        ((self.bbox[2] - self.bbox[0]) / self.width as f64, (self.bbox[3] - self.bbox[1]) / self.height as f64)
    }

    /// Pixel position of a longitude/latitude (fractional; y down).
    pub fn pixel(&self, lon: f64, lat: f64) -> (f32, f32) {
        let (x, y) = self.crs.forward(lon, lat);
        let (rx, ry) = self.res();
        (((x - self.bbox[0]) / rx) as f32, ((self.bbox[3] - y) / ry) as f32)
    }

    pub fn lonlat_at(&self, px: f64, py: f64) -> (f64, f64) {
        let (rx, ry) = self.res();
        self.crs.inverse(self.bbox[0] + px * rx, self.bbox[3] - py * ry)
    }

    /// Web Mercator x, y and the latitude under a pixel position.
    pub fn mercator_at(&self, px: f64, py: f64) -> (f64, f64, f64) {
        if self.crs == MapCrs::WebMercator {
            let (rx, ry) = self.res();
            let (x, y) = (self.bbox[0] + px * rx, self.bbox[3] - py * ry);
            return (x, y, formosa_store::mercator::to_lonlat(x, y).1);
        }
        let (lon, lat) = self.lonlat_at(px, py);
        let (x, y) = to_mercator(lon, lat);
        (x, y, lat)
    }

    /// The longitude/latitude box the map (grown by `margin` pixels) covers, from points
    /// along its edges (a projected map's edges are curves in longitude/latitude).
    pub fn lonlat_bounds(&self, margin: f64) -> Envelope {
        let (w, h) = (self.width as f64, self.height as f64);
        let mut env: Option<Envelope> = None;
        for i in 0..=16 {
            let t = i as f64 / 16.0;
            for (px, py) in [
                (-margin + t * (w + 2.0 * margin), -margin),
                (-margin + t * (w + 2.0 * margin), h + margin),
                (-margin, -margin + t * (h + 2.0 * margin)),
                (w + margin, -margin + t * (h + 2.0 * margin)),
            ] {
                let (lon, lat) = self.lonlat_at(px, py);
                let (lon, lat) = (lon.clamp(-180.0, 180.0), lat.clamp(-85.06, 85.06));
                env = Some(match env {
                    None => Envelope { min_x: lon, min_y: lat, max_x: lon, max_y: lat },
                    Some(e) => e.expand(lon, lat),
                });
            }
        }
        env.expect("17 points per edge")
    }

    pub fn mercator_bounds(&self) -> Envelope {
        let e = self.lonlat_bounds(0.0);
        let (min_x, min_y) = to_mercator(e.min_x, e.min_y);
        let (max_x, max_y) = to_mercator(e.max_x, e.max_y);
        Envelope { min_x, min_y, max_x, max_y }
    }

    /// Web Mercator metres per pixel at the map's centre.
    fn mercator_resolution(&self) -> f64 {
        let (rx, _) = self.res();
        match self.crs {
            MapCrs::WebMercator => rx,
            MapCrs::Wgs84LatLon | MapCrs::Crs84 => rx * MERCATOR_M_PER_DEGREE,
            MapCrs::Tm2 { .. } => {
                let (_, lat) = self.lonlat_at(self.width as f64 / 2.0, self.height as f64 / 2.0);
                rx / lat.to_radians().cos()
            }
        }
    }

    /// The MapLibre zoom showing the map's centre at the map's resolution.
    pub fn zoom(&self) -> f64 {
        (RESOLUTION_Z0 / self.mercator_resolution()).log2()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("layer '{0}' is not drawn by this server")]
    UnknownLayer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("drawing stopped: {0}")]
    Interrupted(String),
}

/// Asked between a map's drawing steps whether to go on: a map whose client went away,
/// or that ran past its time limit, stops at the next step with
/// `RenderError::Interrupted` instead of being finished for nobody.
pub trait Interrupt {
    /// Why to stop now, if so.
    fn stop(&self) -> Option<String>;
}

/// Never stops.
pub struct Uninterrupted;

impl Interrupt for Uninterrupted {
    fn stop(&self) -> Option<String> {
        None
    }
}

fn go_on(interrupt: &dyn Interrupt) -> Result<(), RenderError> {
    interrupt.stop().map_or(Ok(()), |why| Err(RenderError::Interrupted(why)))
}

/// A map to draw.
pub struct MapRequest {
    pub view: MapView,
    /// Map layers, bottom to top: `basemap`, a store layer, `terrain` (hillshade).
    pub layers: Vec<String>,
    pub transparent: bool,
    /// The colour under everything when not transparent; the style's background when None.
    pub bgcolor: Option<Rgba>,
    /// Labels whose anchor lies up to this many pixels outside the map are placed too, so
    /// that a label crossing a tile edge is drawn on both tiles.
    pub label_margin: f64,
}

/// Decoded tiles of the raster sources, kept between maps: the elevation pyramid
/// (hillshade) and imagery tiles.
pub struct Rasters<'a> {
    pub elevation: &'a ElevationCache,
    pub imagery: &'a imagery::ImageryCache,
}

/// Labels up to this far outside a map or tile are placed, so tiles agree at their edges.
pub const LABEL_MARGIN_PX: f64 = 64.0;

/// The group layer of every map layer.
pub const BASEMAP: &str = "basemap";
/// The hillshade map layer.
pub const TERRAIN: &str = "terrain";

/// The style, and the font its labels are drawn with.
pub struct Renderer {
    pub style: RenderStyle,
    font: Option<text::Font>,
}

/// One layer a map request can name: what the services list in their capabilities.
#[derive(Debug, Clone)]
pub struct MapLayer {
    pub name: String,
    pub title: String,
    /// Extent in longitude/latitude.
    pub extent: Option<Envelope>,
    /// Ids of the style layers that draw it, in drawing order.
    pub style_layers: Vec<String>,
    /// Whether it has features (GetFeatureInfo): not the hillshade, not imagery.
    pub queryable: bool,
}

impl Renderer {
    pub fn new(style: RenderStyle, fonts: &crate::fonts::Fonts) -> Renderer {
        let font = fonts.face(crate::fonts::DEFAULT_FONTSTACK).and_then(|(path, index)| match text::Font::load(&path, index as u32) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("map labels are off: {e}");
                None
            }
        });
        Renderer { style, font }
    }

    /// The label font (None when no font could be loaded).
    pub fn font(&self) -> Option<&text::Font> {
        self.font.as_ref()
    }

    /// An image that is empty (BLANK exceptions) or carries a message (INIMAGE).
    pub fn message_image(&self, width: u32, height: u32, message: Option<&str>, transparent: bool) -> Pixmap {
        let mut pixmap = Pixmap::new(width.max(1), height.max(1)).expect("the caller bounds the size");
        if !transparent {
            pixmap.fill(tiny_skia::Color::WHITE);
        }
        if let (Some(text), Some(font)) = (message, &self.font) {
            // Wrapped by characters at the image's width, from the top left.
            let size = 12.0;
            let mut line = String::new();
            let mut y = size;
            for ch in text.chars() {
                line.push(ch);
                if font.shape(&line, size).width > width as f32 - 8.0 {
                    line.pop();
                    let s = font.shape(&line, size);
                    font.draw(&mut pixmap, &s, 4.0 + s.width / 2.0, y, Rgba { r: 0.7, g: 0.0, b: 0.0, a: 1.0 }, Some((Rgba::WHITE, 1.0)));
                    y += size * 1.4;
                    line = ch.to_string();
                }
            }
            let s = font.shape(&line, size);
            font.draw(&mut pixmap, &s, 4.0 + s.width / 2.0, y, Rgba { r: 0.7, g: 0.0, b: 0.0, a: 1.0 }, Some((Rgba::WHITE, 1.0)));
        }
        pixmap
    }

    /// The layers maps can show: each store layer the style draws, `terrain` when the
    /// store has a DEM and the style a hillshade, in style order.
    pub fn map_layers(&self, store: &dyn Catalog) -> Vec<MapLayer> {
        let mut out: Vec<MapLayer> = Vec::new();
        let catalogue = store.layers();
        for layer in &catalogue {
            let name = &layer.name;
            let ids: Vec<String> = self.style.layers.iter().filter(|l| draws(l, name)).map(|l| l.id.clone()).collect();
            if layer.feature_kind().is_some() && !ids.is_empty() {
                let title = format!("{} ({})", name, layer.kind);
                out.push(MapLayer { name: name.clone(), title, extent: layer.extent, style_layers: ids, queryable: true });
            }
        }
        for layer in catalogue.iter().filter(|l| l.kind == IMAGERY) {
            let title = format!("{} (imagery, {})", layer.name, layer.source.rsplit('/').next().unwrap_or(""));
            out.push(MapLayer { name: layer.name.clone(), title, extent: layer.extent, style_layers: Vec::new(), queryable: false });
        }
        if let Some(t) = catalogue.iter().find(|l| l.kind == TERRAIN_KIND) {
            let ids: Vec<String> = self.style.layers.iter().filter(|l| l.kind == LayerType::Hillshade).map(|l| l.id.clone()).collect();
            if !ids.is_empty() {
                out.push(MapLayer { name: TERRAIN.into(), title: "terrain (hillshade of the DEM)".into(), extent: t.extent, style_layers: ids, queryable: false });
            }
        }
        // Imagery lies under everything but the background.
        let position =
            |m: &MapLayer| if m.style_layers.is_empty() { 1 } else { 2 + self.style.layers.iter().position(|l| m.style_layers.first() == Some(&l.id)).unwrap_or(usize::MAX - 2) };
        out.sort_by_key(position);
        out
    }

    /// The `basemap` group of `layers` (from `map_layers`): every style layer, over
    /// their joint extent.
    pub fn basemap(&self, layers: &[MapLayer]) -> MapLayer {
        let extent = layers.iter().filter_map(|l| l.extent).reduce(Envelope::union);
        let style_layers = self.style.layers.iter().map(|l| l.id.clone()).collect();
        MapLayer { name: BASEMAP.into(), title: "國家共通底圖 common base map".into(), extent, style_layers, queryable: true }
    }

    /// Draws a map. Layer names must come from `map_layers` (or be `basemap`).
    pub fn render(&self, store: &dyn Source, rasters: Option<Rasters>, req: &MapRequest) -> Result<Pixmap, RenderError> {
        self.render_until(store, rasters, req, &Uninterrupted)
    }

    /// How many features the map would read: an R-tree count over its bounds for each
    /// store layer a style layer visible at its zoom draws, each layer once. With its
    /// pixels, the map's cost, known before it is drawn.
    pub fn features_to_draw(&self, store: &dyn Catalog, req: &MapRequest) -> Result<usize, RenderError> {
        let zoom = req.view.zoom();
        let bounds = req.view.lonlat_bounds(req.label_margin.max(8.0));
        let mut counted: Vec<&str> = Vec::new();
        let mut features = 0;
        for step in self.plan(store, req)? {
            let Step::Style(layer) = step else { continue };
            let Some(source) = layer.source_layer.as_deref().filter(|_| layer.visible_at(zoom)) else { continue };
            let name = source.strip_suffix(LABEL_SUFFIX).filter(|n| store.layer_info(n).is_some()).unwrap_or(source);
            if counted.contains(&name) {
                continue;
            }
            counted.push(name);
            features += store.feature_layer(name).map_or(0, |l| l.count(&bounds));
        }
        Ok(features)
    }

    /// `render`, asking `interrupt` before each drawing step whether to go on.
    pub fn render_until(&self, store: &dyn Source, rasters: Option<Rasters>, req: &MapRequest, interrupt: &dyn Interrupt) -> Result<Pixmap, RenderError> {
        let view = &req.view;
        let mut pixmap = Pixmap::new(view.width.max(1), view.height.max(1)).expect("the caller bounds the size");
        if !req.transparent {
            pixmap.fill(req.bgcolor.unwrap_or(Rgba::WHITE).to_skia());
        }
        let zoom = view.zoom();
        let plan = self.plan(store, req)?;
        let pyramids: &dyn Pyramids = store;
        let mut data = MapData { store, view, margin: req.label_margin, features: HashMap::new() };
        let mut labels: Vec<Label> = Vec::new();
        for (order, step) in plan.iter().enumerate() {
            go_on(interrupt)?;
            let layer = match step {
                Step::Imagery(name, max_zoom) => {
                    if let Some(r) = &rasters {
                        imagery::draw(&mut pixmap, view, pyramids, r.imagery, name, *max_zoom)?;
                    }
                    continue;
                }
                Step::Style(layer) => layer,
            };
            if !layer.visible_at(zoom) {
                continue;
            }
            match layer.kind {
                LayerType::Background => {
                    let ctx = Ctx { zoom, properties: &[], geometry_type: "Polygon" };
                    let c = layer.color("background-color", &ctx, Rgba::BLACK).with_opacity(layer.num("background-opacity", &ctx, 1.0) as f32);
                    let rect = tiny_skia::Rect::from_xywh(0.0, 0.0, pixmap.width() as f32, pixmap.height() as f32).expect("non-empty");
                    pixmap.fill_rect(rect, &paint(c), Transform::identity(), None);
                }
                LayerType::Hillshade => {
                    if let Some(r) = &rasters {
                        draw_hillshade(&mut pixmap, pyramids, r.elevation, view, layer, zoom)?;
                    }
                }
                LayerType::Symbol => {
                    if let Some(font) = &self.font {
                        let features = data.get(layer)?;
                        collect_labels(font, layer, order, &features, view, zoom, &mut labels);
                    }
                }
                _ => {
                    let features = data.get(layer)?;
                    draw_features(&mut pixmap, layer, &features, view, zoom);
                }
            }
        }
        go_on(interrupt)?;
        if let Some(font) = &self.font {
            place_and_draw_labels(&mut pixmap, font, labels);
        }
        Ok(pixmap)
    }

    /// What to draw, bottom to top: for each requested layer its style layers in style
    /// order (`basemap`: all, imagery right above the background), each once.
    fn plan<'s>(&'s self, store: &dyn Catalog, req: &MapRequest) -> Result<Vec<Step<'s>>, RenderError> {
        let catalogue = store.layers();
        let imagery: Vec<(String, u8)> = catalogue.iter().filter(|l| l.kind == IMAGERY).map(|l| (l.name.clone(), l.max_zoom.unwrap_or(0))).collect();
        let mut plan: Vec<Step> = Vec::new();
        for name in &req.layers {
            if let Some((n, z)) = imagery.iter().find(|(n, _)| n == name) {
                if !plan.iter().any(|p| matches!(p, Step::Imagery(m, _) if m == n)) {
                    plan.push(Step::Imagery(n.clone(), *z));
                }
                continue;
            }
            let before = plan.len();
            for l in &self.style.layers {
                let wanted = match name.as_str() {
                    BASEMAP => l.kind != LayerType::Background || (!req.transparent && req.bgcolor.is_none()),
                    TERRAIN => l.kind == LayerType::Hillshade,
                    layer => draws(l, layer),
                };
                if wanted && !plan.iter().any(|p| matches!(p, Step::Style(s) if std::ptr::eq(*s, l))) {
                    plan.push(Step::Style(l));
                }
                if name == BASEMAP && l.kind == LayerType::Background {
                    for (n, z) in &imagery {
                        plan.push(Step::Imagery(n.clone(), *z));
                    }
                }
            }
            if name == BASEMAP && !self.style.layers.iter().any(|l| l.kind == LayerType::Background) {
                plan.splice(before..before, imagery.iter().map(|(n, z)| Step::Imagery(n.clone(), *z)));
            }
            let known =
                name == BASEMAP || (name == TERRAIN && catalogue.iter().any(|l| l.kind == TERRAIN_KIND)) || catalogue.iter().any(|l| &l.name == name && l.feature_kind().is_some());
            if plan.len() == before && !known {
                return Err(RenderError::UnknownLayer(name.clone()));
            }
        }
        Ok(plan)
    }
}

/// One drawing step of a map.
enum Step<'s> {
    Style(&'s StyleLayer),
    /// An imagery layer and its deepest pyramid level.
    Imagery(String, u8),
}

/// Whether style layer `l` draws store layer `name` (its features or its label points).
fn draws(l: &StyleLayer, name: &str) -> bool {
    l.source_layer.as_deref().is_some_and(|s| s == name || s.strip_suffix(LABEL_SUFFIX) == Some(name))
}

fn paint(c: Rgba) -> Paint<'static> {
    let mut p = Paint { anti_alias: true, ..Default::default() };
    p.set_color(c.to_skia());
    p
}

/// The features each store layer contributes to one map, read once for all the style
/// layers that draw it.
struct MapData<'a> {
    store: &'a dyn Catalog,
    view: &'a MapView,
    margin: f64,
    features: HashMap<String, Arc<Vec<Feature>>>,
}

impl MapData<'_> {
    fn get(&mut self, layer: &StyleLayer) -> Result<Arc<Vec<Feature>>, StoreError> {
        let Some(source) = layer.source_layer.as_deref() else { return Ok(Arc::default()) };
        let name = source.strip_suffix(LABEL_SUFFIX).filter(|n| self.store.layer_info(n).is_some()).unwrap_or(source);
        if let Some(f) = self.features.get(name) {
            return Ok(f.clone());
        }
        let features = Arc::new(self.read(name)?);
        self.features.insert(name.to_string(), features.clone());
        Ok(features)
    }

    /// The layer's features on the map (and its label margin), less those smaller than
    /// half a pixel, which are left out before their geometry is read.
    fn read(&self, name: &str) -> Result<Vec<Feature>, StoreError> {
        let Some(layer) = self.store.feature_layer(name) else { return Ok(Vec::new()) };
        let bounds = self.view.lonlat_bounds(self.margin.max(8.0));
        let mut entries = layer.query_envelopes(&bounds);
        entries.retain(|(_, e)| {
            let (x0, y0) = self.view.pixel(e.min_x, e.min_y);
            let (x1, y1) = self.view.pixel(e.max_x, e.max_y);
            let size = (x1 - x0).abs().max((y1 - y0).abs());
            size >= 0.5 || (e.min_x == e.max_x && e.min_y == e.max_y)
        });
        // Clustered as MapLibre shows them at this zoom: by the cells of its tiles' zoom.
        let tile_zoom = (self.view.zoom() + 1e-6).floor().clamp(0.0, crate::tiles::MAX_ZOOM as f64) as u8;
        let clusters = if crate::cluster::clusters(layer.as_ref(), tile_zoom) {
            let (x0, y0) = to_mercator(bounds.min_x, bounds.min_y);
            let (x1, y1) = to_mercator(bounds.max_x, bounds.max_y);
            let area = Envelope { min_x: x0, min_y: y0, max_x: x1, max_y: y1 };
            crate::cluster::gather(layer.as_ref(), tile_zoom, &mut entries, crate::cluster::cells_meeting(tile_zoom, &area))?
        } else {
            Vec::new()
        };
        let mut ids: Vec<i64> = entries.into_iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        let attributes = if crate::tiles::rules(layer.info().feature_kind()).extra_attributes { Attributes::All } else { Attributes::Typed };
        let mut features = layer.features(&ids, attributes)?;
        features.extend(clusters);
        Ok(features)
    }
}

fn geometry_type(g: &Geometry) -> &'static str {
    match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) => "Point",
        Geometry::MultiLineString(_) => "LineString",
        Geometry::MultiPolygon(_) => "Polygon",
    }
}

/// Features drawn alike share one path: one fill or stroke call per group, not per feature.
struct Groups<K> {
    groups: Vec<(K, PathBuilder)>,
}

impl<K: PartialEq + PartialOrd> Groups<K> {
    /// The groups in the order of their keys: where groups overlap (pipes of several
    /// utilities along one street), which lies on top must not depend on which feature
    /// the map happened to read first, or a tile and a map of the same box (or two
    /// neighbouring tiles, whose read windows differ) would disagree.
    fn in_order(mut self) -> Vec<(K, PathBuilder)> {
        self.groups.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        self.groups
    }

    fn new() -> Self {
        Groups { groups: Vec::new() }
    }

    fn path(&mut self, key: K) -> &mut PathBuilder {
        let i = match self.groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.groups.push((key, PathBuilder::new()));
                self.groups.len() - 1
            }
        };
        &mut self.groups[i].1
    }
}

/// Adds a ring to `pb` as a closed contour, oriented so that with the non-zero rule
/// exteriors fill and holes cut, whatever the source's winding.
fn push_ring(pb: &mut PathBuilder, ring: &[formosa_store::Coord], view: &MapView, hole: bool) {
    if ring.len() < 3 {
        return;
    }
    let pts: Vec<(f32, f32)> = ring.iter().map(|c| view.pixel(c[0], c[1])).collect();
    let area: f64 = pts.windows(2).map(|w| w[0].0 as f64 * w[1].1 as f64 - w[1].0 as f64 * w[0].1 as f64).sum();
    let reverse = (area > 0.0) == hole;
    let mut it: Box<dyn Iterator<Item = &(f32, f32)>> = if reverse { Box::new(pts.iter().rev()) } else { Box::new(pts.iter()) };
    let first = it.next().expect("3 points");
    pb.move_to(first.0, first.1);
    for p in it {
        pb.line_to(p.0, p.1);
    }
    pb.close();
}

fn push_line(pb: &mut PathBuilder, line: &[formosa_store::Coord], view: &MapView) {
    let mut it = line.iter().map(|c| view.pixel(c[0], c[1]));
    if let Some((x, y)) = it.next() {
        pb.move_to(x, y);
        for (x, y) in it {
            pb.line_to(x, y);
        }
    }
}

#[derive(PartialEq, PartialOrd)]
struct LineKey {
    color: [u8; 4],
    width: i32,
    dash: Vec<i32>,
}

fn draw_features(pixmap: &mut Pixmap, layer: &StyleLayer, features: &[Feature], view: &MapView, zoom: f64) {
    let (mut fills, mut outlines, mut lines) = (Groups::<[u8; 4]>::new(), Groups::<[u8; 4]>::new(), Groups::<LineKey>::new());
    let (mut circles, mut circle_strokes) = (Groups::<[u8; 4]>::new(), Groups::<([u8; 4], i32)>::new());
    let has_outline = layer.prop("fill-outline-color").is_some();
    for f in features {
        let ctx = Ctx { zoom, properties: &f.properties, geometry_type: geometry_type(&f.geometry) };
        if !layer.passes(&ctx) {
            continue;
        }
        match (layer.kind, &f.geometry) {
            (LayerType::Fill | LayerType::FillExtrusion, Geometry::MultiPolygon(polys)) => {
                let color = if layer.kind == LayerType::Fill {
                    layer.color("fill-color", &ctx, Rgba::BLACK).with_opacity(layer.num("fill-opacity", &ctx, 1.0) as f32)
                } else {
                    roof_color(layer.color("fill-extrusion-color", &ctx, Rgba::BLACK)).with_opacity(layer.num("fill-extrusion-opacity", &ctx, 1.0) as f32)
                };
                let pb = fills.path(color.bytes());
                for rings in polys {
                    for (i, ring) in rings.iter().enumerate() {
                        push_ring(pb, ring, view, i > 0);
                    }
                }
                if has_outline && layer.kind == LayerType::Fill {
                    let oc = layer.color("fill-outline-color", &ctx, Rgba::BLACK).with_opacity(layer.num("fill-opacity", &ctx, 1.0) as f32);
                    let pb = outlines.path(oc.bytes());
                    for ring in polys.iter().flatten() {
                        push_line(pb, ring, view);
                    }
                }
            }
            (LayerType::Line, Geometry::MultiLineString(_) | Geometry::MultiPolygon(_)) => {
                let width = layer.num("line-width", &ctx, 1.0);
                let color = layer.color("line-color", &ctx, Rgba::BLACK).with_opacity(layer.num("line-opacity", &ctx, 1.0) as f32);
                if width <= 0.0 || color.a <= 0.0 {
                    continue;
                }
                let dash = match layer.prop("line-dasharray").map(|e| e.eval(&ctx)) {
                    Some(expr::V::List(v)) => v.iter().filter_map(|d| d.num()).map(|d| (d * 16.0).round() as i32).collect(),
                    _ => Vec::new(),
                };
                let pb = lines.path(LineKey { color: color.bytes(), width: (width * 16.0).round() as i32, dash });
                match &f.geometry {
                    Geometry::MultiLineString(ls) => ls.iter().for_each(|l| push_line(pb, l, view)),
                    Geometry::MultiPolygon(ps) => ps.iter().flatten().for_each(|r| push_line(pb, r, view)),
                    _ => {}
                }
            }
            (LayerType::Circle, Geometry::Point(_) | Geometry::MultiPoint(_)) => {
                let r = layer.num("circle-radius", &ctx, 5.0) as f32;
                let opacity = layer.num("circle-opacity", &ctx, 1.0) as f32;
                let color = layer.color("circle-color", &ctx, Rgba::BLACK).with_opacity(opacity);
                let sw = layer.num("circle-stroke-width", &ctx, 0.0);
                let sc = layer.color("circle-stroke-color", &ctx, Rgba::BLACK).with_opacity(layer.num("circle-stroke-opacity", &ctx, 1.0) as f32);
                for c in f.geometry.coords() {
                    let (x, y) = view.pixel(c[0], c[1]);
                    circles.path(color.bytes()).push_circle(x, y, r.max(0.1));
                    if sw > 0.0 {
                        circle_strokes.path((sc.bytes(), (sw * 16.0).round() as i32)).push_circle(x, y, r.max(0.1) + sw as f32 / 2.0);
                    }
                }
            }
            _ => {}
        }
    }
    let ctx = Ctx { zoom, properties: &[], geometry_type: "LineString" };
    let cap = match layer.string("line-cap", &ctx).as_deref() {
        Some("round") => LineCap::Round,
        Some("square") => LineCap::Square,
        _ => LineCap::Butt,
    };
    let join = match layer.string("line-join", &ctx).as_deref() {
        Some("round") => LineJoin::Round,
        Some("bevel") => LineJoin::Bevel,
        _ => LineJoin::Miter,
    };
    for (color, pb) in fills.in_order() {
        if let Some(path) = pb.finish() {
            pixmap.fill_path(&path, &paint(rgba(color)), FillRule::Winding, Transform::identity(), None);
        }
    }
    let hairline = Stroke { width: 1.0, ..Default::default() };
    for (color, pb) in outlines.in_order() {
        if let Some(path) = pb.finish() {
            pixmap.stroke_path(&path, &paint(rgba(color)), &hairline, Transform::identity(), None);
        }
    }
    for (key, pb) in lines.in_order() {
        let Some(path) = pb.finish() else { continue };
        let width = key.width as f32 / 16.0;
        // MapLibre's dashes are in line widths.
        let dash =
            (key.dash.len() >= 2 && key.dash.len() % 2 == 0).then(|| StrokeDash::new(key.dash.iter().map(|d| (*d as f32 / 16.0 * width).max(0.01)).collect(), 0.0)).flatten();
        let stroke = Stroke { width, line_cap: cap, line_join: join, dash, ..Default::default() };
        pixmap.stroke_path(&path, &paint(rgba(key.color)), &stroke, Transform::identity(), None);
    }
    for (color, pb) in circles.in_order() {
        if let Some(path) = pb.finish() {
            pixmap.fill_path(&path, &paint(rgba(color)), FillRule::Winding, Transform::identity(), None);
        }
    }
    for ((color, width), pb) in circle_strokes.in_order() {
        if let Some(path) = pb.finish() {
            pixmap.stroke_path(&path, &paint(rgba(color)), &Stroke { width: width as f32 / 16.0, ..Default::default() }, Transform::identity(), None);
        }
    }
}

/// Source-over of a premultiplied colour (channels 0–255) onto a pixel: the per-pixel
/// layers (hillshade, imagery) are composited with it.
fn blend_over(dst: &mut tiny_skia::PremultipliedColorU8, src: [f32; 4]) {
    let keep = 1.0 - src[3] / 255.0;
    let d = [dst.red(), dst.green(), dst.blue(), dst.alpha()];
    let out: [u8; 4] = std::array::from_fn(|k| (src[k] + d[k] as f32 * keep).round().clamp(0.0, 255.0) as u8);
    if let Some(c) = tiny_skia::PremultipliedColorU8::from_rgba(out[0].min(out[3]), out[1].min(out[3]), out[2].min(out[3]), out[3]) {
        *dst = c;
    }
}

fn rgba(b: [u8; 4]) -> Rgba {
    Rgba { r: b[0] as f32 / 255.0, g: b[1] as f32 / 255.0, b: b[2] as f32 / 255.0, a: b[3] as f32 / 255.0 }
}

/// An extrusion's roof as MapLibre lights it with its default light (intensity 0.5,
/// position [1.15, 210°, 30°]: the roof's normal meets it at 1.15 × cos 30° ≈ 0.996):
/// (colour + 0.03 ambient) × mix(0.5, max(1.5 − luminance, 1), 0.996).
fn roof_color(c: Rgba) -> Rgba {
    let luminance = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    let facing = (1.15 * 30f32.to_radians().cos()).min(1.0);
    let directional = 0.5 + ((1.5 - luminance).max(1.0) - 0.5) * facing;
    let lit = |v: f32| ((v + 0.03) * directional).min(1.0);
    Rgba { r: lit(c.r), g: lit(c.g), b: lit(c.b), a: c.a }
}

fn draw_hillshade(pixmap: &mut Pixmap, store: &dyn Pyramids, elevation: &ElevationCache, view: &MapView, layer: &StyleLayer, zoom: f64) -> Result<(), StoreError> {
    // Nothing to shade off the DEM (sea level is flat).
    let Some(info) = store.terrain() else { return Ok(()) };
    if let Some(e) = info.extent {
        let (min_x, min_y) = to_mercator(e.min_x, e.min_y);
        let (max_x, max_y) = to_mercator(e.max_x, e.max_y);
        if !(Envelope { min_x, min_y, max_x, max_y }).intersects(&view.mercator_bounds()) {
            return Ok(());
        }
    }
    let Some(mut sampler) = Sampler::new(store, elevation, hillshade::dem_level(zoom), 0.0) else { return Ok(()) };
    let ctx = Ctx { zoom, properties: &[], geometry_type: "Polygon" };
    let paint = hillshade::HillshadePaint {
        exaggeration: layer.num("hillshade-exaggeration", &ctx, 0.5),
        shadow: layer.color("hillshade-shadow-color", &ctx, Rgba::BLACK),
        highlight: layer.color("hillshade-highlight-color", &ctx, Rgba::WHITE),
        accent: layer.color("hillshade-accent-color", &ctx, Rgba::BLACK),
        direction_deg: layer.num("hillshade-illumination-direction", &ctx, 335.0),
    };
    hillshade::draw(pixmap, view, &mut sampler, &paint)
}

struct Label {
    order: usize,
    shaped: text::Shaped,
    at: (f32, f32),
    color: Rgba,
    halo: (Rgba, f32),
    padding: f32,
}

fn collect_labels(font: &text::Font, layer: &StyleLayer, order: usize, features: &[Feature], view: &MapView, zoom: f64, out: &mut Vec<Label>) {
    let label_points = layer.source_layer.as_deref().is_some_and(|s| s.ends_with(LABEL_SUFFIX));
    for f in features {
        let ctx = Ctx { zoom, properties: &f.properties, geometry_type: if label_points { "Point" } else { geometry_type(&f.geometry) } };
        if !layer.passes(&ctx) {
            continue;
        }
        let anchor = match &f.geometry {
            Geometry::Point(c) => Some((c[0], c[1])),
            Geometry::MultiPoint(v) => v.first().map(|c| (c[0], c[1])),
            Geometry::MultiLineString(ls) => ls.iter().max_by_key(|l| l.len()).and_then(|l| l.get(l.len() / 2)).map(|c| (c[0], c[1])),
            g @ Geometry::MultiPolygon(_) => label_point(g),
        };
        let Some((lon, lat)) = anchor else { continue };
        let Some(text) = layer.string("text-field", &ctx).filter(|t| !t.trim().is_empty()) else { continue };
        let size = layer.num("text-size", &ctx, 16.0) as f32;
        let shaped = font.shape(&text, size);
        if shaped.is_empty() {
            continue;
        }
        out.push(Label {
            order,
            shaped,
            at: view.pixel(lon, lat),
            color: layer.color("text-color", &ctx, Rgba::BLACK).with_opacity(layer.num("text-opacity", &ctx, 1.0) as f32),
            halo: (layer.color("text-halo-color", &ctx, Rgba::TRANSPARENT), layer.num("text-halo-width", &ctx, 0.0) as f32),
            padding: layer.num("text-padding", &ctx, 2.0) as f32,
        });
    }
}

/// Places labels as MapLibre does — upper layers first, each only where it collides with
/// nothing placed — then draws the placed ones bottom layer first.
fn place_and_draw_labels(pixmap: &mut Pixmap, font: &text::Font, mut labels: Vec<Label>) {
    labels.sort_by_key(|l| std::cmp::Reverse(l.order));
    let mut collisions = text::Collisions::default();
    let mut placed: Vec<&Label> = labels.iter().filter(|l| collisions.try_place(l.shaped.bounds(l.at.0, l.at.1, l.padding))).collect();
    placed.reverse();
    for l in placed {
        font.draw(pixmap, &l.shaped, l.at.0, l.at.1, l.color, Some(l.halo));
    }
}
