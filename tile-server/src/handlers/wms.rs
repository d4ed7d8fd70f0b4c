//! WMS 1.3.0 at `/wms`: GetCapabilities, GetMap, GetFeatureInfo, GetLegendGraphic.
//!
//! One layer per store layer the style draws, and `terrain` (hillshade), all inside the
//! `basemap` group layer. Errors are ServiceExceptionReports (or, with EXCEPTIONS=INIMAGE
//! or BLANK, images); sizes over `[server] max_map_size` are refused before anything is
//! allocated.

use crate::builders::{BuildKind, Class, Cost, Work};
use crate::http::base_url;
use crate::ogc::{escape_xml, feature_info_response, parse_bbox, parse_int, queried_layers, render_blocking, Kvp, OgcError};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use formosa_encoders::feature_info::{self, InfoFormat};
use formosa_encoders::grids::TileMatrixSet;
use formosa_encoders::legend;
use formosa_encoders::render::color::Rgba;
use formosa_encoders::render::crs::MapCrs;
use formosa_encoders::render::encode::{encode, ImageFormat};
use formosa_encoders::render::{MapLayer, MapRequest, MapView, Rasters, RenderError, BASEMAP};
use formosa_store::Envelope;

/// At most this many layers in one GetMap.
pub const LAYER_LIMIT: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Exceptions {
    Xml,
    InImage,
    Blank,
}

pub async fn handle(State(s): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let kvp = Kvp::parse(query.as_deref());
    match dispatch(&s, &headers, &kvp).await {
        Ok(r) => r,
        Err(e) => e.wms_report(),
    }
}

async fn dispatch(s: &AppState, headers: &HeaderMap, kvp: &Kvp) -> Result<Response, OgcError> {
    let request = kvp.get("REQUEST").ok_or_else(|| OgcError::missing("REQUEST"))?;
    match kvp.get("SERVICE") {
        None if !request.eq_ignore_ascii_case("GetMap") && !request.eq_ignore_ascii_case("GetFeatureInfo") => return Err(OgcError::missing("SERVICE")),
        Some(v) if !v.eq_ignore_ascii_case("WMS") => return Err(OgcError::invalid("SERVICE", format!("SERVICE '{v}' is not WMS (this is /wms; WMTS is at /wmts)"))),
        _ => {}
    }
    let is = |r: &str| request.eq_ignore_ascii_case(r);
    if !is("GetCapabilities") {
        match kvp.get("VERSION") {
            None if !is("GetLegendGraphic") => return Err(OgcError::missing("VERSION")),
            Some(v) if v != "1.3.0" => return Err(OgcError::invalid("VERSION", format!("VERSION '{v}' is not supported; this server speaks WMS 1.3.0"))),
            _ => {}
        }
    }
    if is("GetCapabilities") {
        Ok(crate::ogc::xml(capabilities(s, &base_url(headers))))
    } else if is("GetMap") {
        get_map(s, kvp).await
    } else if is("GetFeatureInfo") {
        get_feature_info(s, kvp).await
    } else if is("GetLegendGraphic") {
        get_legend_graphic(s, kvp).await
    } else {
        Err(OgcError::new(
            "OperationNotSupported",
            "REQUEST",
            format!("REQUEST '{request}' is not a WMS 1.3.0 operation here (GetCapabilities, GetMap, GetFeatureInfo, GetLegendGraphic)"),
        ))
    }
}

/// The map layers, and `basemap` (every one of them).
fn layers(s: &AppState) -> Vec<MapLayer> {
    s.renderer.map_layers(&*s.store)
}

/// The map part shared by GetMap and GetFeatureInfo.
struct MapParams {
    layers: Vec<String>,
    view: MapView,
}

