//! What the OGC web services share (WMS 1.3.0 at `/wms`, WMTS 1.0.0 at `/wmts`, KVP and
//! REST; their handlers are `handlers/wms.rs` and `handlers/wmts.rs`): key-value-pair
//! requests, exception reports, drawing on the tile builders, and the layers a
//! GetFeatureInfo may query.

use crate::builders::{BuildError, Ticket, Work};
use crate::problem::Problem;
use crate::services::tiles::TileService;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use formosa_encoders::feature_info::{self, InfoFormat};
use formosa_encoders::render::{MapLayer, BASEMAP};
use formosa_store::Feature;

pub use formosa_encoders::markup::escape_xml;

/// A KVP request: parameter names are case-insensitive (OGC 06-121r3 §11.5.2), values not.
pub struct Kvp(Vec<(String, String)>);

impl Kvp {
    pub fn parse(query: Option<&str>) -> Kvp {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes()).map(|(k, v)| (k.to_ascii_uppercase(), v.into_owned())).collect();
        Kvp(pairs)
    }

    /// The value of `name` (the first one given), None when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An OGC exception: its code, the parameter it is about (the locator) and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct OgcError {
    pub code: &'static str,
    pub locator: Option<String>,
    pub text: String,
    /// For a refusal under load: answered at HTTP 503 with this `Retry-After` (seconds).
    pub retry_after: Option<u32>,
}

impl OgcError {
    pub fn new(code: &'static str, locator: &str, text: impl Into<String>) -> Self {
        OgcError { code, locator: (!locator.is_empty()).then(|| locator.to_string()), text: text.into(), retry_after: None }
    }

    pub fn missing(param: &str) -> Self {
        OgcError::new("MissingParameterValue", param, format!("parameter {param} is missing"))
    }

    pub fn invalid(param: &str, text: impl Into<String>) -> Self {
        OgcError::new("InvalidParameterValue", param, text)
    }

    pub fn internal(text: impl Into<String>) -> Self {
        OgcError::new("NoApplicableCode", "", text)
    }

    /// The server is too busy for the request now: NoApplicableCode at HTTP 503, with
    /// `Retry-After`, like the API's problem details.
    pub fn busy(text: impl Into<String>, retry_after_s: u32) -> Self {
        OgcError { retry_after: Some(retry_after_s), ..OgcError::internal(text) }
    }

    /// The HTTP status WMTS (OGC 07-057r7, table 28) gives the code; WMS follows it.
    /// Refusals under load are 503.
    pub fn status(&self) -> StatusCode {
        if self.retry_after.is_some() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self.code {
            "OperationNotSupported" => StatusCode::NOT_IMPLEMENTED,
            "NoApplicableCode" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// WMS 1.3.0 ServiceExceptionReport (exceptions_1_3_0.xsd).
    pub fn wms_report(&self) -> Response {
        let locator = self.locator.as_ref().map(|l| format!(" locator=\"{}\"", escape_xml(l))).unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/ogc http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n  \
             <ServiceException code=\"{}\"{locator}>{}</ServiceException>\n</ServiceExceptionReport>\n",
            self.code,
            escape_xml(&self.text)
        );
        self.answer(body)
    }

    /// OWS 1.1 ExceptionReport (owsExceptionReport.xsd), as WMTS answers.
    pub fn ows_report(&self) -> Response {
        let locator = self.locator.as_ref().map(|l| format!(" locator=\"{}\"", escape_xml(l))).unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ows:ExceptionReport xmlns:ows=\"http://www.opengis.net/ows/1.1\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd\" \
             version=\"1.0.0\" xml:lang=\"en\">\n  <ows:Exception exceptionCode=\"{}\"{locator}>\n    <ows:ExceptionText>{}</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n",
            self.code,
            escape_xml(&self.text)
        );
        self.answer(body)
    }

    fn answer(&self, body: String) -> Response {
        let mut r = (self.status(), [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        r
    }
}

/// Refusals under load are 503 with Retry-After; a failed build is the server's fault.
impl From<BuildError> for OgcError {
    fn from(e: BuildError) -> Self {
        match e.retry_after() {
            Some(s) => OgcError::busy(e.to_string(), s),
            None => OgcError::internal(e.to_string()),
        }
    }
}

/// A tile service's problem as an OGC exception: 503s stay 503s with their Retry-After.
impl From<Problem> for OgcError {
    fn from(p: Problem) -> Self {
        match p.retry_after {
            Some(s) if p.status == 503 => OgcError::busy(p.detail, s),
            _ => OgcError::internal(p.detail),
        }
    }
}

/// A capabilities document.
pub fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Parses "a,b,c,d" into four finite numbers.
pub fn parse_bbox(param: &str, v: &str) -> Result<[f64; 4], OgcError> {
    let parts: Vec<f64> = v
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| OgcError::invalid(param, format!("{param} '{v}' must be four numbers: minx,miny,maxx,maxy")))?;
    if parts.len() != 4 {
        return Err(OgcError::invalid(param, format!("{param} '{v}' must be four numbers: minx,miny,maxx,maxy (an optional fifth CRS is not supported)")));
    }
    Ok([parts[0], parts[1], parts[2], parts[3]])
}

/// A whole number parameter within `range`.
pub fn parse_int(param: &str, v: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, OgcError> {
    let n: i64 = v.trim().parse().map_err(|_| OgcError::invalid(param, format!("{param} '{v}' is not a whole number")))?;
    if !range.contains(&n) {
        return Err(OgcError::invalid(param, format!("{param} {n} is out of range ({}–{})", range.start(), range.end())));
    }
    Ok(n)
}

/// Draws on a tile builder as `work`, with OGC errors.
pub async fn render_blocking<T: Send + 'static>(tiles: &TileService, work: Work, f: impl FnOnce(&Ticket) -> Result<T, OgcError> + Send + 'static) -> Result<T, OgcError> {
    tiles.run(work, f).await?
}

/// The store layers to query among `known` (the map layers): each must be among the
/// map's layers and queryable; `basemap` stands for all its feature layers.
pub fn queried_layers(known: &[MapLayer], list: &str, map_layers: &[String], param: &str) -> Result<Vec<String>, OgcError> {
    let mut out = Vec::new();
    for q in list.split(',').map(str::trim) {
        if !map_layers.iter().any(|l| l == q || l == BASEMAP) {
            return Err(OgcError::new("LayerNotDefined", param, format!("layer '{q}' is not in LAYERS, so it cannot be queried")));
        }
        if q == BASEMAP {
            out.extend(known.iter().filter(|l| l.queryable).map(|l| l.name.clone()));
            continue;
        }
        match known.iter().find(|l| l.name == q) {
            Some(l) if l.queryable => out.push(l.name.clone()),
            Some(_) => return Err(OgcError::new("LayerNotQueryable", param, format!("layer '{q}' is an image (hillshade or imagery); it has no features to query"))),
            None => return Err(OgcError::new("LayerNotDefined", param, format!("layer '{q}' is not served here"))),
        }
    }
    out.dedup();
    Ok(out)
}

/// A GetFeatureInfo answer in the asked format.
pub fn feature_info_response(format: InfoFormat, results: &[(String, Vec<Feature>)]) -> Response {
    let (mime, body) = feature_info::document(format, results);
    ([(header::CONTENT_TYPE, mime)], body).into_response()
}
