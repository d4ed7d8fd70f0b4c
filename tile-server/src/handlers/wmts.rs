//! WMTS 1.0.0: GetCapabilities, GetTile and GetFeatureInfo by KVP at `/wmts`, and RESTful
//! at `/wmts/1.0.0/WMTSCapabilities.xml`,
//! `/wmts/1.0.0/{layer}/{style}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.{png|jpg|webp}`
//! and `…/{TileCol}/{J}/{I}.{json|html|xml}`.
//!
//! Tiles are drawn by the renderer and kept in the tile cache next to the vector tiles
//! (`TileKind::Wmts`), so live edits drop exactly the ones they touch.

use crate::builders::{BuildKind, Cost, Work};
use crate::cache::{respond, TileKey, TileKind};
use crate::http::base_url;
use crate::ogc::{escape_xml, feature_info_response, queried_layers, render_blocking, Kvp, OgcError};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use formosa_encoders::feature_info::{self, InfoFormat};
use formosa_encoders::grids::{TileMatrixSet, TILE_SIZE};
use formosa_encoders::render::encode::ImageFormat;
use formosa_encoders::render::{Rasters, BASEMAP};

pub async fn kvp(State(s): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let kvp = Kvp::parse(query.as_deref());
    match dispatch(&s, &headers, &kvp).await {
        Ok(r) => r,
        Err(e) => e.ows_report(),
    }
}

async fn dispatch(s: &AppState, headers: &HeaderMap, kvp: &Kvp) -> Result<Response, OgcError> {
    let service = kvp.get("SERVICE").ok_or_else(|| OgcError::missing("SERVICE"))?;
    if !service.eq_ignore_ascii_case("WMTS") {
        return Err(OgcError::invalid("SERVICE", format!("SERVICE '{service}' is not WMTS (WMS is at /wms)")));
    }
    let request = kvp.get("REQUEST").ok_or_else(|| OgcError::missing("REQUEST"))?;
    if request.eq_ignore_ascii_case("GetCapabilities") {
        return Ok(crate::ogc::xml(capabilities(s, &base_url(headers))));
    }
    let is_tile = request.eq_ignore_ascii_case("GetTile");
    if !is_tile && !request.eq_ignore_ascii_case("GetFeatureInfo") {
        return Err(OgcError::new("OperationNotSupported", "REQUEST", format!("REQUEST '{request}' is not a WMTS operation here (GetCapabilities, GetTile, GetFeatureInfo)")));
    }
    let version = kvp.get("VERSION").ok_or_else(|| OgcError::missing("VERSION"))?;
    if version != "1.0.0" {
        return Err(OgcError::invalid("VERSION", format!("VERSION '{version}' is not supported; this server speaks WMTS 1.0.0")));
    }
    let get = |p: &str| kvp.get(p).ok_or_else(|| OgcError::missing(p));
    let address = TileAddress {
        layer: get("LAYER")?.to_string(),
        style: get("STYLE")?.to_string(),
        set: get("TILEMATRIXSET")?.to_string(),
        matrix: get("TILEMATRIX")?.to_string(),
        row: get("TILEROW")?.to_string(),
        col: get("TILECOL")?.to_string(),
    };
    if is_tile {
        let format_text = get("FORMAT")?;
        let format = ImageFormat::parse(format_text)
            .ok_or_else(|| OgcError::invalid("FORMAT", format!("FORMAT '{format_text}' is not offered; use image/png, image/jpeg or image/webp")))?;
        tile(s, headers, &address, format).await
    } else {
        let info_text = get("INFOFORMAT")?;
        let format = InfoFormat::parse(info_text)
            .ok_or_else(|| OgcError::invalid("INFOFORMAT", format!("INFOFORMAT '{info_text}' is not offered; use application/json, text/html or text/xml")))?;
        info(s, &address, get("I")?, get("J")?, format).await
    }
}

pub async fn rest_capabilities(State(s): State<AppState>, headers: HeaderMap) -> Response {
    crate::ogc::xml(capabilities(&s, &base_url(&headers)))
}