fn map_params(s: &AppState, kvp: &Kvp) -> Result<MapParams, OgcError> {
    let names = kvp.get("LAYERS").ok_or_else(|| OgcError::missing("LAYERS"))?;
    let known = layers(s);
    let layers: Vec<String> = names.split(',').map(str::trim).map(str::to_string).collect();
    if layers.len() > LAYER_LIMIT {
        return Err(OgcError::invalid("LAYERS", format!("{} layers asked; at most {LAYER_LIMIT} per request", layers.len())));
    }
    for l in &layers {
        if l != BASEMAP && !known.iter().any(|k| &k.name == l) {
            let names: Vec<&str> = std::iter::once(BASEMAP).chain(known.iter().map(|k| k.name.as_str())).collect();
            return Err(OgcError::new("LayerNotDefined", "LAYERS", format!("layer '{l}' is not served here; layers: {}", names.join(", "))));
        }
    }
    let styles = kvp.get("STYLES").ok_or_else(|| OgcError::missing("STYLES"))?;
    if !styles.is_empty() {
        let list: Vec<&str> = styles.split(',').map(str::trim).collect();
        if list.len() != layers.len() || list.iter().any(|st| !st.is_empty() && *st != "default") {
            return Err(OgcError::new("StyleNotDefined", "STYLES", format!("STYLES '{styles}': each layer has one style, 'default' (or leave STYLES empty), one per layer")));
        }
    }
    let crs_text = kvp.get("CRS").ok_or_else(|| OgcError::missing("CRS"))?;
    let crs = MapCrs::parse(crs_text).ok_or_else(|| {
        let known: Vec<String> = MapCrs::SUPPORTED.iter().map(|c| c.code()).collect();
        OgcError::new("InvalidCRS", "CRS", format!("CRS '{crs_text}' is not supported; use one of {}", known.join(", ")))
    })?;
    let bbox_text = kvp.get("BBOX").ok_or_else(|| OgcError::missing("BBOX"))?;
    let mut bbox = parse_bbox("BBOX", bbox_text)?;
    if crs.northing_first() {
        bbox = [bbox[1], bbox[0], bbox[3], bbox[2]];
    }
    if bbox[0] >= bbox[2] || bbox[1] >= bbox[3] {
        let axes = if crs.northing_first() { "minlat,minlon,maxlat,maxlon for EPSG:4326" } else { "minx,miny,maxx,maxy" };
        return Err(OgcError::invalid("BBOX", format!("BBOX '{bbox_text}' is empty or inverted: it must be {axes} with min < max")));
    }
    if crs.is_geographic() && (bbox[1] < -90.0 || bbox[3] > 90.0 || bbox[0] < -360.0 || bbox[2] > 360.0) {
        return Err(OgcError::invalid("BBOX", format!("BBOX '{bbox_text}' is off the globe (latitudes within ±90°)")));
    }
    let max = s.config().max_map_size as i64;
    let width = parse_int("WIDTH", kvp.get("WIDTH").ok_or_else(|| OgcError::missing("WIDTH"))?, 1..=max)? as u32;
    let height = parse_int("HEIGHT", kvp.get("HEIGHT").ok_or_else(|| OgcError::missing("HEIGHT"))?, 1..=max)? as u32;
    Ok(MapParams { layers, view: MapView { crs, bbox, width, height } })
}

fn parse_bool(param: &str, v: Option<&str>) -> Result<bool, OgcError> {
    match v.map(str::to_ascii_uppercase).as_deref() {
        None | Some("FALSE") => Ok(false),
        Some("TRUE") => Ok(true),
        Some(_) => Err(OgcError::invalid(param, format!("{param} must be TRUE or FALSE"))),
    }
}

fn parse_bgcolor(v: Option<&str>) -> Result<Option<Rgba>, OgcError> {
    let Some(v) = v else { return Ok(None) };
    let hex =
        v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")).filter(|h| h.len() == 6).ok_or_else(|| OgcError::invalid("BGCOLOR", format!("BGCOLOR '{v}' must be 0xRRGGBB")))?;
    Rgba::parse(&format!("#{hex}")).map(Some).ok_or_else(|| OgcError::invalid("BGCOLOR", format!("BGCOLOR '{v}' must be 0xRRGGBB")))
}