/// `/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{col}.{ext}`
pub async fn rest_tile(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((layer, style, set, matrix, row, file)): Path<(String, String, String, String, String, String)>,
) -> Response {
    let result = async {
        let (col, ext) = file.rsplit_once('.').ok_or_else(|| OgcError::invalid("TILECOL", format!("'{file}' must be {{TileCol}}.png, .jpg or .webp")))?;
        let format = ImageFormat::ALL
            .into_iter()
            .find(|f| f.extension() == ext || (ext == "jpeg" && *f == ImageFormat::Jpeg))
            .ok_or_else(|| OgcError::invalid("FORMAT", format!("tile format '.{ext}' is not offered; use .png, .jpg or .webp")))?;
        let address = TileAddress { layer, style, set, matrix, row, col: col.to_string() };
        tile(&s, &headers, &address, format).await
    }
    .await;
    result.unwrap_or_else(|e| e.ows_report())
}

/// The path segments of a RESTful GetFeatureInfo, in order.
type InfoPath = (String, String, String, String, String, String, String, String);

/// `/wmts/1.0.0/{layer}/{style}/{set}/{matrix}/{row}/{col}/{j}/{i}.{ext}`
pub async fn rest_info(State(s): State<AppState>, Path((layer, style, set, matrix, row, col, j, file)): Path<InfoPath>) -> Response {
    let result = async {
        let (i, ext) = file.rsplit_once('.').ok_or_else(|| OgcError::invalid("I", format!("'{file}' must be {{I}}.json, .html or .xml")))?;
        let format = InfoFormat::ALL
            .into_iter()
            .find(|f| f.extension() == ext)
            .ok_or_else(|| OgcError::invalid("INFOFORMAT", format!("feature info format '.{ext}' is not offered; use .json, .html or .xml")))?;
        info(&s, &TileAddress { layer, style, set, matrix, row, col }, i, &j, format).await
    }
    .await;
    result.unwrap_or_else(|e| e.ows_report())
}

struct TileAddress {
    layer: String,
    style: String,
    set: String,
    matrix: String,
    row: String,
    col: String,
}

struct Tile {
    set: TileMatrixSet,
    /// The set's index in `TileMatrixSet::all()`.
    set_index: u8,
    level: usize,
    row: u32,
    col: u32,
}

fn resolve(s: &AppState, a: &TileAddress) -> Result<Tile, OgcError> {
    if a.layer != BASEMAP && !s.renderer.map_layers(&*s.store).iter().any(|l| l.name == a.layer) {
        return Err(OgcError::invalid("LAYER", format!("layer '{}' is not served here; see GetCapabilities", a.layer)));
    }
    if !a.style.is_empty() && a.style != "default" {
        return Err(OgcError::invalid("STYLE", format!("style '{}' is not defined; the one style is 'default'", a.style)));
    }
    let set =
        TileMatrixSet::get(&a.set).ok_or_else(|| OgcError::invalid("TILEMATRIXSET", format!("tile matrix set '{}' is not offered; use GoogleMapsCompatible or TWD97", a.set)))?;
    let (level, m) =
        set.matrix(&a.matrix).ok_or_else(|| OgcError::invalid("TILEMATRIX", format!("tile matrix '{}' is not in {} (0–{})", a.matrix, set.id, set.matrices.len() - 1)))?;
    let index = |param: &str, v: &str, n: u32| -> Result<u32, OgcError> {
        let k: i64 = v.trim().parse().map_err(|_| OgcError::invalid(param, format!("{param} '{v}' is not a whole number")))?;
        if k < 0 || k >= n as i64 {
            return Err(OgcError::new("TileOutOfRange", param, format!("{param} {k} is outside tile matrix {} of {} (0–{})", m.id, set.id, n - 1)));
        }
        Ok(k as u32)
    };
    let row = index("TILEROW", &a.row, m.matrix_height)?;
    let col = index("TILECOL", &a.col, m.matrix_width)?;
    let set_index = TileMatrixSet::index_of(set.id).expect("a listed set") as u8;
    Ok(Tile { level, row, col, set, set_index })
}

async fn tile(s: &AppState, headers: &HeaderMap, a: &TileAddress, format: ImageFormat) -> Result<Response, OgcError> {
    let t = resolve(s, a)?;
    let key = TileKey::new(TileKind::Wmts { layer: a.layer.as_str().into(), set: t.set_index, format }, t.level as u8, t.col, t.row);
    let state = s.clone();
    let layer = a.layer.clone();
    // A tile's pixels are few; one that reads very many features (a low zoom over dense
    // layers) is heavy work.
    let map = formosa_encoders::wmts::tile_request(&t.set, t.level, t.row, t.col, &layer, format);
    let cost = || Cost { pixels: (TILE_SIZE * TILE_SIZE) as u64, features: s.renderer.features_to_draw(&*s.store, &map).unwrap_or(0) };
    let made = s
        .tiles
        .cached_or_made_as(key, cost, true, move || {
            let rasters = Rasters { elevation: &state.elevation, imagery: &state.imagery };
            formosa_encoders::wmts::render_tile(&state.renderer, &*state.store, rasters, &t.set, t.level, t.row, t.col, &layer, format).map_err(crate::problem::Problem::internal)
        })
        .await?;
    Ok(respond(&made, format.mime(), headers))
}

async fn info(s: &AppState, a: &TileAddress, i: &str, j: &str, format: InfoFormat) -> Result<Response, OgcError> {
    let t = resolve(s, a)?;
    let pixel = |param: &str, v: &str| -> Result<f64, OgcError> {
        let k: i64 = v.trim().parse().map_err(|_| OgcError::invalid(param, format!("{param} '{v}' is not a whole number")))?;
        if !(0..TILE_SIZE as i64).contains(&k) {
            return Err(OgcError::new("PointIJOutOfRange", param, format!("{param} {k} is outside the tile (0–{})", TILE_SIZE - 1)));
        }
        Ok(k as f64)
    };
    let (i, j) = (pixel("I", i)?, pixel("J", j)?);
    let targets = queried_layers(&s.renderer.map_layers(&*s.store), &a.layer, std::slice::from_ref(&a.layer), "LAYER")?;
    let view = t.set.tile_view(t.level, t.row, t.col);
    let state = s.clone();
    let results = render_blocking(&s.tiles, Work::cheap(BuildKind::FeatureInfo), move |_| {
        feature_info::query(&*state.store, &view, i, j, &targets, 10).map_err(|e| OgcError::internal(e.to_string()))
    })
    .await?;
    Ok(feature_info_response(format, &results))
}