async fn get_map(s: &AppState, kvp: &Kvp) -> Result<Response, OgcError> {
    let exceptions = match kvp.get("EXCEPTIONS").map(str::to_ascii_uppercase).as_deref() {
        None | Some("XML") | Some("APPLICATION/VND.OGC.SE_XML") | Some("TEXT/XML") => Exceptions::Xml,
        Some("INIMAGE") | Some("APPLICATION/VND.OGC.SE_INIMAGE") => Exceptions::InImage,
        Some("BLANK") | Some("APPLICATION/VND.OGC.SE_BLANK") => Exceptions::Blank,
        Some(other) => return Err(OgcError::invalid("EXCEPTIONS", format!("EXCEPTIONS '{other}' is not one of XML, INIMAGE, BLANK"))),
    };
    let format_text = kvp.get("FORMAT").ok_or_else(|| OgcError::missing("FORMAT"))?;
    let format = ImageFormat::parse(format_text)
        .ok_or_else(|| OgcError::new("InvalidFormat", "FORMAT", format!("FORMAT '{format_text}' is not offered; use image/png, image/jpeg or image/webp")))?;
    let transparent = parse_bool("TRANSPARENT", kvp.get("TRANSPARENT"))?;
    let bgcolor = parse_bgcolor(kvp.get("BGCOLOR"))?;
    let params = match map_params(s, kvp) {
        Ok(p) => p,
        // An image answer needs a size: only once WIDTH and HEIGHT are known good.
        Err(e) if exceptions != Exceptions::Xml => match image_size(s, kvp) {
            Some((w, h)) => return error_image(s, e, exceptions, w, h, format, transparent).await,
            None => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let req = MapRequest { view: params.view, layers: params.layers, transparent, bgcolor, label_margin: 0.0 };
    let mut work = Work::new(BuildKind::Map, map_class(s, &req));
    if let Some(limit) = s.config().render_time_limit() {
        work = work.within(limit);
    }
    let state = s.clone();
    let bytes = render_blocking(&s.tiles, work, move |ticket| {
        let rasters = Rasters { elevation: &state.elevation, imagery: &state.imagery };
        let pixmap = state.renderer.render_until(&*state.store, Some(rasters), &req, ticket).map_err(|e| match e {
            RenderError::Interrupted(why) => unfinished(why),
            e => OgcError::internal(e.to_string()),
        })?;
        // Encoding a large map takes as long as drawing it: not for a client that left.
        ticket.check().map_err(unfinished)?;
        encode(&pixmap, format).map_err(OgcError::internal)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, format.mime()), (header::CACHE_CONTROL, "no-cache")], bytes).into_response())
}

/// A map stopped before its end (past `max_render_time_s`, or its client went away).
fn unfinished(why: impl std::fmt::Display) -> OgcError {
    OgcError::internal(format!("the map was not finished: {why}; ask for a smaller area or size, or fewer layers"))
}

/// A map's class of work, from its pixels and the features it would read (counted only
/// when its size alone does not make it heavy).
fn map_class(s: &AppState, req: &MapRequest) -> Class {
    let pixels = req.view.width as u64 * req.view.height as u64;
    let by_size = s.tiles.class(Cost { pixels, features: 0 });
    if by_size == Class::Heavy {
        return by_size;
    }
    let features = s.renderer.features_to_draw(&*s.store, req).unwrap_or(0);
    s.tiles.class(Cost { pixels, features })
}

fn image_size(s: &AppState, kvp: &Kvp) -> Option<(u32, u32)> {
    let max = s.config().max_map_size as i64;
    let w = parse_int("WIDTH", kvp.get("WIDTH")?, 1..=max).ok()?;
    let h = parse_int("HEIGHT", kvp.get("HEIGHT")?, 1..=max).ok()?;
    Some((w as u32, h as u32))
}

/// EXCEPTIONS=INIMAGE: the reason written on the map; BLANK: an empty map.
async fn error_image(s: &AppState, e: OgcError, mode: Exceptions, w: u32, h: u32, format: ImageFormat, transparent: bool) -> Result<Response, OgcError> {
    let state = s.clone();
    let bytes = render_blocking(&s.tiles, Work::cheap(BuildKind::Legend), move |_| {
        let text = (mode == Exceptions::InImage).then(|| format!("{}: {}", e.code, e.text));
        let pixmap = state.renderer.message_image(w, h, text.as_deref(), transparent);
        encode(&pixmap, format).map_err(OgcError::internal)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, format.mime()), (header::CACHE_CONTROL, "no-cache")], bytes).into_response())
}

async fn get_feature_info(s: &AppState, kvp: &Kvp) -> Result<Response, OgcError> {
    let params = map_params(s, kvp)?;
    let query_layers = kvp.get("QUERY_LAYERS").ok_or_else(|| OgcError::missing("QUERY_LAYERS"))?;
    let info_text = kvp.get("INFO_FORMAT").ok_or_else(|| OgcError::missing("INFO_FORMAT"))?;
    let format = InfoFormat::parse(info_text)
        .ok_or_else(|| OgcError::new("InvalidFormat", "INFO_FORMAT", format!("INFO_FORMAT '{info_text}' is not offered; use text/html, application/json or text/xml")))?;
    let i = parse_int("I", kvp.get("I").ok_or_else(|| OgcError::missing("I"))?, i64::MIN..=i64::MAX)?;
    let j = parse_int("J", kvp.get("J").ok_or_else(|| OgcError::missing("J"))?, i64::MIN..=i64::MAX)?;
    if i < 0 || i >= params.view.width as i64 {
        return Err(OgcError::new("InvalidPoint", "I", format!("I {i} is outside the map (0–{})", params.view.width - 1)));
    }
    if j < 0 || j >= params.view.height as i64 {
        return Err(OgcError::new("InvalidPoint", "J", format!("J {j} is outside the map (0–{})", params.view.height - 1)));
    }
    let count = kvp.get("FEATURE_COUNT").map(|v| parse_int("FEATURE_COUNT", v, 1..=50)).transpose()?.unwrap_or(1) as usize;
    let targets = queried_layers(&layers(s), query_layers, &params.layers, "QUERY_LAYERS")?;
    let state = s.clone();
    let view = params.view;
    let results = render_blocking(&s.tiles, Work::cheap(BuildKind::FeatureInfo), move |_| {
        feature_info::query(&*state.store, &view, i as f64, j as f64, &targets, count).map_err(|e| OgcError::internal(e.to_string()))
    })
    .await?;
    Ok(feature_info_response(format, &results))
}

async fn get_legend_graphic(s: &AppState, kvp: &Kvp) -> Result<Response, OgcError> {
    let name = kvp.get("LAYER").ok_or_else(|| OgcError::missing("LAYER"))?;
    let format_text = kvp.get("FORMAT").ok_or_else(|| OgcError::missing("FORMAT"))?;
    let format = ImageFormat::parse(format_text)
        .ok_or_else(|| OgcError::new("InvalidFormat", "FORMAT", format!("FORMAT '{format_text}' is not offered; use image/png, image/jpeg or image/webp")))?;
    if let Some(st) = kvp.get("STYLE").filter(|st| !st.is_empty() && *st != "default") {
        return Err(OgcError::new("StyleNotDefined", "STYLE", format!("style '{st}' is not defined; the one style is 'default'")));
    }
    let all = layers(s);
    let layer = if name == BASEMAP {
        s.renderer.basemap(&all)
    } else {
        all.into_iter().find(|l| l.name == name).ok_or_else(|| OgcError::new("LayerNotDefined", "LAYER", format!("layer '{name}' is not served here")))?
    };
    let state = s.clone();
    let bytes = render_blocking(&s.tiles, Work::cheap(BuildKind::Legend), move |_| encode(&legend::legend(&state.renderer, &layer), format).map_err(OgcError::internal)).await?;
    Ok(([(header::CONTENT_TYPE, format.mime())], bytes).into_response())
}

/// The largest scale denominator a layer shows at (from the style's smallest minzoom).
fn max_scale_denominator(s: &AppState, layer: &MapLayer) -> Option<f64> {
    let minzoom = s.renderer.style.layers.iter().filter(|l| layer.style_layers.contains(&l.id)).map(|l| l.minzoom).fold(f64::INFINITY, f64::min);
    // MapLibre zoom z (512-px tiles) is the 256-px scale set's level z + 1.
    (minzoom.is_finite() && minzoom > 0.0).then(|| TileMatrixSet::google().matrices[0].scale_denominator / 2f64.powf(minzoom + 1.0))
}