fn capabilities(s: &AppState, base: &str) -> String {
    let all = s.renderer.map_layers(&*s.store);
    let basemap = s.renderer.basemap(&all);
    let kvp_url = escape_xml(&format!("{base}/wmts?"));
    let rest_url = escape_xml(&format!("{base}/wmts/1.0.0/"));
    let operation = |name: &str| {
        format!(
            "<ows:Operation name=\"{name}\"><ows:DCP><ows:HTTP>\
             <ows:Get xlink:href=\"{kvp_url}\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues><ows:Value>KVP</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get>\
             <ows:Get xlink:href=\"{rest_url}\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint></ows:Get>\
             </ows:HTTP></ows:DCP></ows:Operation>"
        )
    };
    let mut xml = String::with_capacity(64 * 1024);
    xml.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Capabilities xmlns=\"http://www.opengis.net/wmts/1.0\" xmlns:ows=\"http://www.opengis.net/ows/1.1\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:gml=\"http://www.opengis.net/gml\" \
         xsi:schemaLocation=\"http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd\" version=\"1.0.0\">\n\
         <ows:ServiceIdentification><ows:Title>Formosa 國家共通底圖 WMTS</ows:Title>\
         <ows:Abstract>Taiwan's common base map drawn from the same style as the vector tiles, in Web Mercator and TWD97 (NLSC's grid).</ows:Abstract>\
         <ows:ServiceType>OGC WMTS</ows:ServiceType><ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion><ows:Fees>none</ows:Fees><ows:AccessConstraints>none</ows:AccessConstraints>\
         </ows:ServiceIdentification>\n<ows:OperationsMetadata>{}{}{}</ows:OperationsMetadata>\n<Contents>\n",
        operation("GetCapabilities"),
        operation("GetTile"),
        operation("GetFeatureInfo"),
    ));
    for l in std::iter::once(&basemap).chain(all.iter()) {
        let bbox = l
            .extent
            .map(|e| {
                format!(
                    "<ows:WGS84BoundingBox><ows:LowerCorner>{} {}</ows:LowerCorner><ows:UpperCorner>{} {}</ows:UpperCorner></ows:WGS84BoundingBox>",
                    e.min_x, e.min_y, e.max_x, e.max_y
                )
            })
            .unwrap_or_default();
        let legend = escape_xml(&format!("{base}/wms?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png&LAYER={}", l.name));
        let name = escape_xml(&l.name);
        let formats: String = ImageFormat::ALL.iter().map(|f| format!("<Format>{}</Format>", f.mime())).collect();
        let queryable = l.queryable;
        let info_formats: String = if queryable { InfoFormat::ALL.iter().map(|f| format!("<InfoFormat>{}</InfoFormat>", f.mime())).collect() } else { String::new() };
        let links: String = TileMatrixSet::all().iter().map(|t| format!("<TileMatrixSetLink><TileMatrixSet>{}</TileMatrixSet></TileMatrixSetLink>", t.id)).collect();
        let mut urls: String = ImageFormat::ALL
            .iter()
            .map(|f| format!("<ResourceURL format=\"{}\" resourceType=\"tile\" template=\"{base_e}/wmts/1.0.0/{name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{}\"/>", f.mime(), f.extension(), base_e = escape_xml(base)))
            .collect();
        if queryable {
            for f in InfoFormat::ALL {
                urls.push_str(&format!(
                    "<ResourceURL format=\"{}\" resourceType=\"FeatureInfo\" template=\"{base_e}/wmts/1.0.0/{name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}/{{J}}/{{I}}.{}\"/>",
                    f.mime(),
                    f.extension(),
                    base_e = escape_xml(base)
                ));
            }
        }
        xml.push_str(&format!(
            "<Layer><ows:Title>{}</ows:Title>{bbox}<ows:Identifier>{name}</ows:Identifier>\
             <Style isDefault=\"true\"><ows:Identifier>default</ows:Identifier><LegendURL format=\"image/png\" xlink:href=\"{legend}\"/></Style>\
             {formats}{info_formats}{links}{urls}</Layer>\n",
            escape_xml(&l.title)
        ));
    }
    for t in TileMatrixSet::all() {
        xml.push_str(&format!("<TileMatrixSet><ows:Identifier>{}</ows:Identifier><ows:SupportedCRS>{}</ows:SupportedCRS>", t.id, t.crs_urn));
        if let Some(w) = t.well_known_scale_set {
            xml.push_str(&format!("<WellKnownScaleSet>{w}</WellKnownScaleSet>"));
        }
        for m in &t.matrices {
            xml.push_str(&format!(
                "<TileMatrix><ows:Identifier>{}</ows:Identifier><ScaleDenominator>{}</ScaleDenominator><TopLeftCorner>{} {}</TopLeftCorner>\
                 <TileWidth>{TILE_SIZE}</TileWidth><TileHeight>{TILE_SIZE}</TileHeight><MatrixWidth>{}</MatrixWidth><MatrixHeight>{}</MatrixHeight></TileMatrix>",
                m.id, m.scale_denominator, t.origin.0, t.origin.1, m.matrix_width, m.matrix_height
            ));
        }
        xml.push_str("</TileMatrixSet>\n");
    }
    xml.push_str(&format!("</Contents>\n<ServiceMetadataURL xlink:href=\"{rest_url}WMTSCapabilities.xml\"/>\n</Capabilities>\n"));
    xml
}