fn capabilities(s: &AppState, base: &str) -> String {
    let url = format!("{base}/wms?");
    let all = layers(s);
    let basemap = s.renderer.basemap(&all);
    let extent = basemap.extent.unwrap_or(Envelope { min_x: 118.0, min_y: 21.5, max_x: 122.5, max_y: 26.5 });
    let op = |formats: &[&str]| {
        let f: String = formats.iter().map(|f| format!("<Format>{f}</Format>")).collect();
        format!("{f}<DCPType><HTTP><Get><OnlineResource xlink:type=\"simple\" xlink:href=\"{}\"/></Get></HTTP></DCPType>", escape_xml(&url))
    };
    let map_formats: Vec<&str> = ImageFormat::ALL.iter().map(|f| f.mime()).collect();
    let info_formats: Vec<&str> = InfoFormat::ALL.iter().map(|f| f.mime()).collect();
    let mut xml = String::with_capacity(16 * 1024);
    xml.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<WMS_Capabilities version=\"1.3.0\" xmlns=\"http://www.opengis.net/wms\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/wms http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd\">\n\
         <Service><Name>WMS</Name><Title>Formosa 國家共通底圖 WMS</Title>\
         <Abstract>Taiwan's common base map (cadastral parcels, buildings, utility pipelines, terrain) drawn from the same style as the vector tiles.</Abstract>\
         <KeywordList><Keyword>國家共通底圖</Keyword><Keyword>basemap</Keyword><Keyword>Taiwan</Keyword></KeywordList>\
         <OnlineResource xlink:type=\"simple\" xlink:href=\"{}\"/><Fees>none</Fees><AccessConstraints>none</AccessConstraints>\
         <LayerLimit>{LAYER_LIMIT}</LayerLimit><MaxWidth>{max}</MaxWidth><MaxHeight>{max}</MaxHeight></Service>\n<Capability><Request>\
         <GetCapabilities>{}</GetCapabilities><GetMap>{}</GetMap><GetFeatureInfo>{}</GetFeatureInfo></Request>\
         <Exception><Format>XML</Format><Format>INIMAGE</Format><Format>BLANK</Format></Exception>\n",
        escape_xml(&url),
        op(&["text/xml"]),
        op(&map_formats),
        op(&info_formats),
        max = s.config().max_map_size,
    ));
    let crs_list: String = MapCrs::SUPPORTED.iter().map(|c| format!("<CRS>{}</CRS>", c.code())).collect();
    let mut boxes = String::new();
    for crs in MapCrs::SUPPORTED {
        let b = crs.project_envelope(&extent);
        let (a, bb, c, d) = if crs.northing_first() { (b[1], b[0], b[3], b[2]) } else { (b[0], b[1], b[2], b[3]) };
        boxes.push_str(&format!("<BoundingBox CRS=\"{}\" minx=\"{a}\" miny=\"{bb}\" maxx=\"{c}\" maxy=\"{d}\"/>", crs.code()));
    }
    xml.push_str(&format!(
        "<Layer queryable=\"1\"><Name>{BASEMAP}</Name><Title>{}</Title><Abstract>Every layer below, in the style's order.</Abstract>{crs_list}{}{boxes}{}\n",
        escape_xml(&basemap.title),
        geographic_box(&extent),
        style_element(&url, BASEMAP),
    ));
    for l in &all {
        let queryable = l.queryable as u8;
        let scale = max_scale_denominator(s, l).map(|d| format!("<MaxScaleDenominator>{d}</MaxScaleDenominator>")).unwrap_or_default();
        xml.push_str(&format!(
            "  <Layer queryable=\"{queryable}\" opaque=\"0\"><Name>{}</Name><Title>{}</Title>{}{}{scale}</Layer>\n",
            escape_xml(&l.name),
            escape_xml(&l.title),
            l.extent.map(|e| geographic_box(&e)).unwrap_or_default(),
            style_element(&url, &l.name),
        ));
    }
    xml.push_str("</Layer>\n</Capability>\n</WMS_Capabilities>\n");
    xml
}

fn geographic_box(e: &Envelope) -> String {
    format!(
        "<EX_GeographicBoundingBox><westBoundLongitude>{}</westBoundLongitude><eastBoundLongitude>{}</eastBoundLongitude><southBoundLatitude>{}</southBoundLatitude><northBoundLatitude>{}</northBoundLatitude></EX_GeographicBoundingBox>",
        e.min_x, e.max_x, e.min_y, e.max_y
    )
}

fn style_element(url: &str, layer: &str) -> String {
    let legend = format!("{url}SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png&SLD_VERSION=1.1.0&LAYER={layer}");
    format!(
        "<Style><Name>default</Name><Title>Formosa base-map style</Title><LegendURL><Format>image/png</Format><OnlineResource xlink:type=\"simple\" xlink:href=\"{}\"/></LegendURL></Style>",
        escape_xml(&legend)
    )
}
